"""Array ops: shape queries, the broadcasting helpers the gradients use, filled tensors (zeros, ones, fill,
range) and stop_gradient. Layout ops live in layout.py and slicing in slicing.py; this module re-exports
them (tf.reshape is pygraph.ops.array.reshape)."""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..shape import TensorShape
from . import attr_checks as checks
from . import registry
from .core import constant, convert_to_tensor, fmt_shape, make_op, op_scope
from .layout import concat, expand_dims, reshape, split, squeeze, stack, static_ints, tile, unstack  # noqa: F401
from .math import cast
from .slicing import gather, one_hot, strided_slice_getitem  # noqa: F401

registry.register("Shape", registry.STRUCTURED,
                  numpy=lambda x, op=None: np.asarray(np.shape(x), dtype=op.attrs["out_type"].np),
                  attrs={"out_type": "type", "T": "type"})
registry.register("Size", registry.STRUCTURED,
                  numpy=lambda x, op=None: np.asarray(np.size(x), dtype=op.attrs["out_type"].np),
                  attrs={"out_type": "type", "T": "type"})
registry.register("SumToShape", registry.STRUCTURED, numpy=lambda g, x, op=None: _np_sum_to_shape(g, np.shape(x)),
                  attrs={"T": "type"})
registry.register("BroadcastLike", registry.STRUCTURED,
                  numpy=lambda v, x, op=None: np.broadcast_to(v, np.shape(x)).copy(), attrs={"T": "type"})
registry.register("Fill", registry.STRUCTURED, numpy=lambda dims, v, op=None: np.full(dims, v),
                  attrs={"shape": "?list(int)", "T": "type"}, check=checks.fill)
registry.register("Range", registry.STRUCTURED,
                  numpy=lambda a, b, c, op=None: np.arange(op.attrs["size"]).astype(op.attrs["Tidx"].np) * c + a,
                  attrs={"start": "float", "delta": "float", "size": "int", "Tidx": "type"}, check=checks.range_)
registry.register("StopGradient", registry.ELEMENTWISE, numpy=lambda x: x, attrs={"T": "type"})
registry.NotDifferentiable("StopGradient")  # as TF: no gradient flows through (it counts as zero)


def _np_sum_to_shape(g, shape):
    lead = g.ndim - len(shape)
    axes = tuple(np.arange(lead).tolist())
    axes += tuple(lead + k for k, d in enumerate(shape) if d == 1 and g.shape[lead + k] != 1)
    return np.sum(g, axis=axes, dtype=g.dtype).reshape(shape)


def _out_type(dtype, what):
    dtype = dtypes.as_dtype(dtype)
    if dtype not in (dtypes.int32, dtypes.int64):
        raise TypeError(f"Value passed to parameter 'out_type' has DataType {dtype.name} not in list of allowed "
                        f"values: int32, int64 ({what})")
    return dtype


def shape(input, name=None, out_type=dtypes.int32):  # noqa: A002
    """tf.shape: a constant when the shape is fully known, else a Shape op computed at run time."""
    out_type = _out_type(out_type, "Shape")
    with op_scope(name, "Shape", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        if x.shape.is_fully_defined():
            return constant(np.asarray(x.shape.as_list(), dtype=out_type.np), dtype=out_type, name=scope)
        return make_op("Shape", [x], [(out_type, TensorShape([x.shape.ndims]))], scope,
                       {"out_type": out_type, "T": x.dtype}).outputs[0]


def size(input, name=None, out_type=dtypes.int32):  # noqa: A002
    """tf.size: the number of elements (a constant when the shape is fully known)."""
    out_type = _out_type(out_type, "Size")
    with op_scope(name, "Size", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        if x.shape.is_fully_defined():
            return constant(np.asarray(x.shape.num_elements(), dtype=out_type.np), dtype=out_type, name=scope)
        return make_op("Size", [x], [(out_type, TensorShape(()))], scope,
                       {"out_type": out_type, "T": x.dtype}).outputs[0]


def rank(input, name=None):  # noqa: A002
    """tf.rank: a constant when the graph knows the rank, else the run-time length of tf.shape(input)."""
    with op_scope(name, "Rank", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        if x.shape.ndims is None:
            return size(shape(x), name=scope)
        return constant(np.int32(x.shape.ndims), name=scope)


def size_as(x, dtype, name=None):
    """The run-time number of elements of `x` as a scalar of `dtype` (a constant when x's shape is known).
    Used by gradients (e.g. of reduce_mean)."""
    dtype = dtypes.as_dtype(dtype)
    x = convert_to_tensor(x)
    with op_scope(name, "Size", [x]) as scope:
        if x.shape.is_fully_defined():
            return constant(np.asarray(x.shape.num_elements()).astype(dtype.np), dtype=dtype, name=scope)
        out_type = dtypes.int32 if dtype is dtypes.int32 else dtypes.int64
        if out_type is dtype:
            return make_op("Size", [x], [(out_type, TensorShape(()))], scope,
                           {"out_type": out_type, "T": x.dtype}).outputs[0]
        n = make_op("Size", [x], [(out_type, TensorShape(()))], "Size", {"out_type": out_type, "T": x.dtype})
        return cast(n.outputs[0], dtype, name=scope)


def _check_broadcastable(op_type, name, small, big):
    """Static check that `small` broadcasts to `big` (dims of small are 1 or big's); returns the refined
    target shape (big's unknown dims filled from small's non-1 dims)."""
    if small.ndims is None or big.ndims is None:
        return big
    s, b = small.as_tuple(), big.as_tuple()
    if len(s) > len(b):
        raise ValueError(f"Shapes must be equal rank, but are {len(s)} and {len(b)} for '{name}' (op: '{op_type}') "
                         f"with input shapes: {fmt_shape(small)}, {fmt_shape(big)}.")
    lead = len(b) - len(s)
    out = list(b)
    for k, sd in enumerate(s):
        bd = b[lead + k]
        if sd is not None and bd is not None and sd != bd and sd != 1:
            raise ValueError(f"Incompatible shapes for '{name}' (op: '{op_type}'): {fmt_shape(small)} cannot be "
                             f"broadcast to {fmt_shape(big)} (dimension {lead + k}: {sd} vs. {bd}).")
        if bd is None and sd not in (None, 1):
            out[lead + k] = sd
    return TensorShape(out)


def sum_to_shape_of(grad, x, name=None):
    """Sum `grad` (a value broadcast from x's shape) over the broadcast axes, giving x's run-time shape."""
    with op_scope(name, "SumToShape", [grad, x]) as scope:
        grad = convert_to_tensor(grad, name="grad")
        x = convert_to_tensor(x, name="x")
        if grad.dtype is not x.dtype:
            raise TypeError(f"sum_to_shape_of: grad has dtype {grad.dtype.name} but x has {x.dtype.name} "
                            f"(op SumToShape '{scope[:-1]}').")
        target = _check_broadcastable("SumToShape", scope[:-1], x.shape, grad.shape)
        del target
        out = x.shape
        return make_op("SumToShape", [grad, x], [(grad.dtype, out)], scope, {"T": grad.dtype}).outputs[0]


def broadcast_to_shape_of(value, x, name=None):
    """Broadcast `value` to x's run-time shape (value's dims must be 1 or equal to x's)."""
    with op_scope(name, "BroadcastLike", [value, x]) as scope:
        x = convert_to_tensor(x, name="x")
        value = convert_to_tensor(value, dtype=x.dtype if not hasattr(value, "dtype") else None, name="value")
        if value.dtype is not x.dtype:
            raise TypeError(f"broadcast_to_shape_of: value has dtype {value.dtype.name} but x has {x.dtype.name} "
                            f"(op BroadcastLike '{scope[:-1]}').")
        out = _check_broadcastable("BroadcastLike", scope[:-1], value.shape, x.shape)
        return make_op("BroadcastLike", [value, x], [(value.dtype, out)], scope, {"T": value.dtype}).outputs[0]


def stop_gradient(input, name=None):  # noqa: A002
    """tf.stop_gradient: the identity, through which tf.gradients passes no gradient."""
    with op_scope(name, "StopGradient", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        return make_op("StopGradient", [x], [(x.dtype, x.shape)], scope, {"T": x.dtype}).outputs[0]


def fill(dims, value, name=None):
    """tf.fill: a tensor of shape `dims` (static, or tf.shape(x)) holding `value`."""
    with op_scope(name, "Fill", [value]) as scope:
        target = static_ints(dims, "the dims of tf.fill")
        v = convert_to_tensor(value, name="value")
        if v.shape.ndims not in (None, 0):
            raise ValueError(f"Shape must be rank 0 but is rank {v.shape.ndims} for '{scope[:-1]}' (op: 'Fill').")
        if target is None:
            dims_t, out, static = dims, dims.op.inputs[0].shape, None
        else:
            if any(d < 0 for d in target):
                raise ValueError(f"Fill dimensions must be >= 0, got {target} (op '{scope[:-1]}').")
            dims_t = constant(np.asarray(target, np.int32).reshape(np.shape(dims)), dtype=dtypes.int32, name="dims")
            out, static = TensorShape(target), tuple(target)
        return make_op("Fill", [dims_t, v], [(v.dtype, out)], scope, {"shape": static, "T": v.dtype}).outputs[0]


def _filled(value, shape, dtype, name, default):
    dtype = dtypes.as_dtype(dtype)
    value = bool(value) if dtype is dtypes.bool_ else value
    with op_scope(name, default, []) as scope:
        target = static_ints(shape, f"the shape of tf.{default}")
        if target is not None and int(np.prod(target)) < 1000:  # small: a constant, as TF1
            return constant(value, dtype=dtype, shape=target, name=scope)
        if target is not None:
            shape = constant(np.asarray(target, np.int32), dtype=dtypes.int32, name="shape_as_tensor")
        return fill(shape, constant(value, dtype=dtype, name="Const"), name=scope)


def zeros(shape, dtype=dtypes.float32, name=None):
    return _filled(0, shape, dtype, name, "zeros")


def ones(shape, dtype=dtypes.float32, name=None):
    return _filled(1, shape, dtype, name, "ones")


_RANGE_TYPES = (dtypes.int32, dtypes.int64, dtypes.float32, dtypes.float64)


def range(start, limit=None, delta=1, dtype=None, name="range"):  # noqa: A001 (TF's name)
    """tf.range with static bounds (Python numbers or constants)."""
    if limit is None:
        start, limit = 0, start
    with op_scope(name, "Range", []) as scope:
        ts = [convert_to_tensor(v, dtype=dtype, name=n) for v, n in ((start, "start"), (limit, "limit"),
                                                                      (delta, "delta"))]
        if dtype is None:
            dtype = max((t.dtype for t in ts), key=_RANGE_TYPES.index)
            ts = [cast(t, dtype) for t in ts]
        dtype = dtypes.as_dtype(dtype)
        values = []
        for t in ts:
            if t.op.type != "Const":
                raise TypeError("tf.range: pygraph needs start, limit and delta as Python numbers or constants "
                                "(the output size must be known when the graph is built).")
            values.append(t.op.attrs["value"].item())
        a, b, c = values
        if c == 0:
            raise ValueError(f"Requires delta != 0: {c} (op '{scope[:-1]}')")
        if (c > 0 and a > b) or (c < 0 and a < b):
            raise ValueError(f"Requires start {'<=' if c > 0 else '>='} limit when delta {'>' if c > 0 else '<'} 0: "
                             f"{a}/{b} (op '{scope[:-1]}')")
        n = (abs(b - a) + abs(c) - 1) // abs(c) if dtype.is_integer else int(np.ceil(abs((b - a) / c)))
        attrs = {"start": a, "delta": c, "size": n, "Tidx": dtype}
        return make_op("Range", ts, [(dtype, TensorShape([n]))], scope, attrs).outputs[0]
