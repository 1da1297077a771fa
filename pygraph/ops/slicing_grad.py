"""Gradients of StridedSlice (basic slicing, Tensor.__getitem__) and GatherV2.

StridedSlice: the gradient placed back where the slice came from, zeros elsewhere (TF's
StridedSliceGrad), built from layout ops.

Axis by axis, the gradient is padded with zero blocks along the sliced axis. A zero block is
zeros_like of a slice of the forward input, so its run-time sizes are right even where dims are None.
"""

from __future__ import annotations

import numpy as np

from . import slicing  # noqa: F401  (the op rows must exist before gradients attach to them)
from .layout import concat, expand_dims, reshape, squeeze, stack
from .linalg import matmul, transpose
from .math import zeros_like
from .registry import NotDifferentiable, RegisterGradient
from .slicing import one_hot


def _selection(item):
    """A spec item of an input axis as a Python slice over that axis (an index keeps its axis)."""
    if item[0] == "index":
        i = item[1]
        return slice(i, i + 1 if i != -1 else None, 1)
    _, start, stop, step, _ = item
    return slice(start, stop, step)


class _Unsupported(Exception):
    pass


def _placement(sel, size):
    """(reverse, lo, count, step, stride_end) for a selection over a dim of `size` (None: unknown), where
    the selected positions in ascending order are lo, lo+step, ..., and `stride_end` (lo + count*step)
    bounds the block they span. For unknown sizes, lo/stride_end are slice bounds usable on x."""
    start, stop, step = sel.start, sel.stop, sel.step
    if size is not None:
        positions = list(range(*sel.indices(size)))
        reverse = step < 0
        if reverse:
            positions.reverse()
        k = abs(step)
        lo = positions[0] if positions else 0
        return reverse, lo, len(positions), k, lo + len(positions) * k
    if step != 1:
        raise _Unsupported(f"a step of {step} along an axis of unknown size")
    if start is not None and stop is not None and (start < 0) != (stop < 0):
        raise _Unsupported(f"bounds {start}:{stop} of mixed signs along an axis of unknown size")
    if start is not None and stop is not None and stop < start:
        return False, start, 0, 1, start  # empty selection: the gradient is all zeros
    return False, start, None, 1, stop


@RegisterGradient("StridedSlice")
def _strided_slice_grad(op, grad):
    x = op.inputs[0]
    spec = op.get_attr("spec")
    axis_items = [item for item in spec if item[0] != "new"]
    dims = x.shape.as_tuple() or (None,) * len(axis_items)  # unknown rank: the axes after these are kept whole
    new_axes = [k for k, item in enumerate(i for i in spec if i[0] != "index") if item[0] == "new"]
    g = squeeze(grad, axis=new_axes) if new_axes else grad
    for item in axis_items:
        if item[0] == "index":
            g = expand_dims(g, item[2])
    selections = [_selection(item) for item in axis_items]
    try:
        for a, sel in enumerate(selections):
            if sel == slice(None, None, 1):
                continue
            g = _place_along(x, g, a, sel, dims[a], selections)
    except _Unsupported as e:
        raise NotImplementedError(f"The gradient of the slice '{op.name}' of {x.name} (shape {x.shape}) is not "
                                  f"supported: {e}.") from None
    return [g, None, None, None]


def _zeros(x, a, block, selections):
    """Zeros shaped like the gradient built so far, with `block` along axis a."""
    key = tuple(slice(None) if k < a else block if k == a else s for k, s in enumerate(selections))
    return zeros_like(x[key])


def _place_along(x, g, a, sel, size, selections):
    reverse, lo, count, k, end = _placement(sel, size)
    if count == 0:  # nothing was selected: all zeros
        return _zeros(x, a, slice(None), selections)
    lead = (slice(None),) * a
    if reverse:
        g = g[lead + (slice(None, None, -1),)]
    if k > 1:  # spread: [.., n, ..] -> [.., n, k, ..] with zeros after each -> [.., n*k, ..]
        g = stack([g] + [zeros_like(g)] * (k - 1), axis=a + 1)
        shape = list(g.shape.as_tuple())
        merged = shape[:a] + [count * k] + shape[a + 2:]
        if merged.count(None) > 1:
            raise _Unsupported(f"a step of {k} with {merged.count(None)} dimensions of unknown size")
        g = reshape(g, [-1 if d is None else d for d in merged])
        if end > size:  # the last spread block runs past the end
            g = g[lead + (slice(0, size - lo),)]
            end = size
    pieces = []
    if lo not in (None, 0):
        pieces.append(_zeros(x, a, slice(None, lo), selections))
    pieces.append(g)
    if end is not None and not (size is not None and end >= size):
        pieces.append(_zeros(x, a, slice(end, None), selections))
    return concat(pieces, axis=a) if len(pieces) > 1 else g


@RegisterGradient("GatherV2")
def _gather_grad(op, grad):
    """Dense scatter-add of the gradient rows back to the gathered positions, as one_hot(indices)^T @ grad
    (TF returns IndexedSlices; pygraph has no sparse gradients, and duplicates must add up)."""
    params, indices = op.inputs[0], op.inputs[1]
    axis = op.get_attr("axis")
    pdims = params.shape.as_tuple()
    if not params.shape.is_fully_defined() or indices.shape.ndims is None:
        raise NotImplementedError(f"The gradient of tf.gather '{op.name}' needs the shape of params and the rank "
                                  f"of indices known; {params.name} has shape {params.shape}, {indices.name} "
                                  f"{indices.shape}.")
    n, rest = pdims[axis], pdims[:axis] + pdims[axis + 1:]
    irank = indices.shape.ndims
    width = int(np.prod(rest, dtype=np.int64))
    # grad is [pre..., I..., post...]: bring the index axes to the front, then flatten to [J, width]
    perm = list(range(axis, axis + irank)) + list(range(axis)) + list(range(axis + irank, grad.shape.ndims))
    g = transpose(grad, perm) if perm != sorted(perm) else grad
    g2 = reshape(g, [-1, width])
    hot = reshape(one_hot(indices, n, dtype=grad.dtype), [-1, n])
    summed = reshape(matmul(hot, g2, transpose_a=True), [n] + list(rest))  # [N, pre..., post...]
    if axis:
        back = list(range(1, axis + 1)) + [0] + list(range(axis + 1, len(pdims)))
        summed = transpose(summed, back)
    return [summed, None, None]


NotDifferentiable("OneHot")
