"""Reductions (tf.reduce_sum, reduce_mean, reduce_max, reduce_min, reduce_prod, argmax, argmin).

As in TF the reduction axes are the op's second input (a constant named "Const" or "dimension"); pygraph
also keeps them as the static attr `axis` (a tuple of ints, or None for all axes), which the code
generator reads. Tensor-valued axes are not supported: they would make the output rank dynamic.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..graph import Tensor
from ..shape import TensorShape
from . import attr_checks as checks
from . import registry
from .core import check_dtype, constant, convert_to_tensor, fmt_shape, make_op, op_scope

NUM = (dtypes.float32, dtypes.float64, dtypes.int32, dtypes.int64)


def _np_axis(op):
    a = op.attrs["axis"]
    return None if a is None else tuple(a)


def _np_mean(x, op):
    axis, keep = _np_axis(op), op.attrs["keep_dims"]
    if x.dtype.kind in "iu":  # TF divides the (wrapping) sum by the count with truncation
        s = np.sum(x, axis=axis, keepdims=keep, dtype=x.dtype)
        n = max(1, x.size // max(1, np.size(s))) if x.size else 0
        return (np.sign(s) * (np.abs(s) // n)).astype(x.dtype) if n else np.zeros_like(s)
    s = np.sum(x, axis=axis, keepdims=keep, dtype=np.float64)  # np.mean's arithmetic, without its warning
    n = x.size // s.size if s.size else 0
    with np.errstate(invalid="ignore"):
        return (s / n).astype(x.dtype)  # an empty mean is NaN


def _np_sum(x, op):
    """Float sums pairwise along every reduced axis, as the compiled code's blocked sums are accurate:
    numpy sums pairwise only along a contiguous axis, so the reduced axes are moved last first."""
    axis, keep = _np_axis(op), op.attrs["keep_dims"]
    if x.dtype.kind != "f" or x.ndim == 0:
        return np.sum(x, axis=axis, keepdims=keep, dtype=x.dtype)
    axes = tuple(range(x.ndim)) if axis is None else tuple(sorted({a % x.ndim for a in axis}))
    kept = [d for d in range(x.ndim) if d not in axes]
    flat = np.ascontiguousarray(np.transpose(x, kept + list(axes))).reshape([x.shape[d] for d in kept] + [-1])
    s = np.sum(flat, axis=-1, dtype=x.dtype)
    return s.reshape([1 if d in axes else x.shape[d] for d in range(x.ndim)]) if keep else s


_NUMPY = {
    "Sum": _np_sum,
    "Mean": _np_mean,
    "Max": lambda x, op: np.max(x, axis=_np_axis(op), keepdims=op.attrs["keep_dims"], initial=-np.inf
                                if x.dtype.kind == "f" else np.iinfo(x.dtype).min),
    "Min": lambda x, op: np.min(x, axis=_np_axis(op), keepdims=op.attrs["keep_dims"], initial=np.inf
                                if x.dtype.kind == "f" else np.iinfo(x.dtype).max),
    "Prod": lambda x, op: np.prod(x, axis=_np_axis(op), keepdims=op.attrs["keep_dims"], dtype=x.dtype),
}
for _t, _fn in _NUMPY.items():
    registry.register(_t, registry.STRUCTURED, numpy=lambda x, _axes=None, op=None, _fn=_fn: _fn(x, op),
                      attrs={"axis": "?list(int)", "keep_dims": "bool", "T": "type", "Tidx": "type"},
                      check=checks.reduce)
_ARG_ATTRS = {"axis": "int", "output_type": "type", "T": "type", "Tidx": "type"}
registry.register("ArgMax", registry.STRUCTURED,
                  numpy=lambda x, _d=None, op=None: np.argmax(x, axis=op.attrs["axis"]).astype(
                      op.attrs["output_type"].np), attrs=_ARG_ATTRS, check=checks.arg_reduce)
registry.register("ArgMin", registry.STRUCTURED,
                  numpy=lambda x, _d=None, op=None: np.argmin(x, axis=op.attrs["axis"]).astype(
                      op.attrs["output_type"].np), attrs=_ARG_ATTRS, check=checks.arg_reduce)


def _lookup(new_name, new_value, old_name, old_value):
    """TF's deprecated_argument_lookup: accept the TF1 alias, but not both."""
    if old_value is not None:
        if new_value is not None:
            raise ValueError(f"Cannot specify both '{new_name}' and '{old_name}'.")
        return old_value
    return new_value


def _static_axes(axis, what="axis"):
    if isinstance(axis, Tensor):
        if axis.op.type == "Const":
            axis = axis.op.attrs["value"]
        else:
            raise TypeError(f"pygraph needs the {what} of a reduction as Python ints (got tensor {axis.name}): the "
                            "output shape would otherwise depend on run-time values.")
    arr = np.asarray(axis)
    if arr.dtype.kind not in "iu" or arr.ndim > 1:
        raise TypeError(f"Value passed to parameter 'reduction_indices' must be an int or a list of ints, got "
                        f"{axis!r}.")
    return tuple(int(a) for a in arr.reshape(-1))


def _reduce(op_type, input_tensor, axis, keepdims, name, reduction_indices, keep_dims):
    axis = _lookup("axis", axis, "reduction_indices", reduction_indices)
    keepdims = _lookup("keepdims", keepdims, "keep_dims", keep_dims)
    keepdims = bool(keepdims) if keepdims is not None else False
    if axis is None:  # TF's _ReductionDims: a constant of all axes, made outside the op's scope
        input_tensor = convert_to_tensor(input_tensor, name="input_tensor")
        rank = input_tensor.shape.ndims
        axes, axis_value = None, np.arange(rank if rank is not None else 0, dtype=np.int32)
        indices = constant(axis_value, dtype=dtypes.int32, name="Const")
    with op_scope(name, op_type, [input_tensor]) as scope:
        x = convert_to_tensor(input_tensor, name="input")
        check_dtype("input", x.dtype, NUM, op_type)
        if axis is not None:
            axes = _static_axes(axis)
            axis_value = np.asarray(axes if isinstance(axis, (list, tuple)) else axes[0], dtype=np.int32)
            indices = constant(axis_value, dtype=dtypes.int32, name="reduction_indices")
        shape = _reduced_shape(op_type, scope[:-1], x.shape, axes, keepdims, axis_value)
        attrs = {"axis": axes, "keep_dims": keepdims, "T": x.dtype, "Tidx": dtypes.int32}
        return make_op(op_type, [x, indices], [(x.dtype, shape)], scope, attrs).outputs[0]


def _reduced_shape(op_type, name, shape, axes, keepdims, axis_value):
    rank = shape.ndims
    if rank is None:
        return TensorShape(() if axes is None and not keepdims else None)
    if axes is None:
        axes = range(rank)
    norm = set()
    for a in axes:
        if not -rank <= a < rank:
            raise ValueError(f"Invalid reduction dimension {a} for input with {rank} dimensions. for '{name}' "
                             f"(op: '{op_type}') with input shapes: {fmt_shape(shape)}, "
                             f"{fmt_shape(np.shape(axis_value))} and with computed input tensors: input[1] = "
                             f"<{' '.join(str(int(v)) for v in np.ravel(axis_value))}>.")
        norm.add(a % rank)
    dims = shape.as_tuple()
    if keepdims:
        return TensorShape([1 if k in norm else d for k, d in enumerate(dims)])
    return TensorShape([d for k, d in enumerate(dims) if k not in norm])


def reduce_sum(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce("Sum", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_mean(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce("Mean", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_max(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce("Max", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_min(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce("Min", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_prod(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce("Prod", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def _arg(op_type, input, axis, name, dimension, output_type):  # noqa: A002
    axis = _lookup("axis", axis, "dimension", dimension)
    if axis is None:
        axis = 0
    output_type = dtypes.as_dtype(output_type)
    check_dtype("output_type", output_type, (dtypes.int32, dtypes.int64))
    with op_scope(name, op_type, [input]) as scope:
        x = convert_to_tensor(input, name="input")
        check_dtype("input", x.dtype, NUM, op_type)
        axes = _static_axes(axis, "dimension")
        if len(axes) != 1:
            raise ValueError(f"{op_type} takes a single axis, got {axis!r}.")
        a = axes[0]
        dim = constant(np.int32(a), name="dimension")
        rank = x.shape.ndims
        if rank is not None:
            if not -rank <= a < rank:
                raise ValueError(f"Expected dimension in the range [{-rank}, {rank}), but got {a} for "
                                 f"'{scope[:-1]}' (op: '{op_type}') with input shapes: {fmt_shape(x.shape)}, [] "
                                 f"and with computed input tensors: input[1] = <{a}>.")
            dims = x.shape.as_tuple()
            shape = TensorShape([d for k, d in enumerate(dims) if k != a % rank])
        else:
            shape = TensorShape(None)
        attrs = {"axis": a, "output_type": output_type, "T": x.dtype, "Tidx": dtypes.int32}
        return make_op(op_type, [x, dim], [(output_type, shape)], scope, attrs).outputs[0]


def argmax(input, axis=None, name=None, dimension=None, output_type=dtypes.int64):  # noqa: A002
    return _arg("ArgMax", input, axis, name, dimension, output_type)


def argmin(input, axis=None, name=None, dimension=None, output_type=dtypes.int64):  # noqa: A002
    return _arg("ArgMin", input, axis, name, dimension, output_type)
