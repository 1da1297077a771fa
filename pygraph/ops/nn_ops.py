"""More elementwise primitives: tf.nn's activations (elu, selu, leaky_relu, softsign, relu6), bias_add, the
trigonometric functions, erf, atan2, truncating division, and the is_nan/is_inf/is_finite tests.

Each row joins math.py's tables (so math.unary/binary build it: dtype checks, broadcasting, TF's errors)
and has a C++ expression in codegen/emit.py's ELEMENTWISE; gradients are in nn_grad.py.
"""

from __future__ import annotations

import math as _pymath

import numpy as np

from .. import dtypes
from . import attr_checks, math, registry
from .core import check_dtype, convert_to_tensor, fmt_shape, make_op, op_scope

F, INTS, NUM = math.F, math.INTS, math.NUM
SELU_SCALE = 1.0507009873554804934193349852946
SELU_SCALE_ALPHA = 1.7580993408473768599402175208123  # the product, as TF's kernels write it


def _np_erf(a):
    return np.vectorize(_pymath.erf, otypes=[a.dtype])(a) if a.size else a.copy()


def _np_truncdiv(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.floor_divide(a, b)
        return np.where((np.mod(a, b) != 0) & ((a < 0) != (b < 0)), q + 1, q).astype(a.dtype)


def _np_truncmod(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.fmod(a, b)


def _same(fn):
    return lambda a: fn(a).astype(a.dtype)


UNARY = {
    "Elu": (F, _same(lambda a: np.where(a < 0, np.exp(np.minimum(a, 0)) - 1, a))),
    "Selu": (F, _same(lambda a: np.where(a < 0, SELU_SCALE_ALPHA * (np.exp(np.minimum(a, 0)) - 1), SELU_SCALE * a))),
    "Softsign": (F, _same(lambda a: a / (1 + np.abs(a)))),
    "Relu6": (NUM, _same(lambda a: np.minimum(np.maximum(a, 0), 6))),
    "Sin": (F, np.sin), "Cos": (F, np.cos), "Tan": (F, np.tan),
    "Asin": (F, np.arcsin), "Acos": (F, np.arccos), "Atan": (F, np.arctan),
    "Erf": (F, _np_erf),
}
BINARY = {
    "Atan2": (F, False, np.arctan2),
    "TruncateDiv": (INTS, False, _np_truncdiv),
    "TruncateMod": (NUM, False, _np_truncmod),
    "BiasAdd": (NUM, False, np.add),
}
PREDICATES = {"IsNan": np.isnan, "IsInf": np.isinf, "IsFinite": np.isfinite}

for _t, (_allowed, _fn) in UNARY.items():
    math.UNARY[_t] = (_allowed, _fn)
    registry.register(_t, registry.ELEMENTWISE, numpy=_fn, attrs={}, check=attr_checks.allowed_dtypes(_allowed))
for _t, (_allowed, _b, _fn) in BINARY.items():
    math.BINARY[_t] = (_allowed, _b, _fn)
    registry.register(_t, registry.ELEMENTWISE, numpy=_fn, attrs={}, check=attr_checks.allowed_dtypes(_allowed))
for _t, _fn in PREDICATES.items():
    registry.register(_t, registry.ELEMENTWISE, numpy=_fn, attrs={"T": "type"}, check=attr_checks.allowed_dtypes(F))
registry.register("LeakyRelu", registry.ELEMENTWISE,
                  numpy=lambda a, op: np.where(a > 0, a, a * op.attrs["alpha"]).astype(a.dtype),
                  attrs={"alpha": "float", "T": "type"}, check=attr_checks.allowed_dtypes(F))
attr_checks.ARITY.update({t: 1 for t in (*UNARY, *PREDICATES, "LeakyRelu")}, **{t: 2 for t in BINARY})


def _unary(op_type, default):
    def fn(x, name=None):
        return math.unary(op_type, x, name, default)

    fn.__name__ = default.lower()
    fn.__doc__ = f"Elementwise {op_type}, as TF's op of that name."
    return fn


elu = _unary("Elu", "Elu")
selu = _unary("Selu", "Selu")
softsign = _unary("Softsign", "Softsign")
sin = _unary("Sin", "Sin")
cos = _unary("Cos", "Cos")
tan = _unary("Tan", "Tan")
asin = _unary("Asin", "Asin")
acos = _unary("Acos", "Acos")
atan = _unary("Atan", "Atan")
erf = _unary("Erf", "Erf")


def relu6(features, name=None):
    """min(max(features, 0), 6)."""
    with op_scope(name, "Relu6", [features]) as scope:
        return math.unary("Relu6", convert_to_tensor(features, name="features"), scope)


def leaky_relu(features, alpha=0.2, name=None):
    """features where positive, alpha * features elsewhere (integers are first cast to float32, as TF)."""
    with op_scope(name, "LeakyRelu", [features]) as scope:
        x = convert_to_tensor(features, name="features")
        if x.dtype.is_integer:
            x = math.cast(x, dtypes.float32)
        check_dtype("features", x.dtype, F, "LeakyRelu")
        try:  # a float attr: 32 bits in TF, so float64 inputs see float32(alpha) too
            alpha = float(np.float32(np.asarray(alpha).item()))
        except (TypeError, ValueError):
            raise TypeError(f"leaky_relu: alpha must be a Python number (it is an attribute of the op), got "
                            f"{alpha!r}") from None
        return make_op("LeakyRelu", [x], [(x.dtype, x.shape)], scope, {"alpha": alpha, "T": x.dtype}).outputs[0]


def atan2(y, x, name=None):
    """The angle of (x, y): arctan(y / x) in the right quadrant."""
    return math.binary("Atan2", y, x, name, "Atan2")


def truncatediv(x, y, name=None):
    """Integer division rounding toward zero (C's `/`); TF has this op for integers only."""
    return math.binary("TruncateDiv", x, y, name, "TruncateDiv")


def truncatemod(x, y, name=None):
    """The remainder of truncating division (C's `%`, fmod for floats): its sign is x's."""
    return math.binary("TruncateMod", x, y, name, "TruncateMod")


def _predicate(op_type):
    def fn(x, name=None):
        with op_scope(name, op_type, [x]) as scope:
            x = convert_to_tensor(x, name="x")
            check_dtype("x", x.dtype, F, op_type)
            return make_op(op_type, [x], [(dtypes.bool_, x.shape)], scope, {"T": x.dtype}).outputs[0]

    fn.__name__ = {"IsNan": "is_nan", "IsInf": "is_inf", "IsFinite": "is_finite"}[op_type]
    fn.__doc__ = f"tf.{fn.__name__}: elementwise test, a bool tensor."
    return fn


is_nan = _predicate("IsNan")
is_inf = _predicate("IsInf")
is_finite = _predicate("IsFinite")


def bias_add(value, bias, data_format=None, name=None):
    """value + bias, bias a vector along the channel dimension (the last one, or NCHW's second)."""
    with op_scope(name, "BiasAdd", [value, bias]) as scope:
        value = convert_to_tensor(value, name="input")
        bias = convert_to_tensor(bias, dtype=value.dtype, name="bias")
        rank = value.shape.ndims
        if rank is not None and rank < 2:
            raise ValueError(f"Shape must be at least rank 2 but is rank {rank} for '{scope[:-1]}' (op: 'BiasAdd') "
                             f"with input shapes: {fmt_shape(value.shape)}, {fmt_shape(bias.shape)}.")
        if bias.shape.ndims is not None and bias.shape.ndims != 1:
            raise ValueError(f"Shape must be rank 1 but is rank {bias.shape.ndims} for '{scope[:-1]}' "
                             f"(op: 'BiasAdd') with input shapes: {fmt_shape(value.shape)}, {fmt_shape(bias.shape)}.")
        if data_format not in (None, "NHWC", "NCHW"):
            raise ValueError(f"Unknown data_format {data_format!r}: NHWC or NCHW")
        c = value.shape.as_tuple()[1 if data_format == "NCHW" else -1] if rank else None
        n = bias.shape.as_tuple()[0] if bias.shape.ndims else None
        if c is not None and n is not None and c != n:
            raise ValueError(f"Dimensions must be equal, but are {c} and {n} for '{scope[:-1]}' (op: 'BiasAdd') "
                             f"with input shapes: {fmt_shape(value.shape)}, {fmt_shape(bias.shape)}.")
        if data_format == "NCHW":  # channels second: a bias shaped [C, 1, ...] broadcasts over the rest
            if rank is None:
                raise ValueError("bias_add with data_format='NCHW' needs the input's rank to be known")
            from .layout import reshape

            return math.add(value, reshape(bias, [-1] + [1] * (rank - 2)), name=scope)
        return math.binary("BiasAdd", value, bias, scope, converted=True)
