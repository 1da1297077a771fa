"""Basic slicing (Tensor.__getitem__): t[i], t[a:b:c], t[:, 1], t[..., None] as one StridedSlice op.

The op has TF's inputs (begin, end, strides constants) and masks; the code generator reads the attr
`spec`, the key with the ellipsis expanded: ("index", i, axis), ("range", start, stop, step, axis) or
("new",) per item, with open bounds as None. On an input of unknown rank the spec names only the leading
axes the key names; the code generator keeps the axes after them whole, once the rank is fed.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..graph import Tensor
from ..shape import TensorShape
from . import attr_checks as checks
from . import registry
from .core import constant, convert_to_tensor, fmt_shape, make_op, op_scope


def _np_strided_slice(x, *_bounds, op=None):
    key = []
    for item in op.attrs["spec"]:
        if item[0] == "new":
            key.append(None)
        elif item[0] == "index":
            key.append(item[1])
        else:
            key.append(slice(item[1], item[2], item[3]))
    return np.array(x[tuple(key)])


_MASKS = ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")
registry.register("StridedSlice", registry.STRUCTURED, numpy=_np_strided_slice,
                  attrs={**{m: "int" for m in _MASKS}, "spec": "slice_spec", "T": "type", "Index": "type"},
                  check=checks.strided_slice)


def _int(v, what):
    if isinstance(v, Tensor):
        if v.op.type == "Const" and v.op.attrs["value"].ndim == 0:
            v = v.op.attrs["value"]
        else:
            raise TypeError(f"pygraph supports slicing with Python ints only; {what} is the tensor {v.name} "
                            "(tensor-valued slice bounds would make the output shape depend on run-time values).")
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError("Only integers, slices (`:`), ellipsis (`...`), tf.newaxis (`None`) and scalar tf.int32/"
                        f"tf.int64 tensors are valid indices, got {v!r}")
    return int(v)


def _opt(v, what):
    return None if v is None else _int(v, what)


def _normalize(key):
    """Items of the key as ("index", i) / ("range", a, b, c) / ("new",) / ("ellipsis",)."""
    items = []
    for k in key:
        if k is Ellipsis:
            items.append(("ellipsis",))
        elif k is None:
            items.append(("new",))
        elif isinstance(k, slice):
            step = _opt(k.step, "a slice step")
            if step == 0:
                raise ValueError("slice step cannot be zero")
            items.append(("range", _opt(k.start, "a slice start"), _opt(k.stop, "a slice stop"),
                          1 if step is None else step))
        else:
            items.append(("index", _int(k, "an index")))
    if sum(1 for i in items if i[0] == "ellipsis") > 1:
        raise ValueError("Multiple ellipses in slice spec not allowed")
    return items


def _tf_bounds(items):
    """begin/end/strides and masks as TF's _slice_helper builds them."""
    begin, end, strides = [], [], []
    masks = {"begin_mask": 0, "end_mask": 0, "ellipsis_mask": 0, "new_axis_mask": 0, "shrink_axis_mask": 0}
    for j, item in enumerate(items):
        bit = 1 << j
        if item[0] == "range":
            _, a, b, c = item
            begin.append(a or 0)
            end.append(b or 0)
            strides.append(c)
            masks["begin_mask"] |= bit if a is None else 0
            masks["end_mask"] |= bit if b is None else 0
        elif item[0] == "index":
            begin.append(item[1])
            end.append(item[1] + 1)
            strides.append(1)
            masks["shrink_axis_mask"] |= bit
        else:
            begin.append(0)
            end.append(0)
            strides.append(1)
            masks["ellipsis_mask" if item[0] == "ellipsis" else "new_axis_mask"] |= bit
    return begin, end, strides, masks


def strided_slice_getitem(tensor, key):
    """Tensor.__getitem__ for basic slicing."""
    if not isinstance(key, tuple):
        key = (key,)
    with op_scope(None, "strided_slice", [tensor]) as scope:
        x = convert_to_tensor(tensor)
        items = _normalize(key)
        rank = x.shape.ndims
        consumed = sum(1 for i in items if i[0] in ("index", "range"))
        if rank is None:  # the spec names the leading axes; the rest, known once fed, are kept whole
            if any(i[0] == "ellipsis" for i in items[:-1]):
                raise ValueError(f"Slicing {x.name} of unknown rank: pygraph needs the rank for an ellipsis "
                                 "before other items (one at the end is fine).")
            items = [i for i in items if i[0] != "ellipsis"]
            rank = consumed
            unknown_rank = True
        else:
            unknown_rank = False
        if consumed > rank:
            raise ValueError(f"Index out of range using input dim {rank}; input has only {rank} dims for "
                             f"'{scope[:-1]}' (op: 'StridedSlice') with input shapes: {fmt_shape(x.shape)}.")
        begin, end, strides, masks = _tf_bounds(items)
        dims = (None,) * rank if unknown_rank else x.shape.as_tuple()
        spec, out, axis = [], [], 0
        expanded = []
        for item in items:
            if item[0] == "ellipsis":
                expanded += [("range", None, None, 1)] * (rank - consumed)
            else:
                expanded.append(item)
        expanded += [("range", None, None, 1)] * (rank - sum(1 for i in expanded if i[0] != "new"))
        for item in expanded:
            if item[0] == "new":
                spec.append(("new",))
                out.append(1)
                continue
            d = dims[axis]
            if item[0] == "index":
                i = item[1]
                if d is not None and not -d <= i < d:
                    raise ValueError(f"slice index {i} of dimension {axis} out of bounds. for '{scope[:-1]}' (op: "
                                     f"'StridedSlice') with input shapes: {fmt_shape(x.shape)}.")
                spec.append(("index", i, axis))
            else:
                _, a, b, c = item
                spec.append(("range", a, b, c, axis))
                out.append(None if d is None else len(range(*slice(a, b, c).indices(d))))
            axis += 1
        b_t = constant(np.asarray(begin, np.int32), dtype=dtypes.int32, name="stack")
        e_t = constant(np.asarray(end, np.int32), dtype=dtypes.int32, name="stack_1")
        s_t = constant(np.asarray(strides, np.int32), dtype=dtypes.int32, name="stack_2")
        attrs = dict(masks, spec=tuple(spec), T=x.dtype, Index=dtypes.int32)
        out = None if unknown_rank else out
        return make_op("StridedSlice", [x, b_t, e_t, s_t], [(x.dtype, TensorShape(out))], scope, attrs).outputs[0]


registry.register("GatherV2", registry.STRUCTURED,
                  numpy=lambda p, i, a=None, op=None: np.take(p, i, axis=op.attrs["axis"]),
                  attrs={"axis": "int", "Tparams": "type", "Tindices": "type", "Taxis": "type"},
                  check=checks.gather)
registry.register("OneHot", registry.STRUCTURED, numpy=lambda i, depth, on, off, op=None: np.where(
    np.expand_dims(i, op.attrs["axis"]) == np.arange(op.attrs["depth"]).reshape(
        [-1] + [1] * (i.ndim - (op.attrs["axis"] % (i.ndim + 1)))), on, off),
                  attrs={"axis": "int", "depth": "int", "T": "type", "TI": "type"}, check=checks.one_hot)


def gather(params, indices, validate_indices=None, name=None, axis=0):
    """tf.gather (GatherV2) along a static axis; an index out of range fails at run time, as in TF."""
    with op_scope(name, "GatherV2", [params, indices]) as scope:
        p = convert_to_tensor(params, name="params")
        i = convert_to_tensor(indices, name="indices")
        if i.dtype not in (dtypes.int32, dtypes.int64):
            raise TypeError(f"Value passed to parameter 'indices' has DataType {i.dtype.name} not in list of allowed "
                            "values: int32, int64")
        a = _int(axis, "the axis of tf.gather")
        rank = p.shape.ndims
        attrs = {"axis": a, "Tparams": p.dtype, "Tindices": i.dtype, "Taxis": dtypes.int32}
        if rank is None or i.shape.ndims is None:  # codegen takes the axis modulo the rank fed at run time
            return make_op("GatherV2", [p, i, constant(np.int32(a), name="axis")], [(p.dtype, TensorShape(None))],
                           scope, attrs).outputs[0]
        if not -rank <= a < rank:
            raise ValueError(f"Shape must be at least rank {a + 1} but is rank {rank} for '{scope[:-1]}' (op: "
                             f"'GatherV2') with input shapes: {fmt_shape(p.shape)}, {fmt_shape(i.shape)}, [].")
        a %= rank
        dims = p.shape.as_tuple()
        out = TensorShape(dims[:a] + i.shape.as_tuple() + dims[a + 1:])
        axis_t = constant(np.int32(a), name="axis")
        attrs = {"axis": a, "Tparams": p.dtype, "Tindices": i.dtype, "Taxis": dtypes.int32}
        return make_op("GatherV2", [p, i, axis_t], [(p.dtype, out)], scope, attrs).outputs[0]


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """tf.one_hot with a static depth; indices out of [0, depth) give an all-off row, as in TF."""
    with op_scope(name, "one_hot", [indices, on_value, off_value]) as scope:
        i = convert_to_tensor(indices, name="indices")
        if i.dtype not in (dtypes.int32, dtypes.int64):
            raise TypeError(f"Value passed to parameter 'indices' has DataType {i.dtype.name} not in list of allowed "
                            "values: int32, int64")
        depth = _int(depth, "depth")
        if dtype is None:
            ref = on_value if on_value is not None else off_value
            dtype = convert_to_tensor(ref).dtype if ref is not None else dtypes.float32
        dtype = dtypes.as_dtype(dtype)
        on = convert_to_tensor(1 if on_value is None else on_value, dtype=dtype, name="on_value")
        off = convert_to_tensor(0 if off_value is None else off_value, dtype=dtype, name="off_value")
        rank = i.shape.ndims
        axis = -1 if axis is None else int(axis)
        if not -1 <= axis <= (axis if rank is None else rank):
            raise ValueError(f"Expected axis to be -1 or between [0, {rank}).  But received: {axis}")
        dims = None
        if rank is not None:
            dims = list(i.shape.as_tuple())
            dims.insert(rank if axis == -1 else axis, depth)
        depth_t = constant(np.int32(depth), name="depth")
        attrs = {"axis": axis, "depth": depth, "T": dtype, "TI": i.dtype}
        return make_op("OneHot", [i, depth_t, on, off], [(dtype, TensorShape(dims))], scope, attrs).outputs[0]
