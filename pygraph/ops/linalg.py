"""Linear algebra: tf.matmul (and Tensor's @; BatchMatMul on rank > 2), tf.transpose, tf.matrix_inverse
(batched on rank > 2)."""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..shape import TensorShape
from . import attr_checks as checks
from . import registry
from .core import check_dtype, constant, convert_to_tensor, fmt_shape, make_op, op_scope

MATMUL_TYPES = (dtypes.float32, dtypes.float64, dtypes.int32, dtypes.int64)


def _np_matmul(a, b, op):
    a = a.T if op.attrs["transpose_a"] else a
    b = b.T if op.attrs["transpose_b"] else b
    return np.matmul(a, b)


registry.register("MatMul", registry.STRUCTURED, numpy=lambda a, b, op=None: _np_matmul(a, b, op),
                  attrs={"transpose_a": "bool", "transpose_b": "bool", "T": "type"}, check=checks.matmul)
registry.register("BatchMatMul", registry.STRUCTURED,
                  numpy=lambda a, b, op=None: np.matmul(np.swapaxes(a, -1, -2) if op.attrs["adj_x"] else a,
                                                        np.swapaxes(b, -1, -2) if op.attrs["adj_y"] else b),
                  attrs={"adj_x": "bool", "adj_y": "bool", "T": "type"}, check=checks.batch_matmul)
registry.register("MatrixInverse", registry.STRUCTURED,
                  numpy=lambda x, op=None: np.linalg.inv(np.swapaxes(x, -1, -2) if op.attrs["adjoint"] else x)
                  .astype(x.dtype), attrs={"adjoint": "bool", "T": "type"}, check=checks.rank_at_least_2)
registry.register("Transpose", registry.STRUCTURED,
                  numpy=lambda x, perm=None, op=None: np.transpose(x, op.attrs["perm"]).copy(),
                  attrs={"perm": "list(int)", "T": "type", "Tperm": "type"}, check=checks.transpose)


def _rank2(op_type, name, shapes, t):
    if t.shape.ndims is not None and t.shape.ndims != 2:
        listed = ", ".join(fmt_shape(s) for s in shapes)
        hint = " (batched matrices are not supported yet)" if t.shape.ndims > 2 else ""
        raise ValueError(f"Shape must be rank 2 but is rank {t.shape.ndims} for '{name}' (op: '{op_type}') with "
                         f"input shapes: {listed}.{hint}")
    return t.shape.with_rank(2).as_tuple()


def _batch_matmul(a, b, ta, tb, scope):
    """TF1's BatchMatMul: same rank >= 3 on both sides, equal batch dims (checked at run time when unknown)."""
    ra, rb = a.shape.ndims, b.shape.ndims
    ra, rb = (ra if ra is not None else rb), (rb if rb is not None else ra)  # an unknown rank takes the other's
    if ra != rb:
        raise ValueError(f"tf.matmul of shapes {fmt_shape(a.shape)} and {fmt_shape(b.shape)} for '{scope[:-1]}': "
                         "batched matrices need both inputs of the same rank (broadcasting batch dimensions "
                         "is not supported yet)")
    da, db = a.shape.with_rank(ra).as_tuple(), b.shape.with_rank(rb).as_tuple()
    batch = []
    for x, y in zip(da[:-2], db[:-2]):
        if x is not None and y is not None and x != y:
            raise ValueError(f"Dimensions must be equal, but are {x} and {y} for '{scope[:-1]}' (op: 'BatchMatMul') "
                             f"with input shapes: {fmt_shape(a.shape)}, {fmt_shape(b.shape)}.")
        batch.append(x if x is not None else y)
    m, ka = (da[-1], da[-2]) if ta else (da[-2], da[-1])
    kb, n = (db[-1], db[-2]) if tb else (db[-2], db[-1])
    if ka is not None and kb is not None and ka != kb:
        raise ValueError(f"Dimensions must be equal, but are {ka} and {kb} for '{scope[:-1]}' (op: 'BatchMatMul') "
                         f"with input shapes: {fmt_shape(a.shape)}, {fmt_shape(b.shape)}.")
    attrs = {"adj_x": ta, "adj_y": tb, "T": a.dtype}
    return make_op("BatchMatMul", [a, b], [(a.dtype, TensorShape([*batch, m, n]))], scope, attrs).outputs[0]


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False, a_is_sparse=False,
           b_is_sparse=False, name=None):
    """tf.matmul: MatMul for rank-2 tensors, BatchMatMul (a loop of GEMMs) for two tensors of the same rank
    > 2 (adjoint = transpose for real types)."""
    with op_scope(name, "MatMul", [a, b]) as scope:
        a = convert_to_tensor(a, name="a")
        b = convert_to_tensor(b, dtype=None if hasattr(b, "dtype") else a.dtype, name="b")
        if b.dtype is not a.dtype:
            raise TypeError(f"Input 'b' of 'MatMul' Op has type {b.dtype.name} that does not match type "
                            f"{a.dtype.name} of argument 'a'.")
        check_dtype("a", a.dtype, MATMUL_TYPES, "MatMul")
        ta, tb = bool(transpose_a or adjoint_a), bool(transpose_b or adjoint_b)
        if (a.shape.ndims or 0) > 2 or (b.shape.ndims or 0) > 2:
            return _batch_matmul(a, b, ta, tb, scope)
        shapes = [a.shape, b.shape]
        da, db = _rank2("MatMul", scope[:-1], shapes, a), _rank2("MatMul", scope[:-1], shapes, b)
        m, ka = (da[1], da[0]) if ta else da
        kb, n = (db[1], db[0]) if tb else db
        if ka is not None and kb is not None and ka != kb:
            raise ValueError(f"Dimensions must be equal, but are {ka} and {kb} for '{scope[:-1]}' (op: 'MatMul') "
                             f"with input shapes: {fmt_shape(a.shape)}, {fmt_shape(b.shape)}.")
        attrs = {"transpose_a": ta, "transpose_b": tb, "T": a.dtype}
        return make_op("MatMul", [a, b], [(a.dtype, TensorShape([m, n]))], scope, attrs).outputs[0]


def transpose(a, perm=None, name="transpose", conjugate=False):
    """tf.transpose: permute the dimensions (default: reverse them)."""
    with op_scope(name, "transpose", [a]) as scope:
        x = convert_to_tensor(a, name="a")
        rank = x.shape.ndims
        if perm is None:
            if rank is None:
                raise ValueError(f"tf.transpose of {x.name}: pygraph needs the rank to reverse the dimensions.")
            perm = list(range(rank))[::-1]
        else:
            if hasattr(perm, "op"):
                if perm.op.type != "Const":
                    raise TypeError("tf.transpose: pygraph needs `perm` as Python ints or a constant.")
                perm = perm.op.attrs["value"]
            perm = [int(p) for p in np.asarray(perm).reshape(-1)]
            if rank is not None:
                if len(perm) != rank:
                    raise ValueError(f"Dimension must be {rank} but is {len(perm)} for '{scope[:-1]}' (op: "
                                     f"'Transpose') with input shapes: {fmt_shape(x.shape)}, [{len(perm)}].")
                if sorted(p % rank for p in perm) != list(range(rank)) or any(not -rank <= p < rank for p in perm):
                    raise ValueError(f"{perm} is not a valid permutation of {rank} dimensions for '{scope[:-1]}' "
                                     "(op: 'Transpose').")
        perm_t = constant(np.asarray(perm, np.int32), name="perm")
        if rank is None:
            shape = TensorShape(None)
        else:
            perm = [p % rank for p in perm]
            dims = x.shape.as_tuple()
            shape = TensorShape([dims[p] for p in perm])
        attrs = {"perm": tuple(perm), "T": x.dtype, "Tperm": dtypes.int32}
        return make_op("Transpose", [x, perm_t], [(x.dtype, shape)], scope, attrs).outputs[0]


def matrix_inverse(input, adjoint=False, name=None):  # noqa: A002
    """tf.matrix_inverse (tf.linalg.inv) of one square matrix; a singular one fails at run time with
    InvalidArgumentError("Input is not invertible.") as in TF."""
    with op_scope(name, "MatrixInverse", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        check_dtype("input", x.dtype, (dtypes.float64, dtypes.float32), "MatrixInverse")  # TF's order
        if x.shape.ndims is not None and x.shape.ndims < 2:
            raise ValueError(f"Shape must be at least rank 2 but is rank {x.shape.ndims} for '{scope[:-1]}' (op: "
                             f"'MatrixInverse') with input shapes: {fmt_shape(x.shape)}.")
        attrs = {"adjoint": bool(adjoint), "T": x.dtype}
        if x.shape.ndims is None:
            return make_op("MatrixInverse", [x], [(x.dtype, TensorShape(None))], scope, attrs).outputs[0]
        *batch, r, c = x.shape.as_tuple()
        if r is not None and c is not None and r != c:
            raise ValueError(f"Dimensions must be equal, but are {r} and {c} for '{scope[:-1]}' (op: "
                             f"'MatrixInverse') with input shapes: {fmt_shape(x.shape)}.")
        n = r if r is not None else c
        attrs = {"adjoint": bool(adjoint), "T": x.dtype}
        return make_op("MatrixInverse", [x], [(x.dtype, TensorShape([*batch, n, n]))], scope, attrs).outputs[0]
