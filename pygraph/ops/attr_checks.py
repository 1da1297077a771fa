"""Value checks on op attributes that need the node's inputs: an axis within the input's rank, a
permutation of the right length, a non-negative depth. Each is a registry row's `check(attrs, inputs,
outputs)`; Graph.create_op calls it after the types are checked, for built and imported nodes alike, so
the code generator can rely on what it reads. Raise AttrError (it names the op and attribute)."""

from __future__ import annotations

import math

from .attr_schema import AttrError

# number of data inputs per op type (None: variadic, checked by the op's own check)
# the output has the inputs' dtype (comparisons and logical ops: bool)
_MATH_UNARY = ("Neg", "Abs", "Square", "Sqrt", "Rsqrt", "Exp", "Log", "Log1p", "Expm1", "Reciprocal", "Floor",
               "Ceil", "Round", "Sign", "Relu", "Sigmoid", "Tanh", "Softplus", "Identity", "LogicalNot", "ZerosLike",
               "OnesLike")
_MATH_BINARY = ("Add", "Sub", "Mul", "RealDiv", "FloorDiv", "FloorMod", "Pow", "Maximum", "Minimum",
                "SquaredDifference", "Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual", "LogicalAnd",
                "LogicalOr")
_UNARY = _MATH_UNARY + ("Cast", "StopGradient", "PlaceholderWithDefault", "Shape", "Size", "Squeeze", "Unpack",
                        "MatrixInverse", "RandomUniform", "RandomStandardNormal", "TruncatedNormal")
_BINARY = _MATH_BINARY + (
           "SumToShape", "BroadcastLike", "Fill", "Reshape", "ExpandDims", "Tile", "MatMul", "BatchMatMul", "Transpose",
           "Sum",
           "Mean", "Max", "Min", "Prod", "ArgMax", "ArgMin", "Assign", "AssignAdd", "AssignSub", "ScalarSummary",
           "HistogramSummary")
ARITY = {**{t: 1 for t in _UNARY}, **{t: 2 for t in _BINARY},
         "Select": 3, "Range": 3, "GatherV2": 3, "RandomUniformInt": 3, "StridedSlice": 4, "OneHot": 4,
         "Const": 0, "Placeholder": 0, "VariableV2": 0, "NoOp": 0, "AddN": None, "ConcatV2": None, "Pack": None,
         "MergeSummary": None, "RandomShuffle": 1, "Switch": 2, "Merge": 2, "Split": 2, "SplitV": 3}
# number of outputs of the ops that have other than one (NoOp: 0, Unpack: its `num` attr; N_OUTPUTS: `N`)
OUTPUTS = {"Switch": 2, "Merge": 2}


def _rank(t):
    return t.shape.ndims


def _axis(value, rank, what, extra=0):
    """value within [-(rank+extra), rank+extra) when the rank is known."""
    if rank is not None and not -(rank + extra) <= value < rank + extra:
        raise AttrError(f"attr {what!r} = {value} is out of range for an input of rank {rank} (expected "
                        f"[{-(rank + extra)}, {rank + extra}))")


def _non_negative(values, what):
    for v in values:
        if v < 0:
            raise AttrError(f"attr {what!r} must hold values >= 0, got {list(values)}")


_COMPARISONS = ("Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual", "LogicalAnd", "LogicalOr",
                "LogicalNot")
# op type -> (attr naming the output dtype, indices of inputs of that dtype; None: all inputs)
_TYPED = {**{t: ("T", (0,)) for t in ("StopGradient", "SumToShape", "BroadcastLike", "Reshape", "ExpandDims",
                                      "Squeeze", "Unpack", "Tile", "MatrixInverse", "Transpose", "Sum", "Mean",
                                      "Max", "Min", "Prod", "StridedSlice")},
          "MatMul": ("T", (0, 1)), "BatchMatMul": ("T", (0, 1)), "Fill": ("T", (1,)), "OneHot": ("T", (2, 3)),
          "GatherV2": ("Tparams", (0,)), "Split": ("T", (1,)), "SplitV": ("T", (0,)),
          "ConcatV2": ("T", "values"), "Pack": ("T", None), "Cast": ("DstT", ()), "ArgMax": ("output_type", ()),
          "ArgMin": ("output_type", ()), "Shape": ("out_type", ()), "Size": ("out_type", ()), "Range": ("Tidx", ()),
          "RandomUniform": ("dtype", ()), "RandomStandardNormal": ("dtype", ()), "TruncatedNormal": ("dtype", ()),
          "RandomUniformInt": ("Tout", (1, 2)), "Const": ("dtype", ()), "Placeholder": ("dtype", ()),
          "VariableV2": ("dtype", ()),
          **{t: ("T", ins) for t, ins in (("Conv2D", (0, 1)), ("Conv2DBackpropInput", (1, 2)),
                                          ("Conv2DBackpropFilter", (0, 2)), ("MaxPool", (0,)), ("AvgPool", (0,)),
                                          ("MaxPoolGrad", (0, 1, 2)), ("AvgPoolGrad", (1,)))}}


_SAME_DTYPE = frozenset(("Assign", "AssignAdd", "AssignSub", "AddN", "Select", "PlaceholderWithDefault")
                        + _MATH_BINARY + _MATH_UNARY)


def check_dtypes(op_type, inputs, outputs, attrs):
    """Output (and input) dtypes agree with the op's type attributes, or with its inputs for the elementwise
    ops that have none: a file cannot make a kernel read a float buffer as int32."""
    if op_type == "Cast" and inputs and inputs[0].dtype != attrs["SrcT"]:
        raise AttrError(f"input {inputs[0].name} has dtype {inputs[0].dtype.name}, but attr 'SrcT' is "
                        f"{attrs['SrcT'].name}")
    if op_type in _TYPED:
        attr, which = _TYPED[op_type]
        dtype = attrs[attr]
        picked = inputs if which is None else inputs[:-1] if which == "values" else [inputs[k] for k in which]
        for t in picked:
            if t.dtype != dtype:
                raise AttrError(f"input {t.name} has dtype {t.dtype.name}, but attr {attr!r} is {dtype.name}")
        for dt, _ in outputs:
            if dt != dtype:
                raise AttrError(f"output dtype {dt.name} differs from attr {attr!r} = {dtype.name}")
        return
    if op_type in _SAME_DTYPE and inputs and outputs:
        data = inputs[1:] if op_type == "Select" else inputs
        if op_type == "Select" and inputs[0].dtype.name != "bool":
            raise AttrError(f"Select's condition has dtype {inputs[0].dtype.name}, not bool")
        first = data[0].dtype
        for t in data:
            if t.dtype != first:
                raise AttrError(f"inputs of {op_type} have different dtypes ({first.name}, {t.dtype.name})")
        want = "bool" if op_type in _COMPARISONS else first.name
        if outputs[0][0].name != want:
            raise AttrError(f"output dtype {outputs[0][0].name} should be {want} for inputs of dtype {first.name}")


# ops with one output per input, N of each (pygraph.distribute's bucketed collectives)
N_OUTPUTS = {"PgAllreduce", "PgBroadcast"}


def check_arity(op_type, inputs, outputs, attrs):
    n = ARITY.get(op_type, -1)
    if n is not None and n >= 0 and len(inputs) != n:
        raise AttrError(f"{op_type} takes {n} input(s), got {len(inputs)}")
    expected = 0 if op_type == "NoOp" else attrs.get("num") if op_type == "Unpack" else \
        attrs.get("num_split") if op_type in ("Split", "SplitV") else \
        attrs.get("N") if op_type in N_OUTPUTS else OUTPUTS.get(op_type, 1)
    if len(outputs) != expected:
        raise AttrError(f"{op_type} has {expected} output(s), got {len(outputs)}")


def allowed_dtypes(allowed):
    """A check for the math ops: their inputs have one of the dtypes the op function accepts (a Sqrt of
    int32 would not compile, or compute something else)."""

    def check(attrs, inputs, outputs):
        for t in inputs:
            if t.dtype not in allowed:
                raise AttrError(f"input {t.name} has dtype {t.dtype.name}, not one of "
                                f"{', '.join(d.name for d in allowed)}")

    return check


def fill(attrs, inputs, outputs):
    if attrs.get("shape") is not None:
        _non_negative(attrs["shape"], "shape")


def _const_value(t):
    """The value of a Const-produced tensor as nested Python lists/numbers, else None."""
    if t.op.type != "Const":
        return None
    return t.op.attrs["value"].tolist()


# op type -> (input index, attr): code generation reads the attr, the op's meaning reads the input; when the
# attr is set the input must be a constant holding the same value (a file cannot make them disagree)
_MIRRORED = {"Tile": (1, "multiples"), "Reshape": (1, "shape"), "Transpose": (1, "perm"), "ExpandDims": (1, "axis"),
             "ConcatV2": (-1, "axis"), "Split": (0, "axis"), "SplitV": (2, "axis"),
             "GatherV2": (2, "axis"), "OneHot": (1, "depth"), "Fill": (0, "shape"),
             "ArgMax": (1, "axis"), "ArgMin": (1, "axis"), "RandomUniform": (0, "shape"),
             "RandomStandardNormal": (0, "shape"), "TruncatedNormal": (0, "shape"), "RandomUniformInt": (0, "shape"),
             "Conv2DBackpropInput": (0, "input_sizes"), "Conv2DBackpropFilter": (1, "filter_sizes"),
             "AvgPoolGrad": (0, "orig_input_shape"), **{t: (1, "axis") for t in ("Sum", "Mean", "Max", "Min", "Prod")}}


def check_mirrored(op_type, inputs, attrs):
    if op_type not in _MIRRORED:
        return
    index, attr = _MIRRORED[op_type]
    expected = attrs.get(attr)
    if expected is None:
        return
    value = _const_value(inputs[index])
    expected = list(expected) if isinstance(expected, tuple) else expected
    if op_type in ("Sum", "Mean", "Max", "Min", "Prod") and isinstance(value, int):
        value = [value]
    if value != expected:
        raise AttrError(f"attr {attr!r} = {expected} but input {inputs[index].name} holds "
                        f"{'a computed value' if value is None else value}; they must agree")


def range_(attrs, inputs, outputs):
    _non_negative([attrs["size"]], "size")
    a, c, n, dtype = attrs["start"], attrs["delta"], attrs["size"], attrs["Tidx"]
    if dtype.is_integer and not (type(a) is int and type(c) is int):
        raise AttrError(f"attrs 'start' and 'delta' must be ints for a {dtype.name} range")
    values = [_const_value(t) for t in inputs]
    if any(not isinstance(v, (int, float)) or isinstance(v, bool) for v in values) or values[2] == 0:
        raise AttrError("Range needs constant start, limit and nonzero delta inputs")
    b = values[1]
    size = (abs(b - a) + abs(c) - 1) // abs(c) if dtype.is_integer else math.ceil(abs((b - a) / c))
    if [values[0], values[2]] != [a, c] or (c > 0 and a > b) or (c < 0 and a < b) or n != size:
        raise AttrError(f"attrs start={a}, delta={c}, size={n} do not describe the range of inputs {values}")
    if outputs[0][1].as_tuple() != (n,):
        raise AttrError(f"output shape {outputs[0][1]} should be [{n}]")


def const(attrs, inputs, outputs):
    value, dtype = attrs["value"], attrs["dtype"]
    kind_ok = value.dtype.kind == "O" if dtype.name == "string" else value.dtype == dtype.np
    if not kind_ok:
        raise AttrError(f"attr 'value' holds {value.dtype} values, but attr 'dtype' is {dtype.name}")
    shape = outputs[0][1]
    if shape.as_tuple() != value.shape:
        raise AttrError(f"attr 'value' has shape {list(value.shape)}, but the output's shape is {shape}")


def placeholder(attrs, inputs, outputs):
    shape = attrs.get("shape")
    if shape is not None and not shape.is_compatible_with(outputs[0][1]):
        raise AttrError(f"attr 'shape' {shape} does not match the output's shape {outputs[0][1]}")


def reshape(attrs, inputs, outputs):
    shape = attrs.get("shape")
    if shape is None:
        return
    if any(d < -1 for d in shape) or list(shape).count(-1) > 1:
        raise AttrError(f"attr 'shape' = {list(shape)}: dimensions must be >= 0, with at most one -1")


def expand_dims(attrs, inputs, outputs):
    _axis(attrs["axis"], _rank(inputs[0]), "axis", extra=1)


def squeeze(attrs, inputs, outputs):
    for a in attrs["squeeze_dims"]:
        _axis(a, _rank(inputs[0]), "squeeze_dims")


def concat(attrs, inputs, outputs):
    if not inputs or attrs["N"] != len(inputs) - 1 or attrs["N"] < 1:
        raise AttrError(f"attr 'N' = {attrs['N']} does not match the {len(inputs) - 1} values given")
    _axis(attrs["axis"], _rank(inputs[0]), "axis")


def pack(attrs, inputs, outputs):
    if attrs["N"] != len(inputs) or attrs["N"] < 1:
        raise AttrError(f"attr 'N' = {attrs['N']} does not match the {len(inputs)} values given")
    _axis(attrs["axis"], _rank(inputs[0]), "axis", extra=1)


def unpack(attrs, inputs, outputs):
    _non_negative([attrs["num"]], "num")
    rank = _rank(inputs[0])
    if rank == 0:
        raise AttrError("Unpack needs an input of rank >= 1")
    _axis(attrs["axis"], rank, "axis")


def split(attrs, inputs, outputs):
    n = attrs["num_split"]
    if n < 1:
        raise AttrError(f"attr 'num_split' = {n} must be >= 1")
    _axis(attrs["axis"], _rank(inputs[1 if len(inputs) == 2 else 0]), "axis")
    if len(inputs) == 3:
        sizes = attrs["size_splits"]
        if len(sizes) != n:
            raise AttrError(f"attr 'size_splits' = {list(sizes)} does not hold num_split = {n} sizes")
        _non_negative(sizes, "size_splits")
        value = _const_value(inputs[1])
        if value != list(sizes):
            raise AttrError(f"attr 'size_splits' = {list(sizes)} but input {inputs[1].name} holds "
                            f"{'a computed value' if value is None else value}; they must agree")


def tile(attrs, inputs, outputs):
    m = attrs["multiples"]
    _non_negative(m, "multiples")
    rank = _rank(inputs[0])
    if rank is not None and len(m) != rank:
        raise AttrError(f"attr 'multiples' has {len(m)} entries for an input of rank {rank}")


def matmul(attrs, inputs, outputs):
    for t in inputs:
        if _rank(t) not in (None, 2):
            raise AttrError(f"MatMul needs rank-2 inputs, got rank {_rank(t)}")


def rank_2(attrs, inputs, outputs):
    if _rank(inputs[0]) not in (None, 2):
        raise AttrError(f"needs a rank-2 input, got rank {_rank(inputs[0])}")


def rank_at_least_2(attrs, inputs, outputs):
    if _rank(inputs[0]) is not None and _rank(inputs[0]) < 2:
        raise AttrError(f"needs an input of rank >= 2, got rank {_rank(inputs[0])}")


def batch_matmul(attrs, inputs, outputs):
    ranks = [_rank(t) for t in inputs]
    known = {r for r in ranks if r is not None}  # unknown ranks are checked by codegen, once fed
    if len(ranks) != 2 or len(known) > 1 or min(known, default=3) < 3:
        raise AttrError(f"BatchMatMul needs two inputs of the same rank >= 3, got ranks {ranks}")


def transpose(attrs, inputs, outputs):
    perm = list(attrs["perm"])
    rank = _rank(inputs[0])
    n = len(perm) if rank is None else rank
    if sorted(perm) != list(range(n)) or (rank is None and not perm):
        raise AttrError(f"attr 'perm' = {perm} is not a permutation of 0..{n - 1}")


def reduce(attrs, inputs, outputs):
    axes = attrs.get("axis")
    if axes is None:
        return
    rank = _rank(inputs[0])
    for a in axes:
        _axis(a, rank, "axis")
    if rank is not None and len({a % rank for a in axes}) != len(axes):
        raise AttrError(f"attr 'axis' = {list(axes)} names an axis twice")


def arg_reduce(attrs, inputs, outputs):
    rank = _rank(inputs[0])
    if rank == 0:
        raise AttrError("needs an input of rank >= 1")
    _axis(attrs["axis"], rank, "axis")


def strided_slice(attrs, inputs, outputs):
    """The spec names every input axis once, in order (the k-th index or range item is axis k)."""
    rank = _rank(inputs[0])
    axes = [item[-1] for item in attrs["spec"] if item[0] != "new"]
    if axes != list(range(len(axes))) or (rank is not None and len(axes) != rank):
        raise AttrError(f"attr 'spec' names axes {axes}; a slice of a rank-{rank} input names each of its axes "
                        "once, in order")


def gather(attrs, inputs, outputs):
    _axis(attrs["axis"], _rank(inputs[0]), "axis")


def one_hot(attrs, inputs, outputs):
    _non_negative([attrs["depth"]], "depth")
    rank = _rank(inputs[0])
    axis = attrs["axis"]
    if axis != -1 and (axis < 0 or (rank is not None and axis > rank)):
        raise AttrError(f"attr 'axis' = {axis}: expected -1 or a value in [0, {rank}]")


def random(attrs, inputs, outputs):
    if attrs.get("shape") is not None:
        _non_negative(attrs["shape"], "shape")
