"""Gradients of the array and layout ops: reshapes, concat/stack/unstack, tile, fill and the
broadcasting helpers (TF1's array_grad formulas); shape queries and random ops have none."""

from __future__ import annotations

from . import array, layout, random  # noqa: F401  (the op rows must exist before gradients attach to them)
from .array import broadcast_to_shape_of, shape, sum_to_shape_of
from .layout import concat, reshape, stack, unstack
from .reduce import reduce_sum
from .registry import NotDifferentiable, RegisterGradient


def _reshape_to_input(op, grad):
    return reshape(grad, shape(op.inputs[0]))


@RegisterGradient("Reshape")
def _reshape_grad(op, grad):
    return _reshape_to_input(op, grad), None


@RegisterGradient("ExpandDims")
def _expand_dims_grad(op, grad):
    return _reshape_to_input(op, grad), None


@RegisterGradient("Squeeze")
def _squeeze_grad(op, grad):
    return [_reshape_to_input(op, grad)]


@RegisterGradient("ConcatV2")
def _concat_grad(op, grad):
    """Each input gets its slice of the gradient along the concat axis. Sizes along the axis must be
    known, except for one input (its slice is what the others leave)."""
    axis = op.get_attr("axis")
    values = op.inputs[:-1]
    sizes = [t.shape[axis].value for t in values]
    if sizes.count(None) > 1:
        raise NotImplementedError(
            f"The gradient of ConcatV2 '{op.name}' needs the sizes along axis {axis} of all but one input; "
            f"{sizes.count(None)} of them are unknown (None).")
    lead = (slice(None),) * axis
    out, start = [], 0
    for k, n in enumerate(sizes):
        if n is None:  # the unknown one: from here to where the known later inputs begin
            after = sum(sizes[k + 1:])
            out.append(grad[lead + (slice(start, -after if after else None),)])
            start = -after
            continue
        stop = start + n
        if start < 0:  # after the unknown input: count from the end
            out.append(grad[lead + (slice(start, stop if stop < 0 else None),)])
        else:
            out.append(grad[lead + (slice(start, stop),)])
        start = stop
    return out + [None]


@RegisterGradient("Pack")
def _pack_grad(op, grad):
    return unstack(grad, num=len(op.inputs), axis=op.get_attr("axis"))


@RegisterGradient("Unpack")
def _unpack_grad(op, *grads):
    if any(g is None for g in grads):  # integer outputs: no gradient
        return [None]
    return [stack(list(grads), axis=op.get_attr("axis"))]


def _split_grad_value(op, grads, value):
    """As TF's _SplitGrad: one concat of the outputs' gradients along the axis, zeros for those without one."""
    from ..ops.math import zeros_like

    if all(g is None for g in grads):
        return None
    parts = [zeros_like(out) if g is None else g for g, out in zip(grads, op.outputs)]
    return concat(parts, op.get_attr("axis"))


@RegisterGradient("Split")
def _split_grad(op, *grads):
    return [None, _split_grad_value(op, grads, op.inputs[1])]


@RegisterGradient("SplitV")
def _splitv_grad(op, *grads):
    return [_split_grad_value(op, grads, op.inputs[0]), None, None]


@RegisterGradient("Tile")
def _tile_grad(op, grad):
    """Sum the tiled copies: reshape to [m0, d0, m1, d1, ...] and reduce over the multiples' axes."""
    multiples = op.get_attr("multiples")
    if all(m == 1 for m in multiples):
        return grad, None
    x = op.inputs[0]
    split, summed_axes = [], []  # grad as [m0, d0, m1, d1, ...], without the m == 1 and with runs of dims merged
    for d, m in zip(x.shape.as_tuple() or (None,) * len(multiples), multiples):
        if m != 1:
            summed_axes.append(len(split))
            split.append(m)
        elif split and len(split) - 1 not in summed_axes:  # the previous entry is a dim: merge with it
            split[-1] = None if d is None or split[-1] is None else split[-1] * d
            continue
        split.append(d)
    if split.count(None) > 1:
        raise NotImplementedError(f"The gradient of Tile '{op.name}' needs all but one dimension of its input "
                                  f"known; the input has shape {x.shape}.")
    summed = reduce_sum(reshape(grad, [-1 if d is None else d for d in split]), summed_axes)
    return reshape(summed, x.shape.as_list() if x.shape.is_fully_defined() else shape(x)), None


@RegisterGradient("Fill")
def _fill_grad(op, grad):
    return None, reduce_sum(grad)


@RegisterGradient("SumToShape")
def _sum_to_shape_grad(op, grad):
    return broadcast_to_shape_of(grad, op.inputs[0]), None


@RegisterGradient("BroadcastLike")
def _broadcast_like_grad(op, grad):
    return sum_to_shape_of(grad, op.inputs[0]), None


for _t in ("Shape", "Size", "Range", "RandomUniform", "RandomStandardNormal", "TruncatedNormal", "RandomUniformInt"):
    NotDifferentiable(_t)
