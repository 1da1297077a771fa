"""Gradients of nn_ops.py's primitives, with TF1's formulas (nn_grad.py, math_grad.py), built from
existing elementwise ops so that they fuse with the rest of the backward pass."""

from __future__ import annotations

import numpy as np

from . import nn_ops
from .core import constant
from .math import abs, exp, greater, less, logical_and, multiply, negative, rsqrt, square, where, zeros_like
from .math_grad import reduce_to
from .registry import NotDifferentiable, RegisterGradient


def _c(value, like):
    return constant(value, dtype=like.dtype)


@RegisterGradient("Elu")
def _elu_grad(op, grad):
    y = op.outputs[0]  # EluGrad: (y < 0) ? grad * (y + 1) : grad
    return [where(less(y, _c(0, y)), grad * (y + _c(1, y)), grad)]


@RegisterGradient("Selu")
def _selu_grad(op, grad):
    y = op.outputs[0]  # SeluGrad: (y < 0) ? grad * (y + scale * alpha) : grad * scale
    scale = _c(nn_ops.SELU_SCALE, y)
    return [where(less(y, _c(0, y)), grad * (y + _c(nn_ops.SELU_SCALE_ALPHA, y)), grad * scale)]


@RegisterGradient("LeakyRelu")
def _leaky_relu_grad(op, grad):
    x = op.inputs[0]
    return [where(greater(x, _c(0, x)), grad, grad * _c(op.attrs["alpha"], x))]


@RegisterGradient("Softsign")
def _softsign_grad(op, grad):
    x = op.inputs[0]
    return [grad / square(_c(1, x) + abs(x))]


@RegisterGradient("Relu6")
def _relu6_grad(op, grad):
    y = op.outputs[0]  # Relu6Grad on the output: the slope is 1 strictly inside (0, 6)
    inside = logical_and(greater(y, _c(0, y)), less(y, _c(6, y)))
    return [where(inside, grad, zeros_like(grad))]


@RegisterGradient("Sin")
def _sin_grad(op, grad):
    return [grad * nn_ops.cos(op.inputs[0])]


@RegisterGradient("Cos")
def _cos_grad(op, grad):
    return [negative(grad) * nn_ops.sin(op.inputs[0])]


@RegisterGradient("Tan")
def _tan_grad(op, grad):
    x = op.inputs[0]
    return [grad * square(_c(1, x) / nn_ops.cos(x))]


@RegisterGradient("Asin")
def _asin_grad(op, grad):
    x = op.inputs[0]
    return [grad * rsqrt(_c(1, x) - square(x))]


@RegisterGradient("Acos")
def _acos_grad(op, grad):
    x = op.inputs[0]
    return [negative(grad) * rsqrt(_c(1, x) - square(x))]


@RegisterGradient("Atan")
def _atan_grad(op, grad):
    x = op.inputs[0]
    return [grad / (_c(1, x) + square(x))]


@RegisterGradient("Atan2")
def _atan2_grad(op, grad):
    y, x = op.inputs
    grad_inv = grad / (square(x) + square(y))
    return reduce_to(multiply(x, grad_inv), y, [x]), reduce_to(negative(y) * grad_inv, x, [y])


@RegisterGradient("Erf")
def _erf_grad(op, grad):
    x = op.inputs[0]
    return [grad * _c(2 / np.sqrt(np.pi), x) * exp(negative(square(x)))]


@RegisterGradient("TruncateMod")
def _truncatemod_grad(op, grad):
    """fmod(x, y) = x - trunc(x / y) * y: slopes 1 and -trunc(x / y), which is (x - fmod(x, y)) / y."""
    x, y = op.inputs
    if not x.dtype.is_floating:
        return None, None
    gy = negative(grad) * ((x - op.outputs[0]) / y)
    return reduce_to(grad, x, [y]), reduce_to(gy, y, [x])


@RegisterGradient("BiasAdd")
def _bias_add_grad(op, grad):
    value, bias = op.inputs
    return grad, reduce_to(grad, bias, [value])


for _t in ("TruncateDiv", "IsNan", "IsInf", "IsFinite"):
    NotDifferentiable(_t)
