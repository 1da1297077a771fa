"""Layout ops: reshape, expand_dims, squeeze, concat, split, stack, unstack, tile (re-exported by array.py).

Shape-like arguments are static (Python ints, lists or constants) and kept as attrs for the code generator;
as in TF they are also the op's inputs (constants), so the graph has TF's structure. A reshape or fill may
also take the result of tf.shape(x), whose run-time value the generated code knows.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..graph import Tensor
from ..shape import TensorShape
from . import attr_checks as checks
from . import registry
from .core import constant, convert_to_tensor, fmt_shape, make_op, op_scope

registry.register("Reshape", registry.STRUCTURED, numpy=lambda x, s, op=None: np.reshape(x, s),
                  attrs={"shape": "?list(int)", "T": "type", "Tshape": "?type"}, check=checks.reshape)
registry.register("ExpandDims", registry.STRUCTURED, numpy=lambda x, a, op=None: np.expand_dims(x, int(a)),
                  attrs={"axis": "int", "T": "type", "Tdim": "?type"}, check=checks.expand_dims)
registry.register("Squeeze", registry.STRUCTURED,
                  numpy=lambda x, op=None: np.squeeze(x, axis=tuple(op.attrs["squeeze_dims"]) or None),
                  attrs={"squeeze_dims": "list(int)", "T": "type"}, check=checks.squeeze)
registry.register("ConcatV2", registry.STRUCTURED, numpy=lambda *xs, op=None: np.concatenate(xs[:-1], int(xs[-1])),
                  attrs={"axis": "int", "N": "int", "T": "type", "Tidx": "type"}, check=checks.concat)
registry.register("Pack", registry.STRUCTURED, numpy=lambda *xs, op=None: np.stack(xs, op.attrs["axis"]),
                  attrs={"axis": "int", "N": "int", "T": "type"}, check=checks.pack)
registry.register("Unpack", registry.STRUCTURED,
                  numpy=lambda x, op=None: tuple(np.moveaxis(x, op.attrs["axis"], 0)),
                  attrs={"axis": "int", "num": "int", "T": "type"}, check=checks.unpack)
registry.register("Split", registry.STRUCTURED,
                  numpy=lambda a, x, op=None: tuple(np.split(x, op.attrs["num_split"], op.attrs["axis"])),
                  attrs={"axis": "int", "num_split": "int", "T": "type"}, check=checks.split)
registry.register("SplitV", registry.STRUCTURED,
                  numpy=lambda x, s, a, op=None: tuple(np.split(x, np.cumsum(op.attrs["size_splits"])[:-1],
                                                                op.attrs["axis"])),
                  attrs={"axis": "int", "size_splits": "list(int)", "num_split": "int", "T": "type", "Tlen": "type"},
                  check=checks.split)
registry.register("Tile", registry.STRUCTURED,  # Python ints: int32 multiples would wrap numpy's shape product
                  numpy=lambda x, m, op=None: np.tile(x, [int(k) for k in m]),
                  attrs={"multiples": "list(int)", "T": "type", "Tmultiples": "type"}, check=checks.tile)


def static_ints(value, what):
    """Python ints from a list/array/constant tensor; a tf.shape(x) result gives None (known at run time)."""
    if isinstance(value, TensorShape):
        if not value.is_fully_defined():
            raise ValueError(f"{what} must be fully defined, got {value}.")
        value = value.as_list()
    if isinstance(value, Tensor):
        if value.op.type == "Const":
            value = value.op.attrs["value"]
        elif value.op.type == "Shape":
            return None
        else:
            raise TypeError(f"pygraph needs {what} as Python ints, a constant or tf.shape(x); got the tensor "
                            f"{value.name} computed by {value.op.type}.")
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu" and arr.size:
        raise TypeError(f"{what} must be integers, got {value!r}.")
    return [int(v) for v in arr.reshape(-1)]


def _shape_tensor(value, ints, name="shape"):
    if isinstance(value, Tensor):
        return value
    return constant(np.asarray(ints, np.int32).reshape(np.shape(value)), dtype=dtypes.int32, name=name)


def reshape(tensor, shape, name=None):
    """tf.reshape. At most one -1; a wrong element count fails at construction when known, else at run time."""
    with op_scope(name, "Reshape", [tensor, shape]) as scope:
        x = convert_to_tensor(tensor, name="tensor")
        target = static_ints(shape, "the shape of tf.reshape")
        shape_t = _shape_tensor(shape, target)
        if target is None:  # tf.reshape(x, tf.shape(y)): y's dims
            out = shape.op.inputs[0].shape
            return make_op("Reshape", [x, shape_t], [(x.dtype, out)], scope, {"shape": None, "T": x.dtype}).outputs[0]
        if target.count(-1) > 1 or any(d < -1 for d in target):
            raise ValueError(f"Cannot reshape to {target} for '{scope[:-1]}' (op: 'Reshape'): only one input size "
                             "may be -1, and sizes must be non-negative.")
        known = int(np.prod([d for d in target if d != -1]))
        n = x.shape.num_elements()
        out = list(target)
        if -1 in target:
            k = target.index(-1)
            if n is not None:
                if known == 0 or n % known:
                    raise ValueError(f"Cannot reshape a tensor with {n} elements to shape {target} for "
                                     f"'{scope[:-1]}' (op: 'Reshape') with input shapes: {fmt_shape(x.shape)}, "
                                     f"[{len(target)}].")
                out[k] = n // known
            else:
                out[k] = None
        elif n is not None and n != known:
            raise ValueError(f"Cannot reshape a tensor with {n} elements to shape {fmt_shape(target)} ({known} "
                             f"elements) for '{scope[:-1]}' (op: 'Reshape') with input shapes: {fmt_shape(x.shape)}"
                             f", [{len(target)}].")
        attrs = {"shape": tuple(target), "T": x.dtype, "Tshape": dtypes.int32}
        return make_op("Reshape", [x, shape_t], [(x.dtype, TensorShape(out))], scope, attrs).outputs[0]


def expand_dims(input, axis=None, name=None, dim=None):  # noqa: A002
    if dim is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'axis' and 'dim'.")
        axis = dim
    if axis is None:
        raise ValueError("Must specify an axis argument to tf.expand_dims()")
    with op_scope(name, "ExpandDims", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        (a,) = static_ints(axis, "the axis of tf.expand_dims")
        rank = x.shape.ndims
        if rank is None:  # a negative axis counts from the rank fed at run time (codegen normalizes it)
            return make_op("ExpandDims", [x, constant(np.int32(a), name="dim")], [(x.dtype, TensorShape(None))],
                           scope, {"axis": a, "T": x.dtype, "Tdim": dtypes.int32}).outputs[0]
        if not -rank - 1 <= a <= rank:
            raise ValueError(f"Tried to expand dim index {a} for tensor with {rank} dimensions. for '{scope[:-1]}' "
                             f"(op: 'ExpandDims') with input shapes: {fmt_shape(x.shape)}, [].")
        a = a + rank + 1 if a < 0 else a
        dims = list(x.shape.as_tuple())
        dims.insert(a, 1)
        dim_t = constant(np.int32(a), name="dim")
        return make_op("ExpandDims", [x, dim_t], [(x.dtype, TensorShape(dims))], scope,
                       {"axis": a, "T": x.dtype, "Tdim": dtypes.int32}).outputs[0]


def squeeze(input, axis=None, name=None, squeeze_dims=None):  # noqa: A002
    if squeeze_dims is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'axis' and 'squeeze_dims'.")
        axis = squeeze_dims
    with op_scope(name, "Squeeze", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        rank = x.shape.ndims
        if rank is None:
            if axis is None or (isinstance(axis, (list, tuple)) and not axis):
                raise ValueError(f"tf.squeeze of {x.name}: pygraph needs `axis` when the rank is unknown (its output "
                                 "rank would depend on run-time sizes).")
            axes = tuple(static_ints(axis, "the axis of tf.squeeze"))  # codegen takes them modulo the fed rank
            return make_op("Squeeze", [x], [(x.dtype, TensorShape(None))], scope,
                           {"squeeze_dims": axes, "T": x.dtype}).outputs[0]
        dims = x.shape.as_tuple()
        if axis is None or (isinstance(axis, (list, tuple)) and not axis):
            if any(d is None for d in dims):
                raise ValueError(f"tf.squeeze of {fmt_shape(x.shape)} for '{scope[:-1]}': pygraph needs `axis` when "
                                 "a dimension is unknown (its output rank would depend on run-time sizes).")
            axes = [k for k, d in enumerate(dims) if d == 1]
        else:
            axes = static_ints(axis, "the axis of tf.squeeze")
            for a in axes:
                if not -rank <= a < rank:
                    raise ValueError(f"Tried to squeeze dim index {a} for tensor with {rank} dimensions. for "
                                     f"'{scope[:-1]}' (op: 'Squeeze') with input shapes: {fmt_shape(x.shape)}.")
                if dims[a] not in (None, 1):
                    raise ValueError(f"Can not squeeze dim[{a % rank}], expected a dimension of 1, got {dims[a]} for "
                                     f"'{scope[:-1]}' (op: 'Squeeze') with input shapes: {fmt_shape(x.shape)}.")
            axes = sorted({a % rank for a in axes})
        out = [d for k, d in enumerate(dims) if k not in axes]
        return make_op("Squeeze", [x], [(x.dtype, TensorShape(out))], scope,
                       {"squeeze_dims": tuple(axes), "T": x.dtype}).outputs[0]


def _same_dtype(op_type, ts):
    for k, t in enumerate(ts[1:], 1):
        if t.dtype is not ts[0].dtype:
            names = ", ".join(u.dtype.name for u in ts)
            raise TypeError(f"Tensors in list passed to 'values' of '{op_type}' Op have types [{names}] that don't "
                            f"all match (values[{k}]).")


def concat(values, axis, name="concat"):
    """tf.concat (ConcatV2); one value gives an identity, as in TF."""
    if not isinstance(values, (list, tuple)):
        values = [values]
    with op_scope(name, "concat", values) as scope:
        ts = [convert_to_tensor(v) for v in values]
        if len(ts) == 1:
            from .math import identity

            return identity(ts[0], name=scope)
        _same_dtype("ConcatV2", ts)
        (a,) = static_ints(axis, "the axis of tf.concat")
        ranks = {t.shape.ndims for t in ts} - {None}
        if len(ranks) != 1:
            listed = ", ".join(fmt_shape(t.shape) for t in ts)
            if not ranks:  # every rank is unknown: codegen checks them (and the axis) once fed
                attrs = {"axis": a, "N": len(ts), "T": ts[0].dtype, "Tidx": dtypes.int32}
                axis_t = constant(np.int32(a), name="axis")
                return make_op("ConcatV2", ts + [axis_t], [(ts[0].dtype, TensorShape(None))], scope, attrs).outputs[0]
            raise ValueError(f"Shape must be rank {min(ranks)} but is rank {max(ranks)} for '{scope[:-1]}' (op: "
                             f"'ConcatV2') with input shapes: {listed}, [].")
        rank = ranks.pop()
        if not -rank <= a < rank:
            raise ValueError(f"ConcatOp : Expected concatenating dimensions in the range [{-rank}, {rank}), but got "
                             f"{a} (op '{scope[:-1]}').")
        a %= rank
        out = list(ts[0].shape.with_rank(rank).as_tuple())
        for t in ts[1:]:
            d = t.shape.with_rank(rank).as_tuple()
            for k in range(rank):
                if k == a:
                    out[k] = None if out[k] is None or d[k] is None else out[k] + d[k]
                elif out[k] is not None and d[k] is not None and out[k] != d[k]:
                    raise ValueError(f"Dimension {k} in both shapes must be equal, but are {out[k]} and {d[k]}. "
                                     f"Shapes are {fmt_shape(ts[0].shape)} and {fmt_shape(t.shape)}. for "
                                     f"'{scope[:-1]}' (op: 'ConcatV2') with input shapes: "
                                     f"{', '.join(fmt_shape(u.shape) for u in ts)}, [] and with computed input "
                                     f"tensors: input[{len(ts)}] = <{a}>.")
                elif out[k] is None:
                    out[k] = d[k]
        axis_t = constant(np.int32(a), name="axis")
        attrs = {"axis": a, "N": len(ts), "T": ts[0].dtype, "Tidx": dtypes.int32}
        return make_op("ConcatV2", ts + [axis_t], [(ts[0].dtype, TensorShape(out))], scope, attrs).outputs[0]


def split(value, num_or_size_splits, axis=0, num=None, name="split"):
    """tf.split: an int gives Split (equal parts), a list or 1-D constant of sizes (one may be -1) gives SplitV.
    The axis and the sizes are static; the split dimension must be known when the graph is built."""
    with op_scope(name, "split", [value]) as scope:
        x = convert_to_tensor(value, name="value")
        (a,) = static_ints(axis, "the axis of tf.split")
        rank = x.shape.ndims
        if rank is None:
            raise NotImplementedError(f"pygraph's tf.split '{scope[:-1]}' needs an input of known rank")
        if not -rank <= a < rank:
            raise ValueError(f"Dimension must be in range [{-rank}, {rank}) but is {a} for '{scope[:-1]}' (op: "
                             f"'Split') with input shapes: [], {fmt_shape(x.shape)}.")
        a %= rank
        dims = x.shape.as_tuple()
        d = dims[a]
        if isinstance(num_or_size_splits, (int, np.integer)) and not isinstance(num_or_size_splits, bool):
            n = int(num_or_size_splits)
            if n < 1:
                raise ValueError(f"Value for attr 'num_split' of {n} must be at least minimum 1 (op Split "
                                 f"'{scope[:-1]}').")
            if d is None:
                raise NotImplementedError(f"pygraph's tf.split '{scope[:-1]}' needs the size of dimension {a} of "
                                          f"{fmt_shape(x.shape)} known when the graph is built")
            if d % n:
                raise ValueError(f"Dimension size must be evenly divisible by {n} but is {d} for '{scope[:-1]}' "
                                 f"(op: 'Split') with input shapes: [], {fmt_shape(x.shape)}.")
            sizes, op_type = [d // n] * n, "Split"
        else:
            if np.ndim(num_or_size_splits) == 0:
                raise ValueError("Rank-0 tensors are not supported as the num_or_size_splits argument to split. "
                                 f"Argument provided: {num_or_size_splits}")
            sizes = static_ints(num_or_size_splits, "the num_or_size_splits of tf.split")
            if num is not None and num != len(sizes):
                raise ValueError(f"tf.split '{scope[:-1]}': num = {num} but num_or_size_splits has {len(sizes)} "
                                 "sizes")
            if not sizes:
                raise ValueError(f"Value for attr 'num_split' of 0 must be at least minimum 1 (op SplitV "
                                 f"'{scope[:-1]}').")
            unknown = [k for k, s in enumerate(sizes) if s == -1]
            if len(unknown) > 1:
                raise ValueError(f"Only one dimensions can have a value of -1. Second one found at dimension "
                                 f"{unknown[1]} for '{scope[:-1]}' (op: 'SplitV').")
            if any(s < -1 for s in sizes):
                raise ValueError(f"tf.split '{scope[:-1]}': sizes must be >= 0 (or one -1), got {sizes}")
            if d is None:
                raise NotImplementedError(f"pygraph's tf.split '{scope[:-1]}' needs the size of dimension {a} of "
                                          f"{fmt_shape(x.shape)} known when the graph is built")
            known = sum(s for s in sizes if s != -1)
            if (unknown and known > d) or (not unknown and known != d):
                raise ValueError("Determined shape must either match input shape along split_dim exactly if fully "
                                 "specified, or be less than the size of the input along split_dim if not fully "
                                 f"specified.  Got: {known} for '{scope[:-1]}' (op: 'SplitV') with input shapes: "
                                 f"{fmt_shape(x.shape)}, [{len(sizes)}], [].")
            if unknown:
                sizes[unknown[0]] = d - known
            op_type = "SplitV"
        outputs = [(x.dtype, TensorShape(dims[:a] + (s,) + dims[a + 1:])) for s in sizes]
        axis_t = constant(np.int32(a), name="split_dim" if op_type == "Split" else "axis")
        if op_type == "Split":
            op = make_op("Split", [axis_t, x], outputs, scope, {"axis": a, "num_split": len(sizes), "T": x.dtype})
        else:
            sizes_t = constant(np.asarray(sizes, np.int32), name="size_splits")
            op = make_op("SplitV", [x, sizes_t, axis_t], outputs, scope,
                         {"axis": a, "size_splits": list(sizes), "num_split": len(sizes), "T": x.dtype,
                          "Tlen": dtypes.int32})
        return list(op.outputs)


def stack(values, axis=0, name="stack"):
    """tf.stack (Pack); a list of Python values with axis 0 becomes a constant, as in TF1."""
    if axis == 0:
        try:
            return convert_to_tensor(values, name=name)
        except (TypeError, ValueError):
            pass
    with op_scope(name, "stack", values) as scope:
        ts = [convert_to_tensor(v) for v in values]
        if not ts:
            raise ValueError("tf.stack needs at least one value.")
        _same_dtype("Pack", ts)
        shape = TensorShape(ts[0].shape)
        for t in ts[1:]:
            if not shape.is_compatible_with(t.shape):
                raise ValueError(f"Shapes {fmt_shape(ts[0].shape)} and {fmt_shape(t.shape)} are incompatible "
                                 f"(op Pack '{scope[:-1]}').")
            shape = shape.merge_with(t.shape)
        if shape.ndims is None:  # codegen checks the ranks and the axis once fed
            return make_op("Pack", ts, [(ts[0].dtype, TensorShape(None))], scope,
                           {"axis": int(axis), "N": len(ts), "T": ts[0].dtype}).outputs[0]
        rank = shape.ndims + 1
        if not -rank <= axis < rank:
            raise ValueError(f"Argument `axis` = {axis} not in range [{-rank}, {rank})")
        a = axis % rank
        dims = list(shape.as_tuple())
        dims.insert(a, len(ts))
        return make_op("Pack", ts, [(ts[0].dtype, TensorShape(dims))], scope,
                       {"axis": a, "N": len(ts), "T": ts[0].dtype}).outputs[0]


def unstack(value, num=None, axis=0, name="unstack"):
    """tf.unstack (Unpack): the slices along `axis` as a list of tensors."""
    with op_scope(name, "unstack", [value]) as scope:
        x = convert_to_tensor(value, name="value")
        rank = x.shape.ndims
        if rank is None:
            if num is None:
                raise ValueError(f"Cannot infer num from shape {fmt_shape(x.shape)}")
            op = make_op("Unpack", [x], [(x.dtype, TensorShape(None))] * num, scope,
                         {"axis": int(axis), "num": num, "T": x.dtype})  # codegen takes the axis modulo the rank
            return list(op.outputs)
        if not -rank <= axis < rank:
            raise ValueError(f"axis = {axis} not in [{-rank}, {rank})")
        a = axis % rank
        dims = x.shape.as_tuple()
        if num is None:
            num = dims[a]
            if num is None:
                raise ValueError(f"Cannot infer num from shape {fmt_shape(x.shape)}")
        elif dims[a] is not None and dims[a] != num:
            raise ValueError(f"Dimension must be {num} but is {dims[a]} for '{scope[:-1]}' (op: 'Unpack') with "
                             f"input shapes: {fmt_shape(x.shape)}.")
        out = TensorShape(dims[:a] + dims[a + 1:])
        op = make_op("Unpack", [x], [(x.dtype, out)] * num, scope, {"axis": a, "num": num, "T": x.dtype})
        return list(op.outputs)


def tile(input, multiples, name=None):  # noqa: A002
    with op_scope(name, "Tile", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        m = static_ints(multiples, "the multiples of tf.tile")
        if m is None:
            raise TypeError("tf.tile: pygraph needs `multiples` as Python ints or a constant.")
        rank = x.shape.ndims
        if rank is not None and len(m) != rank:
            raise ValueError(f"Shape must be rank {rank} but is rank {len(m)} for '{scope[:-1]}' (op: 'Tile') with "
                             f"input shapes: {fmt_shape(x.shape)}, [{len(m)}].")
        if any(v < 0 for v in m):
            raise ValueError(f"Expected multiples[i] >= 0, but got {m} (op '{scope[:-1]}').")
        mt = _shape_tensor(multiples, m, name="multiples")
        dims = [None if d is None else d * k for d, k in zip(x.shape.as_tuple(), m)] if rank is not None else None
        return make_op("Tile", [x, mt], [(x.dtype, TensorShape(dims))], scope,
                       {"multiples": tuple(m), "T": x.dtype, "Tmultiples": dtypes.int32}).outputs[0]
