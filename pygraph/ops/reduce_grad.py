"""Gradients of the reductions Sum, Mean, Max, Min, Prod (TF1's math_grad formulas)."""

from __future__ import annotations

from . import reduce  # noqa: F401  (the op rows must exist before gradients attach to them)
from .array import size_as
from .core import constant
from .layout import expand_dims
from .math import cast, equal, floordiv, maximum, multiply, ones_like, truediv, where, zeros_like
from .reduce import reduce_prod, reduce_sum
from .registry import NotDifferentiable, RegisterGradient


def _axes(op):
    """The reduced axes of a reduction op, normalised to ascending non-negative ints; on an input of unknown
    rank, None for all of them, else the non-negative ones ascending, then the negative ones descending."""
    rank = op.inputs[0].shape.ndims
    axes = op.get_attr("axis")
    if rank is None:
        return None if axes is None else sorted({a for a in axes if a >= 0}) + sorted({a for a in axes if a < 0},
                                                                                       reverse=True)
    if axes is None:
        return list(range(rank))
    return sorted({a % rank for a in axes})


def kept_dims(op, t):
    """`t` (shaped like the reduction's output) with the reduced axes put back as size 1."""
    if op.get_attr("keep_dims"):
        return t
    axes = _axes(op)
    if axes is None or axes == list(range(len(axes))):  # all or leading axes: broadcasting puts them back
        return t
    for a in axes:  # in _axes' order, a negative axis counts from the end of the tensor built so far
        t = expand_dims(t, a)
    return t


def _spread(kept, x):
    """`kept` (reduced axes of size 1) broadcast to x's run-time shape. Multiplying by ones_like(x) is
    exact and stays elementwise, so the broadcast fuses into the loop that consumes it instead of
    materialising a full-size buffer first."""
    return multiply(kept, ones_like(x))


@RegisterGradient("Sum")
def _sum_grad(op, grad):
    return _spread(kept_dims(op, grad), op.inputs[0]), None


def _count_ratio(op, dtype):
    """Input elements per output element, as `dtype` (a constant when the shapes are known)."""
    x, y = op.inputs[0], op.outputs[0]
    if x.shape.is_fully_defined() and y.shape.is_fully_defined():
        n = x.shape.num_elements() // max(y.shape.num_elements(), 1)
        return constant(n, dtype=dtype)
    return size_as(x, dtype) / maximum(size_as(y, dtype), constant(1, dtype=dtype))


@RegisterGradient("Mean")
def _mean_grad(op, grad):
    factor = _count_ratio(op, grad.dtype)
    scaled = truediv(grad, factor) if grad.dtype.is_floating else floordiv(grad, factor)
    return _spread(kept_dims(op, scaled), op.inputs[0]), None


def _min_or_max_grad(op, grad):
    """The gradient goes to the selected elements, split evenly between ties (as TF)."""
    x = op.inputs[0]
    y, grad = kept_dims(op, op.outputs[0]), kept_dims(op, grad)
    indicators = cast(equal(y, x), grad.dtype)
    num_selected = reduce_sum(indicators, _axes(op), keepdims=True)
    return truediv(indicators, num_selected) * grad, None


RegisterGradient("Max")(_min_or_max_grad)
RegisterGradient("Min")(_min_or_max_grad)


@RegisterGradient("Prod")
def _prod_grad(op, grad):
    """Each element's gradient is the product of the others. Zeros are handled without dividing by
    them: with one zero only that element gets the product of the rest, with two or more all get 0."""
    x = op.inputs[0]
    axes = _axes(op)
    is_zero = equal(x, constant(0, dtype=x.dtype))
    one, zero = constant(1, dtype=x.dtype), zeros_like(x)
    nonzero = where(is_zero, one + zero, x)
    prod_nonzero = reduce_prod(nonzero, axes, keepdims=True)
    zeros_count = reduce_sum(cast(is_zero, x.dtype), axes, keepdims=True)
    divide = truediv if x.dtype.is_floating else floordiv
    others_if_nonzero = where(equal(zeros_count, zero), divide(prod_nonzero, nonzero), zero)
    others_if_zero = where(equal(zeros_count, one + zero), prod_nonzero + zero, zero)
    others = where(is_zero, others_if_zero, others_if_nonzero)
    return multiply(others, kept_dims(op, grad)), None


for _t in ("ArgMax", "ArgMin"):
    NotDifferentiable(_t)
