"""Checking and converting feed values: what a placeholder accepts, at the cost of ~100 ns a feed."""

from __future__ import annotations

import numpy as np

from .graph import Operation, Tensor
from .shape import MAX_RANK


class Replan(Exception):
    """A feed's rank differs from the one the plan was compiled for (placeholder of unknown rank)."""


def _shape_test(static, rank_fixed):
    """A fast predicate on a feed's shape tuple: rank and every statically known dim."""
    if static is None:
        expr = f"len(s) == {rank_fixed}"
    else:
        expr = " and ".join([f"len(s) == {len(static)}"] + [f"s[{k}] == {d}" for k, d in enumerate(static)
                                                             if d is not None])
    return eval(f"lambda s: {expr}")  # noqa: S307 (built from ints only)


def feed_converter(tensor, rank_fixed):
    """A function turning a feed value into the array the kernel takes. An ndarray of the right dtype passes
    as it is: the compiled program checks rank and known dims, and the runtime copies strided arrays (or
    raises ResourceExhaustedError when the copy cannot fit in memory, e.g. a huge np.broadcast_to view);
    when the program rejects it, `convert.check` gives TF's error."""
    dt = tensor.dtype.np
    static = tensor.shape.as_tuple()
    if rank_fixed is not None and rank_fixed > MAX_RANK:
        raise ValueError(f"Cannot feed a value of rank {rank_fixed} for Tensor '{tensor.name}': pygraph supports "
                         f"tensors of rank at most {MAX_RANK}.")
    shape_ok = _shape_test(static, rank_fixed)

    def check(value):
        if type(value) is np.ndarray and value.dtype is dt:  # strided views too: only the shape matters here
            arr = value
        else:
            arr = _coerce(value, tensor)
        if not shape_ok(arr.shape):
            if static is None:
                raise Replan()
            raise ValueError(f"Cannot feed value of shape {arr.shape} for Tensor '{tensor.name}', which has "
                             f"shape '{tensor.shape}'")
        return arr

    def convert(value):
        if type(value) is np.ndarray and value.dtype is dt:
            return value
        return check(value)

    convert.check = check
    return convert


def _coerce(value, tensor):
    dt = tensor.dtype.np
    if isinstance(value, (Tensor, Operation)) or hasattr(value, "_as_tensor"):
        raise TypeError("The value of a feed cannot be a tf.Tensor object. Acceptable feed values include "
                        "Python scalars, strings, lists, numpy ndarrays, or TensorHandles. For reference, the "
                        f"tensor object was {value!r} which was passed to the feed with key {tensor!r}.")
    arr = np.asarray(value)
    if arr.dtype.kind in "OUS" and dt.kind != "O":
        raise TypeError(f"Cannot feed value of dtype {arr.dtype} for Tensor '{tensor.name}' of dtype "
                        f"{tensor.dtype.name}.")
    if not np.can_cast(arr.dtype, dt, casting="same_kind"):
        raise ValueError(f"Cannot feed value of dtype {arr.dtype} for Tensor '{tensor.name}' of dtype "
                         f"{tensor.dtype.name} without losing information: cast it first (e.g. "
                         f"np.asarray(value, np.{dt.name})).")
    if dt.kind in "iu" and arr.size and arr.dtype.kind in "iu":
        info = np.iinfo(dt)
        if arr.min() < info.min or arr.max() > info.max:
            raise ValueError(f"Feed value for '{tensor.name}' is out of range for {tensor.dtype.name}: try a "
                             "larger type (e.g. int64) for the placeholder.")
    return np.asarray(arr, dtype=dt, order="C")  # not ascontiguousarray: it turns 0-d feeds into 1-d
