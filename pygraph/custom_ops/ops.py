"""A loaded custom op as pygraph sees it: a registry row (attr schema from its REGISTER_OP spec, a check of
input and output dtypes, attr constraints and kernel availability), a code-generation emitter, and the
Python function that builds its nodes, running the library's shape function as TF does at construction."""

from __future__ import annotations

from dataclasses import dataclass

from .. import dtypes, errors
from ..ops import attr_checks, attr_schema, registry
from ..ops.core import check_dtype, convert_to_tensor, make_op, op_scope
from ..shape import TensorShape
from . import abi


@dataclass
class CustomOp:
    spec: object  # spec.OpSpec
    op_def: int  # address of its pg_op_def
    shape_fn: int | None  # address of its shape function (None: outputs of unknown shape)
    kernels: list  # [(type attr or "", pg dtype code)]
    library: str  # path of the library
    digest: str


CUSTOM = {}  # op type -> CustomOp
_DTYPE_OF_CODE = {code: dt for dt, code in abi.PG_CODES.items()}


def check_new(spec, library):
    row = registry.REGISTRY.get(spec.name)
    if spec.name in CUSTOM or (row is not None and row.attrs is not None):
        raise errors.AlreadyExistsError(None, None, f"{library}: op type {spec.name!r} is already registered"
                       + (f" (by {CUSTOM[spec.name].library})" if spec.name in CUSTOM else " (a pygraph op)"))


def _schema(spec):
    return {name: ("?" if a.has_default and a.default is None else "") + a.type for name, a in spec.attrs.items()}


def _check(info):
    spec = info.spec

    def check(attrs, inputs, outputs):
        for name, a in spec.attrs.items():
            v = attrs[name]
            if a.allowed and v not in a.allowed:
                shown = ", ".join(x.name if isinstance(x, dtypes.DType) else repr(x) for x in a.allowed)
                got = v.name if isinstance(v, dtypes.DType) else repr(v)
                raise attr_schema.AttrError(f"attr {name!r} = {got} is not in the list of allowed values: {shown}")
            below = _below_minimum(spec, name, a, v)
            if below:
                raise attr_schema.AttrError(below)
        if len(inputs) != len(spec.inputs):
            raise attr_schema.AttrError(f"{spec.name} takes {len(spec.inputs)} input(s), got {len(inputs)}")
        for arg, t in zip(spec.inputs, inputs):
            want = arg.dtype or attrs[arg.type_attr]
            if t.dtype is not want:
                raise attr_schema.AttrError(f"input {arg.name} ({t.name}) has dtype {t.dtype.name}, expected "
                                            f"{want.name}")
        for arg, (dt, _) in zip(spec.outputs, outputs):
            want = arg.dtype or attrs[arg.type_attr]
            if dt is not want:
                raise attr_schema.AttrError(f"output {arg.name} has dtype {dt.name}, expected {want.name}")
        if not any(not ta or attrs.get(ta) is _DTYPE_OF_CODE.get(code) for ta, code in info.kernels):
            shown = ", ".join(f"{k}={v.name if isinstance(v, dtypes.DType) else v}" for k, v in attrs.items())
            raise attr_schema.AttrError(f"No OpKernel was registered to support Op '{spec.name}' with these "
                                        f"attrs: [{shown}]")

    return check


def register(info):
    spec = info.spec
    row = registry.REGISTRY.get(spec.name)
    if row is None:
        row = registry.register(spec.name, registry.STRUCTURED, stateful=spec.stateful, attrs=_schema(spec),
                                check=_check(info))
    else:  # a gradient registered (tf.RegisterGradient) before the library was loaded
        row.attrs, row.check, row.stateful = _schema(spec), _check(info), spec.stateful
    row.user_defined = True
    attr_checks.OUTPUTS[spec.name] = len(spec.outputs)
    CUSTOM[spec.name] = info
    from ..codegen.structured import custom

    custom.register(spec.name, [(name, a.type) for name, a in spec.attrs.items()])


def infer_shapes(info, attrs, inputs, node_name):
    """Output shapes from the library's shape function; ValueError (TF's construction-time error) when it
    rejects the inputs."""
    spec = info.spec
    if not info.shape_fn:
        return [TensorShape(None) for _ in spec.outputs]
    shapes = [t.shape.as_tuple() if t.shape.ndims is not None else None for t in inputs]
    out, error = abi.run_shape_fn(info.op_def, info.shape_fn, spec, attrs, shapes)
    if error is not None:
        shown = ", ".join("?" if s is None else "[" + ",".join("?" if d is None else str(d) for d in s) + "]"
                          for s in shapes)
        raise ValueError(f"{error} for '{node_name}' (op: '{spec.name}') with input shapes: {shown}.")
    return [TensorShape(s) for s in out]


_EXPECTED = {"int": "int", "float": "float", "bool": "bool", "string": "string"}


def _below_minimum(spec, name, a, value):
    """TF's op_def_library text when `value` is below attr `name`'s minimum (a list: its length), else None."""
    if a.minimum is None or value is None:
        return None
    if a.type.startswith("list("):
        if len(value) < a.minimum:
            return (f"Attr '{name}' of '{spec.name}' Op passed list of length {len(value)} less than minimum "
                    f"{a.minimum}.")
    elif value < a.minimum:
        return f"Attr '{name}' of '{spec.name}' Op passed {value} less than minimum {a.minimum}."
    return None


def _check_given_attrs(spec, kwargs):
    """The attr values passed to the op function, with the errors TF's generated wrapper gives (TF's
    _execute.make_int & co., op_def_library's minimum and allowed-strings checks): a value of the wrong kind
    is TypeError "Expected int for argument 'n' not 'a'."; one below the attr's minimum or outside its
    allowed strings is ValueError naming the attr and the op. Stricter than TF in one way: TF truncates
    1.5 or True to an int attr's 1, pygraph refuses them."""
    for name, a in spec.attrs.items():
        if name not in kwargs or (kwargs[name] is None and a.has_default and a.default is None):
            continue
        value = kwargs[name]
        try:
            value = attr_schema.check_value(a.type, value, name)
        except attr_schema.AttrError as e:
            if a.type not in _EXPECTED:  # lists and types: check_attrs' own message
                raise TypeError(f"{spec.name}: {e}") from None
            raise TypeError(f"Expected {_EXPECTED[a.type]} for argument '{name}' not {value!r}.") from None
        below = _below_minimum(spec, name, a, value)
        if below:
            raise ValueError(below)
        if a.type == "string" and a.allowed:
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            if text not in a.allowed:
                shown = '", "'.join(a.allowed)
                raise ValueError(f"Attr '{name}' of '{spec.name}' Op passed string '{text}' not in: \"{shown}\".")


def python_function(info):
    spec = info.spec

    def op_function(*args, name=None, **kwargs):
        if len(args) > len(spec.inputs):
            raise TypeError(f"{spec.name} takes {len(spec.inputs)} input(s), got {len(args)}")
        values = list(args)
        for arg in spec.inputs[len(args):]:
            if arg.name not in kwargs:
                raise TypeError(f"{spec.name} missing required input: {arg.name!r}")
            values.append(kwargs.pop(arg.name))
        unknown = set(kwargs) - set(spec.attrs)
        if unknown:
            raise TypeError(f"{spec.name} got an unexpected keyword argument {sorted(unknown)[0]!r}")
        _check_given_attrs(spec, kwargs)
        attrs = {n: kwargs.get(n, a.default) for n, a in spec.attrs.items() if n in kwargs or a.has_default}
        with op_scope(name, spec.name, [v for v in values if hasattr(v, "graph")]) as scope:
            inputs = []
            for arg, v in zip(spec.inputs, values):
                if arg.dtype is not None:
                    inputs.append(convert_to_tensor(v, arg.dtype, name=arg.name))
                    continue
                given = kwargs.get(arg.type_attr)
                default = spec.attrs[arg.type_attr].default
                t = convert_to_tensor(v, given, name=arg.name, preferred_dtype=default)
                allowed = spec.attrs[arg.type_attr].allowed
                if allowed:
                    check_dtype(arg.name, t.dtype, allowed)
                attrs[arg.type_attr] = attrs.get(arg.type_attr) if arg.type_attr in kwargs else t.dtype
                if attrs[arg.type_attr] is not t.dtype:
                    raise TypeError(f"Input '{arg.name}' of '{spec.name}' Op has type {t.dtype.name} that does not "
                                    f"match type {attrs[arg.type_attr].name} of argument '{arg.name}'.")
                inputs.append(t)
            try:
                checked = attr_schema.check_attrs(spec.name, registry.REGISTRY[spec.name].attrs, attrs)
            except attr_schema.AttrError as e:
                raise TypeError(f"{spec.name}: {e}") from None
            shapes = infer_shapes(info, checked, inputs, scope.rstrip("/"))
            outs = [(arg.dtype or checked[arg.type_attr], s) for arg, s in zip(spec.outputs, shapes)]
            op = make_op(spec.name, inputs, outs, scope, attrs=checked)
        if len(op.outputs) == 1:
            return op.outputs[0]
        return op if not op.outputs else tuple(op.outputs)

    op_function.__name__ = spec.name
    op_function.__doc__ = f"{spec.name} from op library {info.library}."
    return op_function
