"""Gradients of the elementwise family (TF1's math_grad.py / nn_grad.py formulas).

Each function gets the forward op and the gradient of its output and returns one gradient per
input (None where TF has none). Binary ops broadcast, so each input's gradient is summed back to
that input's run-time shape, unless the static shapes prove no broadcasting happened.
"""

from __future__ import annotations

from . import math, state  # noqa: F401  (the op rows must exist before gradients attach to them)
from .core import constant
from .math import (
    cast,
    exp,
    floordiv,
    greater,
    greater_equal,
    less_equal,
    multiply,
    negative,
    pow,
    reciprocal,
    sign,
    subtract,
    where,
    zeros_like,
)
from .registry import NotDifferentiable, RegisterGradient


# -- broadcasting
def _unbroadcast_free(x, grad, others):
    """True when static shapes prove that `x` was not broadcast to `grad`'s shape."""
    xs, gs = x.shape.as_tuple(), grad.shape.as_tuple()
    if xs is None or gs is None or len(xs) != len(gs):
        return False
    for k, (d, gd) in enumerate(zip(xs, gs)):
        if d is not None and d != 1:
            continue  # a broadcast that succeeded kept this size
        if d == 1 and gd == 1:
            continue
        if d is None and all(_dim_is_one_or_absent(o, k, len(gs)) for o in others):
            continue
        return False
    return True


def _dim_is_one_or_absent(t, k, rank):
    dims = t.shape.as_tuple()
    if dims is None:
        return False
    j = k - (rank - len(dims))
    return j < 0 or dims[j] == 1


def reduce_to(grad, x, others=()):
    """`grad` (the broadcast output's gradient) summed to the run-time shape of input `x`."""
    if _unbroadcast_free(x, grad, others):
        return grad
    from .array import sum_to_shape_of  # the array family is imported lazily (it imports math)

    return sum_to_shape_of(grad, x)


def _binary_inputs(op):
    return op.inputs[0], op.inputs[1]


def _const(value, like):
    return constant(value, dtype=like.dtype)


# -- binary
@RegisterGradient("Add")
def _add_grad(op, grad):
    x, y = _binary_inputs(op)
    return reduce_to(grad, x, [y]), reduce_to(grad, y, [x])


@RegisterGradient("Sub")
def _sub_grad(op, grad):
    x, y = _binary_inputs(op)
    return reduce_to(grad, x, [y]), negative(reduce_to(grad, y, [x]))


@RegisterGradient("Mul")
def _mul_grad(op, grad):
    x, y = _binary_inputs(op)
    return reduce_to(multiply(grad, y), x, [y]), reduce_to(multiply(x, grad), y, [x])


@RegisterGradient("RealDiv")
def _realdiv_grad(op, grad):
    x, y = _binary_inputs(op)
    gx = grad / y
    gy = grad * ((-x / y) / y)
    return reduce_to(gx, x, [y]), reduce_to(gy, y, [x])


@RegisterGradient("FloorDiv")
def _floordiv_grad(op, grad):
    return None, None


@RegisterGradient("FloorMod")
def _floormod_grad(op, grad):
    """grad * (1, -floor(x / y)), as TF."""
    x, y = _binary_inputs(op)
    gy = grad * negative(floordiv(x, y))
    return reduce_to(grad, x, [y]), reduce_to(gy, y, [x])


@RegisterGradient("Pow")
def _pow_grad(op, grad):
    x, y = _binary_inputs(op)
    z = op.outputs[0]
    gx = grad * y * pow(x, y - _const(1, y))
    if not x.dtype.is_floating:  # log(x) has no integer form; TF cannot build this either
        return reduce_to(gx, x, [y]), None
    # where(x > 0, log(x), 0): avoids the false singularity (and NaN) of log at x <= 0
    mask = greater(x, _const(0, x))
    safe_x = where(mask, x, _const(1, x) + zeros_like(x))
    log_x = where(mask, math.log(safe_x), zeros_like(x))
    gy = grad * z * log_x
    return reduce_to(gx, x, [y]), reduce_to(gy, y, [x])


def _max_min_grad(op, grad, selector):
    x, y = _binary_inputs(op)
    zeros = zeros_like(grad)
    xmask = selector(x, y)
    xgrad = where(xmask, grad, zeros)
    ygrad = where(xmask, zeros, grad)
    return reduce_to(xgrad, x, [y]), reduce_to(ygrad, y, [x])


@RegisterGradient("Maximum")
def _maximum_grad(op, grad):
    return _max_min_grad(op, grad, greater_equal)


@RegisterGradient("Minimum")
def _minimum_grad(op, grad):
    return _max_min_grad(op, grad, less_equal)


@RegisterGradient("SquaredDifference")
def _squared_difference_grad(op, grad):
    x, y = _binary_inputs(op)
    x_grad = multiply(_const(2.0, grad), grad) * subtract(x, y)
    return reduce_to(x_grad, x, [y]), negative(reduce_to(x_grad, y, [x]))


# -- unary (y = op.outputs[0] where TF's kernels use the output)
@RegisterGradient("Neg")
def _neg_grad(op, grad):
    return [negative(grad)]


@RegisterGradient("Abs")
def _abs_grad(op, grad):
    return [grad * sign(op.inputs[0])]


@RegisterGradient("Square")
def _square_grad(op, grad):
    x = op.inputs[0]
    return [multiply(grad, multiply(x, _const(2.0, x)))]


@RegisterGradient("Sqrt")
def _sqrt_grad(op, grad):
    y = op.outputs[0]
    return [grad * _const(0.5, y) / y]


@RegisterGradient("Rsqrt")
def _rsqrt_grad(op, grad):
    y = op.outputs[0]
    return [grad * _const(-0.5, y) * (y * y * y)]


@RegisterGradient("Exp")
def _exp_grad(op, grad):
    return [grad * op.outputs[0]]


@RegisterGradient("Log")
def _log_grad(op, grad):
    return [grad * reciprocal(op.inputs[0])]


@RegisterGradient("Log1p")
def _log1p_grad(op, grad):
    x = op.inputs[0]
    return [grad * reciprocal(_const(1, x) + x)]


@RegisterGradient("Expm1")
def _expm1_grad(op, grad):
    return [grad * exp(op.inputs[0])]


@RegisterGradient("Reciprocal")
def _reciprocal_grad(op, grad):
    y = op.outputs[0]
    return [negative(grad) * y * y]


@RegisterGradient("Sign")
def _sign_grad(op, grad):
    return [zeros_like(op.inputs[0])]


for _t in ("Floor", "Ceil", "Round"):
    RegisterGradient(_t)(lambda op, grad: [None])


@RegisterGradient("Relu")
def _relu_grad(op, grad):
    y = op.outputs[0]
    return [where(greater(y, _const(0, y)), grad, zeros_like(grad))]


@RegisterGradient("Sigmoid")
def _sigmoid_grad(op, grad):
    y = op.outputs[0]
    return [grad * (y * (_const(1, y) - y))]


@RegisterGradient("Tanh")
def _tanh_grad(op, grad):
    y = op.outputs[0]
    return [grad * (_const(1, y) - y * y)]


@RegisterGradient("Softplus")
def _softplus_grad(op, grad):
    x = op.inputs[0]
    return [grad / (exp(negative(x)) + _const(1, x))]


@RegisterGradient("Identity")
@RegisterGradient("PlaceholderWithDefault")
def _identity_grad(op, grad):
    return [grad]


@RegisterGradient("Cast")
def _cast_grad(op, grad):
    src = op.inputs[0].dtype
    if src.is_floating and grad.dtype.is_floating:
        return [cast(grad, src)]
    return [None]


@RegisterGradient("Select")
def _select_grad(op, grad):
    c, x, y = op.inputs
    zeros = zeros_like(grad)
    return None, reduce_to(where(c, grad, zeros), x, [c, y]), reduce_to(where(c, zeros, grad), y, [c, x])


@RegisterGradient("AddN")
def _add_n_grad(op, grad):
    return [grad] * len(op.inputs)


for _t in ("Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual", "LogicalAnd", "LogicalOr",
           "LogicalNot", "ZerosLike", "OnesLike", "Assign", "AssignAdd", "AssignSub", "NoOp", "Const",
           "Placeholder", "VariableV2"):
    NotDifferentiable(_t)
