"""Reductions TF1 composes from others, and the boolean ones: reduce_any, reduce_all, reduce_logsumexp,
count_nonzero, l2_loss (TF1's formulas; the fused reduction engine does the work)."""

from __future__ import annotations

from .. import dtypes
from .array import stop_gradient, zeros
from .core import constant, convert_to_tensor, op_scope
from .math import add, cast, exp, greater, log, multiply, not_equal, square, subtract, where, zeros_like
from .nn_ops import is_finite
from .reduce import _lookup, reduce_max, reduce_min, reduce_sum


def _bool_reduce(reducer, default_name, input_tensor, axis, keepdims, name, reduction_indices, keep_dims):
    # TF's Any/All, as a max/min over 0/1: the engine's identity for an empty reduction (INT_MIN for max,
    # INT_MAX for min) compares to False for any and True for all, as TF defines them.
    with op_scope(name, default_name, [input_tensor]) as scope:
        x = convert_to_tensor(input_tensor, dtype=dtypes.bool_, name="input")
        r = reducer(cast(x, dtypes.int32), axis=axis, keepdims=keepdims, reduction_indices=reduction_indices,
                    keep_dims=keep_dims)
        return greater(r, constant(0, dtypes.int32), name=scope)


def reduce_any(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    """The logical or over the axes (False for no elements)."""
    return _bool_reduce(reduce_max, "Any", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_all(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    """The logical and over the axes (True for no elements)."""
    return _bool_reduce(reduce_min, "All", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_logsumexp(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    """log(sum(exp(x))) over the axes, shifted by the (finite) max so exp never overflows."""
    axis = _lookup("axis", axis, "reduction_indices", reduction_indices)
    keepdims = bool(_lookup("keepdims", keepdims, "keep_dims", keep_dims))
    with op_scope(name, "ReduceLogSumExp", [input_tensor]) as scope:
        x = convert_to_tensor(input_tensor, name="input_tensor")
        raw_max = reduce_max(x, axis, keepdims=True)
        my_max = stop_gradient(where(is_finite(raw_max), raw_max, zeros_like(raw_max)))
        result = log(reduce_sum(exp(subtract(x, my_max)), axis, keepdims=keepdims))
        if not keepdims:  # drop the kept size-1 axes (a sum over them is exact)
            my_max = reduce_sum(my_max, axis)
        return add(result, my_max, name=scope)


def count_nonzero(input_tensor=None, axis=None, keepdims=None, dtype=dtypes.int64, name=None,
                  reduction_indices=None, keep_dims=None, input=None):  # noqa: A002
    """The number of elements that are not zero (not False, for booleans), as `dtype`."""
    input_tensor = _lookup("input", input, "input_tensor", input_tensor)
    with op_scope(name, "count_nonzero", [input_tensor]):
        x = convert_to_tensor(input_tensor, name="input_tensor")
        zero = zeros([], dtype=x.dtype)
        flags = cast(not_equal(x, zero), dtypes.int64)
        counts = reduce_sum(flags, axis=axis, keepdims=keepdims, reduction_indices=reduction_indices,
                            keep_dims=keep_dims)
        return cast(counts, dtype)


def l2_loss(t, name=None):
    """sum(t ** 2) / 2."""
    with op_scope(name, "L2Loss", [t]) as scope:
        t = convert_to_tensor(t, name="t")
        return multiply(reduce_sum(square(t)), constant(0.5, t.dtype), name=scope)
