"""tf.nn.top_k (TF's TopKV2: values and int32 indices of the k largest entries of each last-axis row, largest
first, equal values in index order), and tf.sort / tf.argsort built on it as TF builds them. The gradient
scatters each value's gradient back to the index it came from."""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..shape import TensorShape
from . import attr_checks, registry
from .attr_schema import AttrError
from .core import constant, convert_to_tensor, fmt_shape, make_op, op_scope
from .registry import RegisterGradient

SORTABLE = (dtypes.float32, dtypes.float64, dtypes.int32, dtypes.int64)


def _np_top_k(x, k_input, op):
    k = op.attrs["k"]
    if k > np.shape(x)[-1]:
        raise ValueError(f"input must have at least k columns. Had {np.shape(x)[-1]}, needed {k}")
    order = np.argsort(-x if x.dtype.kind == "f" else -x.astype(np.float64), axis=-1, kind="stable")[..., :k]
    return np.take_along_axis(x, order, -1), order.astype(np.int32)


def _check_top_k(attrs, inputs, outputs):
    if attrs["k"] < 0:
        raise AttrError(f"attr 'k' must be >= 0, got {attrs['k']}")
    if inputs[0].dtype not in SORTABLE or inputs[0].dtype != attrs["T"]:
        raise AttrError(f"input {inputs[0].name} has dtype {inputs[0].dtype.name}; attr 'T' is {attrs['T'].name}")
    if inputs[1].op.type != "Const" or inputs[1].op.attrs["value"].tolist() != attrs["k"]:
        raise AttrError(f"input {inputs[1].name} must be a constant holding attr 'k' = {attrs['k']}")
    if [o[0] for o in outputs] != [attrs["T"], dtypes.int32]:
        raise AttrError(f"outputs must be ({attrs['T'].name}, int32)")


# `k` is an input in TF; pygraph also keeps its (constant) value as an attr, which code generation reads
registry.register("TopKV2", registry.STRUCTURED, numpy=_np_top_k,
                  attrs={"sorted": "bool", "T": "type", "k": "int"}, check=_check_top_k)
attr_checks.ARITY["TopKV2"] = 2
attr_checks.OUTPUTS["TopKV2"] = 2


def top_k(input, k=1, sorted=True, name=None):  # noqa: A002
    """(values, indices) of the k largest entries along the last axis; k must be a Python int (or a
    constant)."""
    with op_scope(name, "TopKV2", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        if x.dtype not in SORTABLE:
            raise TypeError(f"Value passed to parameter 'input' has DataType {x.dtype.name} not in list of allowed "
                            "values: float32, float64, int32, int64 (op TopKV2)")
        if hasattr(k, "op"):
            if k.op.type != "Const":
                raise NotImplementedError("tf.nn.top_k: pygraph needs k as a Python int or a constant")
            k = k.op.attrs["value"].item()
        k = int(k)
        if x.shape.ndims == 0:
            raise ValueError(f"Shape must be at least rank 1 but is rank 0 for '{scope[:-1]}' (op: 'TopKV2') with "
                             f"input shapes: {fmt_shape(x.shape)}, [].")
        if k < 0:
            raise ValueError(f"Invalid k: need k >= 0, got {k}")
        dims = x.shape.as_tuple()
        if dims is not None and dims[-1] is not None and dims[-1] < k:
            raise ValueError(f"input must have at least k columns. Had {dims[-1]}, needed {k} for '{scope[:-1]}' "
                             "(op: 'TopKV2').")
        shape = TensorShape(None) if dims is None else TensorShape([*dims[:-1], k])
        op = make_op("TopKV2", [x, constant(np.int32(k), name="k")], [(x.dtype, shape), (dtypes.int32, shape)],
                     scope, {"sorted": bool(sorted), "T": x.dtype, "k": k})
        return op.outputs[0], op.outputs[1]


def _whole_axis(values, axis, what):
    from .linalg import transpose

    x = convert_to_tensor(values, name="values")
    rank = x.shape.ndims
    if rank is None:
        raise NotImplementedError(f"tf.{what}: pygraph needs the rank of the values")
    axis = int(axis) % rank if rank else 0
    if axis != rank - 1:
        perm = list(range(rank))
        perm[axis], perm[-1] = perm[-1], perm[axis]
        x = transpose(x, perm)
    n = x.shape.as_tuple()[-1]
    if n is None:
        raise NotImplementedError(f"tf.{what}: pygraph needs the size of the sorted axis to be known")
    return x, n, (None if axis == rank - 1 else perm)


def _direction(direction):
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"`direction` must be one of \"ASCENDING\", \"DESCENDING\"; got {direction!r}")
    return direction == "ASCENDING"


def sort(values, axis=-1, direction="ASCENDING", name=None):
    """tf.sort: top_k over the whole axis (of the negated values when ascending, as TF does)."""
    from .linalg import transpose
    from .math import negative

    ascending = _direction(direction)
    with op_scope(name, "sort", [values]):
        x, n, perm = _whole_axis(values, axis, "sort")
        if ascending and x.dtype.is_integer:
            raise NotImplementedError("tf.sort: ascending integer sorts are not supported yet (negation wraps)")
        out = negative(top_k(negative(x), n)[0]) if ascending else top_k(x, n)[0]
        return out if perm is None else transpose(out, perm)


def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None):
    """tf.argsort: the int32 indices that sort the axis (equal values keep index order)."""
    from .linalg import transpose
    from .math import negative

    ascending = _direction(direction)
    with op_scope(name, "argsort", [values]):
        x, n, perm = _whole_axis(values, axis, "argsort")
        if ascending and x.dtype.is_integer:
            raise NotImplementedError("tf.argsort: ascending integer sorts are not supported yet (negation wraps)")
        out = top_k(negative(x) if ascending else x, n)[1]
        return out if perm is None else transpose(out, perm)


@RegisterGradient("TopKV2")
def _top_k_grad(op, grad_values, grad_indices=None):
    """Each value's gradient goes to the input entry it was taken from: sum_k one_hot(index_k) * grad_k."""
    from .layout import expand_dims
    from .reduce import reduce_sum
    from .slicing import one_hot

    x = op.inputs[0]
    n = x.shape.as_tuple()[-1] if x.shape.ndims is not None else None
    if n is None:
        raise NotImplementedError("The gradient of tf.nn.top_k needs the size of the input's last axis")
    if grad_values is None:
        return [None, None]
    picks = one_hot(op.outputs[1], n, dtype=x.dtype)  # [..., k, n]
    return [reduce_sum(picks * expand_dims(grad_values, -1), axis=-2), None]
