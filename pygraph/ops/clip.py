"""tf.clip_by_value, clip_by_norm, global_norm, clip_by_global_norm: TF1's formulas (clip_ops.py), built
from existing ops so that their gradients come from those ops."""

from __future__ import annotations

from collections.abc import Sequence

from .core import constant, convert_to_tensor, op_scope
from .layout import stack
from .math import cast, greater, identity, maximum, minimum, ones_like, sqrt, where
from .reduce import reduce_sum
from .reduce_more import l2_loss


def _keep_shape(values, result, what):
    # TF merges the shapes: a clip bound may not broadcast the input to a bigger shape
    if not values.shape.is_compatible_with(result.shape):
        raise ValueError(f"{what}: the clipping values would broadcast t (shape {values.shape}) to shape "
                         f"{result.shape}")


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """t with every element put into [clip_value_min, clip_value_max]."""
    with op_scope(name, "clip_by_value", [t, clip_value_min, clip_value_max]) as scope:
        values = convert_to_tensor(t, name="t")
        t_min = minimum(values, clip_value_max)
        _keep_shape(values, t_min, "clip_by_value")
        t_max = maximum(t_min, clip_value_min, name=scope)
        _keep_shape(values, t_max, "clip_by_value")
        return t_max


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """t * clip_norm / max(l2norm(t, axes), clip_norm): rescaled to L2 norm clip_norm where it is larger."""
    with op_scope(name, "clip_by_norm", [t, clip_norm]) as scope:
        values = convert_to_tensor(t, name="t")
        l2sum = reduce_sum(values * values, axes, keepdims=True)
        pred = greater(l2sum, constant(0, l2sum.dtype))
        # two where()s: sqrt never sees 0, so the gradient has no NaN at t = 0
        l2sum_safe = where(pred, l2sum, ones_like(l2sum))
        l2norm = where(pred, sqrt(l2sum_safe), l2sum)
        intermediate = values * clip_norm
        _keep_shape(values, intermediate, "clip_by_norm")
        return identity(intermediate / maximum(l2norm, clip_norm), name=scope)


def _check_list(t_list):
    if not isinstance(t_list, Sequence) or isinstance(t_list, (str, bytes)):
        raise TypeError("t_list should be a sequence")
    return list(t_list)


def global_norm(t_list, name=None):
    """sqrt(sum of the squared L2 norms of the tensors in t_list); None entries are skipped."""
    t_list = _check_list(t_list)
    with op_scope(name, "global_norm", [t for t in t_list if t is not None]):
        values = [None if t is None else convert_to_tensor(t, name=f"t_{i}") for i, t in enumerate(t_list)]
        half_squared_norms = [l2_loss(v) for v in values if v is not None]
        half_squared_norm = reduce_sum(stack(half_squared_norms))
        return sqrt(half_squared_norm * constant(2.0, half_squared_norm.dtype), name="global_norm")


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """(tensors each scaled by clip_norm / max(global_norm, clip_norm), the global norm). An infinite or
    NaN norm makes every output NaN, as in TF."""
    t_list = _check_list(t_list)
    if use_norm is None:
        use_norm = global_norm(t_list, name)
    present = [t for t in t_list if t is not None]
    with op_scope(name, "clip_by_global_norm", present + [clip_norm]) as scope:
        use_norm = convert_to_tensor(use_norm)
        scale_for_finite = clip_norm * minimum(1.0 / use_norm, constant(1.0, use_norm.dtype) / clip_norm)
        scale = scale_for_finite + (use_norm - use_norm)
        values = [None if t is None else convert_to_tensor(t, name=f"t_{i}") for i, t in enumerate(t_list)]
        clipped = [None if v is None else identity(v * cast(scale, v.dtype), name=f"{scope}_{i}")
                   for i, v in enumerate(values)]
    return clipped, use_norm
