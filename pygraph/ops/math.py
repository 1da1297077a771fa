"""Elementwise math: the fused-loop op family, its builders and Tensor's Python operators."""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..graph import Tensor
from ..shape import TensorShape, broadcast_static
from . import attr_checks, registry
from .core import check_dtype, convert_to_tensor, fmt_shape, make_op, op_scope

F = (dtypes.float32, dtypes.float64)
INTS = (dtypes.int32, dtypes.int64)
NUM = F + INTS
B = (dtypes.bool_,)
ALL = NUM + B


def _np_floordiv(a, b):
    """TF's FloorDiv: floor(x / y) for floats (1 // 0.1 is 10; numpy's floor_divide gives 9)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if np.result_type(a, b).kind == "f":
            return np.floor(np.true_divide(a, b))
        return np.floor_divide(a, b)


def _np_sigmoid(a):
    with np.errstate(over="ignore"):
        return (1 / (1 + np.exp(-a))).astype(a.dtype)


# op type -> (allowed input dtypes, output is bool, numpy reference)
BINARY = {
    "Add": (NUM, False, np.add),
    "Sub": (NUM, False, np.subtract),
    "Mul": (NUM, False, np.multiply),
    "RealDiv": (F, False, np.true_divide),
    "FloorDiv": (NUM, False, _np_floordiv),
    "FloorMod": (NUM, False, np.mod),
    "Pow": (NUM, False, np.power),
    "Maximum": (NUM, False, np.maximum),
    "Minimum": (NUM, False, np.minimum),
    "SquaredDifference": (NUM, False, lambda a, b: np.square(a - b)),
    "Equal": (ALL, True, np.equal),
    "NotEqual": (ALL, True, np.not_equal),
    "Less": (NUM, True, np.less),
    "LessEqual": (NUM, True, np.less_equal),
    "Greater": (NUM, True, np.greater),
    "GreaterEqual": (NUM, True, np.greater_equal),
    "LogicalAnd": (B, True, np.logical_and),
    "LogicalOr": (B, True, np.logical_or),
}

UNARY = {
    "Neg": (NUM, np.negative),
    "Abs": (NUM, np.abs),
    "Square": (NUM, np.square),
    "Sqrt": (F, np.sqrt),
    "Rsqrt": (F, lambda a: (1 / np.sqrt(a)).astype(a.dtype)),
    "Exp": (F, np.exp),
    "Log": (F, np.log),
    "Log1p": (F, np.log1p),
    "Expm1": (F, np.expm1),
    "Reciprocal": (F, lambda a: (1 / a).astype(a.dtype)),
    "Floor": (F, np.floor),
    "Ceil": (F, np.ceil),
    "Round": (F, np.round),  # half to even, as TF
    "Sign": (NUM, np.sign),
    "Relu": (NUM, lambda a: np.maximum(a, 0).astype(a.dtype)),
    "Sigmoid": (F, _np_sigmoid),
    "Tanh": (F, np.tanh),
    "Softplus": (F, lambda a: np.logaddexp(0, a).astype(a.dtype)),
    "Identity": (ALL + (dtypes.string,), lambda a: a),
    "LogicalNot": (B, np.logical_not),
    "ZerosLike": (ALL, np.zeros_like),
    "OnesLike": (ALL, np.ones_like),
}

for _t, (_allowed, _b, _fn) in BINARY.items():
    registry.register(_t, registry.ELEMENTWISE, numpy=_fn, attrs={}, check=attr_checks.allowed_dtypes(_allowed))
for _t, (_allowed, _fn) in UNARY.items():
    registry.register(_t, registry.ELEMENTWISE, numpy=_fn, attrs={}, check=attr_checks.allowed_dtypes(_allowed))
registry.register("Cast", registry.ELEMENTWISE, numpy=lambda a, op: a.astype(op.attrs["DstT"].np),
                  attrs={"SrcT": "type", "DstT": "type"})
registry.register("Select", registry.ELEMENTWISE, numpy=np.where, attrs={})
registry.register("AddN", registry.ELEMENTWISE, numpy=lambda *xs: sum(xs[1:], xs[0]), attrs={})


def broadcast_shape(op_type, name, shapes):
    out = TensorShape(())
    for s in shapes:
        b = broadcast_static(out, s)
        if b is None:
            a_dims, b_dims = out.as_tuple(), s.as_tuple()
            n = max(len(a_dims), len(b_dims))
            a_dims = (1,) * (n - len(a_dims)) + a_dims
            b_dims = (1,) * (n - len(b_dims)) + b_dims
            bad = next((x, y) for x, y in zip(a_dims, b_dims) if x not in (1, None) and y not in (1, None)
                       and x != y)
            listed = ", ".join(fmt_shape(x) for x in shapes)
            raise ValueError(f"Dimensions must be equal, but are {bad[0]} and {bad[1]} for '{name}' "
                             f"(op: '{op_type}') with input shapes: {listed}.")
        out = b
    return out


def _same_dtype(op_type, tensors, params):
    first = tensors[0]
    for t, p in zip(tensors[1:], params[1:]):
        if t.dtype is not first.dtype:
            raise TypeError(f"Input '{p}' of '{op_type}' Op has type {t.dtype.name} that does not match type "
                            f"{first.dtype.name} of argument '{params[0]}'.")


def _convert_pair(x, y):
    """Convert (x, y) like TF's op helper: the first tensor's dtype decides the Python value's type."""
    ref = x if isinstance(x, Tensor) or hasattr(x, "_as_tensor") else y
    ref_dtype = convert_to_tensor(ref).dtype if isinstance(ref, Tensor) or hasattr(ref, "_as_tensor") else None
    x = convert_to_tensor(x, dtype=None if isinstance(x, Tensor) or hasattr(x, "_as_tensor") else ref_dtype,
                          name="x")
    y = convert_to_tensor(y, dtype=None if isinstance(y, Tensor) or hasattr(y, "_as_tensor") else x.dtype,
                          name="y")
    return x, y


def binary(op_type, x, y, name=None, default_name=None, converted=False):
    allowed, out_bool, _ = BINARY[op_type]
    with op_scope(name, default_name or op_type, [x, y]) as scope:
        if not converted:
            x, y = _convert_pair(x, y)
        _same_dtype(op_type, [x, y], ["x", "y"])
        check_dtype("x", x.dtype, allowed, op_type)
        shape = broadcast_shape(op_type, scope[:-1], [x.shape, y.shape])
        out_dtype = dtypes.bool_ if out_bool else x.dtype
        return make_op(op_type, [x, y], [(out_dtype, shape)], scope).outputs[0]


def unary(op_type, x, name=None, default_name=None):
    allowed, _ = UNARY[op_type]
    with op_scope(name, default_name or op_type, [x]) as scope:
        x = convert_to_tensor(x, name="x")
        check_dtype("x", x.dtype, allowed, op_type)
        return make_op(op_type, [x], [(x.dtype, x.shape)], scope).outputs[0]


# -- public API (tf.*)
def add(x, y, name=None):
    return binary("Add", x, y, name, "Add")


def subtract(x, y, name=None):
    return binary("Sub", x, y, name, "Sub")


def multiply(x, y, name=None):
    return binary("Mul", x, y, name, "Mul")


def _int_to_float(t):
    return cast(t, dtypes.float64) if t.dtype.is_integer else t


def truediv(x, y, name=None):
    """x / y; integers are first cast to float64, as TF's truediv does."""
    with op_scope(name, "truediv", [x, y]) as scope:
        x, y = _convert_pair(x, y)
        _same_dtype("RealDiv", [x, y], ["x", "y"])
        return binary("RealDiv", _int_to_float(x), _int_to_float(y), scope, converted=True)


def divide(x, y, name=None):
    return truediv(x, y, name=name or "truediv")


def realdiv(x, y, name=None):
    return binary("RealDiv", x, y, name, "RealDiv")


def floordiv(x, y, name=None):
    return binary("FloorDiv", x, y, name, "floordiv")


def div(x, y, name=None):
    """TF1's tf.div: Python 2 division (floor for integers)."""
    with op_scope(name, "div", [x, y]) as scope:
        x, y = _convert_pair(x, y)
        op = "FloorDiv" if x.dtype.is_integer else "RealDiv"
        return binary(op, x, y, scope, converted=True)


def floormod(x, y, name=None):
    return binary("FloorMod", x, y, name, "FloorMod")


mod = floormod


def pow(x, y, name=None):  # noqa: A001 (TF's name)
    return binary("Pow", x, y, name, "Pow")


def maximum(x, y, name=None):
    return binary("Maximum", x, y, name, "Maximum")


def minimum(x, y, name=None):
    return binary("Minimum", x, y, name, "Minimum")


def squared_difference(x, y, name=None):
    return binary("SquaredDifference", x, y, name, "SquaredDifference")


def equal(x, y, name=None):
    return binary("Equal", x, y, name, "Equal")


def not_equal(x, y, name=None):
    return binary("NotEqual", x, y, name, "NotEqual")


def less(x, y, name=None):
    return binary("Less", x, y, name, "Less")


def less_equal(x, y, name=None):
    return binary("LessEqual", x, y, name, "LessEqual")


def greater(x, y, name=None):
    return binary("Greater", x, y, name, "Greater")


def greater_equal(x, y, name=None):
    return binary("GreaterEqual", x, y, name, "GreaterEqual")


def logical_and(x, y, name=None):
    return binary("LogicalAnd", x, y, name, "LogicalAnd")


def logical_or(x, y, name=None):
    return binary("LogicalOr", x, y, name, "LogicalOr")


def logical_not(x, name=None):
    return unary("LogicalNot", x, name, "LogicalNot")


def logical_xor(x, y, name="LogicalXor"):
    with op_scope(name, "LogicalXor", [x, y]) as scope:
        return logical_and(logical_or(x, y), logical_not(logical_and(x, y)), name=scope)


def _unary_fn(op_type, default):
    def fn(x, name=None):
        return unary(op_type, x, name, default)

    fn.__name__ = default.lower()
    fn.__doc__ = f"tf.{default.lower()}: elementwise {op_type}."
    return fn


negative = _unary_fn("Neg", "Neg")
abs = _unary_fn("Abs", "Abs")  # noqa: A001
square = _unary_fn("Square", "Square")
sqrt = _unary_fn("Sqrt", "Sqrt")
rsqrt = _unary_fn("Rsqrt", "Rsqrt")
exp = _unary_fn("Exp", "Exp")
log = _unary_fn("Log", "Log")
log1p = _unary_fn("Log1p", "Log1p")
expm1 = _unary_fn("Expm1", "Expm1")
reciprocal = _unary_fn("Reciprocal", "Reciprocal")
floor = _unary_fn("Floor", "Floor")
ceil = _unary_fn("Ceil", "Ceil")
round = _unary_fn("Round", "Round")  # noqa: A001
sign = _unary_fn("Sign", "Sign")
relu = _unary_fn("Relu", "Relu")
sigmoid = _unary_fn("Sigmoid", "Sigmoid")
tanh = _unary_fn("Tanh", "Tanh")
softplus = _unary_fn("Softplus", "Softplus")


def identity(input, name=None):  # noqa: A002
    return unary("Identity", input, name, "Identity")


def zeros_like(tensor, dtype=None, name=None, optimize=True):
    with op_scope(name, "zeros_like", [tensor]) as scope:
        t = convert_to_tensor(tensor, name="tensor")
        if dtype is not None and dtypes.as_dtype(dtype) is not t.dtype:
            t = cast(t, dtype)
        return make_op("ZerosLike", [t], [(t.dtype, t.shape)], scope).outputs[0]


def ones_like(tensor, dtype=None, name=None, optimize=True):
    with op_scope(name, "ones_like", [tensor]) as scope:
        t = convert_to_tensor(tensor, name="tensor")
        if dtype is not None and dtypes.as_dtype(dtype) is not t.dtype:
            t = cast(t, dtype)
        return make_op("OnesLike", [t], [(t.dtype, t.shape)], scope).outputs[0]


def cast(x, dtype, name=None):
    dtype = dtypes.as_dtype(dtype)
    with op_scope(name, "Cast", [x]) as scope:
        x = convert_to_tensor(x, name="x")
        if x.dtype is dtype:
            return x
        if not (x.dtype.is_compiled and dtype.is_compiled):
            raise TypeError(f"Cast from {x.dtype.name} to {dtype.name} is not supported.")
        return make_op("Cast", [x], [(dtype, x.shape)], scope, {"SrcT": x.dtype, "DstT": dtype}).outputs[0]


def to_float(x, name="ToFloat"):
    return cast(x, dtypes.float32, name)


def to_double(x, name="ToDouble"):
    return cast(x, dtypes.float64, name)


def to_int32(x, name="ToInt32"):
    return cast(x, dtypes.int32, name)


def to_int64(x, name="ToInt64"):
    return cast(x, dtypes.int64, name)


def where(condition, x=None, y=None, name=None):
    """tf.where(cond, x, y): elementwise select (a rank-1 condition picks rows, as in TF1)."""
    if x is None or y is None:
        raise NotImplementedError("tf.where with only a condition (coordinates of true elements) is not "
                                  "supported yet: it has a data-dependent output shape.")
    with op_scope(name, "Select", [condition, x, y]) as scope:
        c = convert_to_tensor(condition, dtype=dtypes.bool_, name="condition")
        x, y = _convert_pair(x, y)
        _same_dtype("Select", [x, y], ["t", "e"])
        if c.shape.ndims == 1 and x.shape.ndims and x.shape.ndims > 1:
            from .array import reshape

            c = reshape(c, [-1] + [1] * (x.shape.ndims - 1))
        shape = broadcast_shape("Select", scope[:-1], [c.shape, x.shape, y.shape])
        return make_op("Select", [c, x, y], [(x.dtype, shape)], scope).outputs[0]


def add_n(inputs, name=None):
    if not inputs or not isinstance(inputs, (list, tuple)):
        raise ValueError("inputs must be a list of at least one Tensor/IndexedSlices with the same dtype "
                         "and shape")
    with op_scope(name, "AddN", inputs) as scope:
        ts = [convert_to_tensor(t) for t in inputs]
        _same_dtype("AddN", ts, ["inputs"] * len(ts))
        check_dtype("inputs", ts[0].dtype, NUM, "AddN")
        shape = ts[0].shape
        for t in ts[1:]:
            if not shape.is_compatible_with(t.shape):
                raise ValueError(f"Shapes must be equal rank, but are {fmt_shape(shape)} and "
                                 f"{fmt_shape(t.shape)} for '{scope[:-1]}' (op: 'AddN').")
            shape = shape.merge_with(t.shape)
        if len(ts) == 1:
            return identity(ts[0], name=scope)
        return make_op("AddN", ts, [(ts[0].dtype, shape)], scope).outputs[0]


# -- Python operators on Tensor (TF1's binary_op_wrapper naming: add, sub, mul, truediv, ...)
def _operator(fn, scope_name, reverse=False):
    def op(self, other):
        with op_scope(None, scope_name, [self, other]) as scope:
            if reverse:
                x = convert_to_tensor(other, dtype=_dtype_of(self), name="x")
                return fn(x, self, name=scope)
            y = convert_to_tensor(other, dtype=_dtype_of(self), name="y")
            return fn(self, y, name=scope)

    return op


def _dtype_of(t):
    return convert_to_tensor(t).dtype


def _neg(self):
    return negative(self, name="Neg")


def _abs(self):
    return abs(self, name="Abs")


def install_operators(cls):
    table = {
        "add": (add, "add"), "sub": (subtract, "sub"), "mul": (multiply, "mul"),
        "truediv": (truediv, "truediv"), "floordiv": (floordiv, "floordiv"), "mod": (floormod, "mod"),
        "pow": (pow, "pow"),
    }
    for key, (fn, scope) in table.items():
        setattr(cls, f"__{key}__", _operator(fn, scope))
        setattr(cls, f"__r{key}__", _operator(fn, scope, reverse=True))
    for key, fn in {"lt": less, "le": less_equal, "gt": greater, "ge": greater_equal,
                    "and": logical_and, "or": logical_or}.items():
        scope = {"and": "LogicalAnd", "or": "LogicalOr"}.get(key, fn.__name__.title().replace("_", ""))
        setattr(cls, f"__{key}__", _operator(fn, scope))
    cls.__rand__ = _operator(logical_and, "LogicalAnd", reverse=True)
    cls.__ror__ = _operator(logical_or, "LogicalOr", reverse=True)
    cls.__invert__ = lambda self: logical_not(self)
    cls.__neg__ = _neg
    cls.__abs__ = _abs
    cls.__matmul__ = lambda self, other: _matmul()(self, other)
    cls.__rmatmul__ = lambda self, other: _matmul()(other, self)
    cls.__getitem__ = lambda self, key: _getitem()(self, key)


def _matmul():
    from . import linalg

    return linalg.matmul


def _getitem():
    from . import array

    return array.strided_slice_getitem


install_operators(Tensor)
