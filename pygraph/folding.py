"""Constant folding and constant layouts: work a plan does once per session instead of every run."""

from __future__ import annotations

import numpy as np

from . import _runtime
from .ops import registry


def _never_fold(op):
    row = registry.REGISTRY.get(op.type)
    return (row is None or row.stateful or row.kind in (registry.SOURCE, registry.STATE, registry.HOST,
                                                        registry.CONTROL)
            or "Random" in op.type or "TruncatedNormal" in op.type or bool(op.control_inputs)
            or getattr(op, "_cond_context", None) is not None)  # a tf.cond branch runs only when taken


def fold_constants(session, needed, fed, fetch_tensors):
    """Evaluate, once per session, the subgraphs that depend only on constants (TF's constant folding).
    Returns the ops whose outputs the plan reads from session._folded instead of computing."""
    foldable = set()
    for op in needed:
        if op.type == "Const":
            foldable.add(op)
        elif op.inputs and not _never_fold(op) and all(
                t.op in foldable and t not in fed and t.dtype.is_compiled for t in op.inputs):
            foldable.add(op)
    frontier = {}
    for op in needed:
        if op not in foldable:
            for t in op.inputs:
                if t.op in foldable and t.op.type != "Const" and t not in fed:
                    frontier[t.op] = True
    for t in fetch_tensors:
        if t.op in foldable and t.op.type != "Const" and t not in fed:
            frontier[t.op] = True
    missing = [t for op in frontier for t in op.outputs if t not in session._folded]
    if missing:
        values = _exact_in_numpy(missing)
        if values is None:
            from .plan import build_plan  # the folded subgraph is itself a (fold-free) plan

            values = build_plan(session, missing, [], None, fold=False).run([])
        for t, v in zip(missing, values):
            v = np.array(v, order="C")  # keeps 0-d values 0-d
            v.setflags(write=False)
            session._folded[t] = v
    return set(frontier)


# Ops whose result numpy rounds exactly as the compiled code does (one IEEE operation in the same dtype;
# integers wrap, as the code compiled with -fwrapv does): folding them needs no compile (~0.2 s each).
_EXACT = {"Add": np.add, "AddV2": np.add, "Sub": np.subtract, "Mul": np.multiply, "Neg": np.negative,
          "Identity": np.asarray,
          # pg_max / pg_min of the templates' prelude: a NaN first operand wins, ties give the second
          "Maximum": lambda a, b: np.where(a != a, a, np.where(a > b, a, b)),
          "Minimum": lambda a, b: np.where(a != a, a, np.where(a < b, a, b))}
_EXACT_FLOAT = {"RealDiv": np.divide}


def _exact_in_numpy(tensors):
    """Values of `tensors` computed with numpy when every op they depend on is in _EXACT, else None."""
    from .plan import prune

    ops = prune(tensors, [], {})
    fp_mode = _runtime.flush_denormals()  # the compiled code's (and TF's) mode: subnormals flushed to zero
    try:
        return _fold_in_numpy(ops, tensors)
    finally:
        _runtime.restore_fp_mode(fp_mode)


def _fold_in_numpy(ops, tensors):
    env = {}
    for op in ops:
        if op.type == "Const":
            env[op.outputs[0]] = np.asarray(op.attrs["value"])
            continue
        dtype = op.outputs[0].dtype if len(op.outputs) == 1 else None
        if dtype is None or dtype.np not in (np.float32, np.float64, np.int32, np.int64) or any(
                t.dtype != dtype for t in op.inputs):
            return None
        fn = _EXACT.get(op.type) or (_EXACT_FLOAT.get(op.type) if dtype.is_floating else None)
        if fn is None:
            return None
        with np.errstate(all="ignore"):
            env[op.outputs[0]] = np.asarray(fn(*[env[t] for t in op.inputs]), dtype=dtype.np)
    return [env[t] for t in tensors]


def tall_constant_transposed(session, op, folded_ops):
    """For a matrix-vector product whose matrix is a tall constant (n x k, n >= 4k), the matrix stored
    transposed, made once per session. OpenBLAS's gemv is ~4x faster when the long dimension is the
    contiguous one (16 vs 64 us on the lecture's 20640 x 9 X), and a constant's layout is ours to pick."""
    a, b = op.inputs
    if a.op.type == "Const":
        value = a.op.attrs["value"]
    elif a.op in folded_ops:
        value = session._folded.get(a)
    else:
        return None
    if value is None or value.ndim != 2 or b.shape.ndims != 2 or op.attrs.get("transpose_b"):
        return None
    rows, cols = value.shape
    other = b.shape.as_tuple()[1]
    if rows < 4 * cols or cols > 256 or other != 1:
        return None
    key = ("transposed", a)
    if key not in session._folded:
        t = np.ascontiguousarray(value.T)
        t.setflags(write=False)
        session._folded[key] = t
    return session._folded[key]
