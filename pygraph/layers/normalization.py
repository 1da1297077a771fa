"""tf.layers.batch_normalization over the last axis, with TF1's variables (`batch_normalization/gamma`, `beta`,
`moving_mean`, `moving_variance`) and moving-average update ops in GraphKeys.UPDATE_OPS.

training=True normalises with the batch's mean and (biased) variance and its update ops move the moving
statistics by `1 - momentum` towards them; training=False normalises with the moving statistics. For
4-D inputs TF1 uses its fused kernel, whose moving variance takes the unbiased batch variance (n / (n - 1));
so does this layer. A boolean tensor `training` builds tf.conds, as TF's smart_cond does: one picks the batch
statistics (computed only in its true branch) or the moving ones, and one per moving statistic runs its
update only when training (else it returns the variable unchanged); UPDATE_OPS holds those conds' outputs."""

from __future__ import annotations

from .. import dtypes
from ..graph import GraphKeys, add_to_collection
from ..initializers import ones_initializer, zeros_initializer
from ..nn_impl import batch_normalization as nn_batch_normalization
from ..nn_impl import moments
from ..ops.control_flow import cond
from ..ops.core import constant, convert_to_tensor, op_scope
from ..ops.math import cast, identity
from ..ops.state import assign_sub
from ..scopes import get_variable
from .base import layer_scope, static_bool


def batch_normalization(inputs, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                        beta_initializer=None, gamma_initializer=None, moving_mean_initializer=None,
                        moving_variance_initializer=None, beta_regularizer=None, gamma_regularizer=None,
                        beta_constraint=None, gamma_constraint=None, training=False, trainable=True, name=None,
                        reuse=None, renorm=False, renorm_clipping=None, renorm_momentum=0.99, fused=None,
                        virtual_batch_size=None, adjustment=None):
    if renorm or virtual_batch_size is not None or adjustment is not None:
        raise NotImplementedError("tf.layers.batch_normalization: renorm, virtual_batch_size and adjustment are "
                                  "not supported yet")
    with layer_scope(name, "batch_normalization", reuse):
        x = convert_to_tensor(inputs, name="inputs")
        rank = x.shape.ndims
        if rank is None:
            raise ValueError(f"Input has undefined rank: {x.shape}")
        if not isinstance(axis, int) or axis not in (-1, rank - 1):
            raise NotImplementedError(f"tf.layers.batch_normalization: axis={axis!r} is not supported yet (the "
                                      "last axis only)")
        depth = x.shape.as_tuple()[-1]
        if depth is None:
            raise ValueError(f"Input has undefined `axis` dimension. Input shape: {x.shape}")
        dtype = x.dtype
        gamma = get_variable("gamma", [depth], dtype=dtype, initializer=gamma_initializer or ones_initializer(),
                             regularizer=gamma_regularizer, trainable=trainable,
                             constraint=gamma_constraint) if scale else None
        beta = get_variable("beta", [depth], dtype=dtype, initializer=beta_initializer or zeros_initializer(),
                            regularizer=beta_regularizer, trainable=trainable,
                            constraint=beta_constraint) if center else None
        moving_mean = get_variable("moving_mean", [depth], dtype=dtype, trainable=False,
                                   initializer=moving_mean_initializer or zeros_initializer())
        moving_var = get_variable("moving_variance", [depth], dtype=dtype, trainable=False,
                                  initializer=moving_variance_initializer or ones_initializer())
        static = static_bool(training)
        if static is False:
            return nn_batch_normalization(x, moving_mean, moving_var, beta, gamma, epsilon)
        decay = constant(1.0 - momentum, dtype)
        if static is True:
            mean, variance, unbiased = _batch_statistics(x, rank, dtype)
            outputs = nn_batch_normalization(x, mean, variance, beta, gamma, epsilon)
            for var, value in ((moving_mean, mean), (moving_var, unbiased)):
                add_to_collection(GraphKeys.UPDATE_OPS, _moving_average_update(var, value, decay))
            return outputs
        flag = convert_to_tensor(training, dtype=dtypes.bool_, name="training")
        if flag.shape.ndims not in (None, 0):
            raise ValueError(f"training must be a scalar boolean, got shape {flag.shape}")
        mean, variance, unbiased = cond(flag, lambda: _batch_statistics(x, rank, dtype),
                                        lambda: (identity(moving_mean), identity(moving_var), identity(moving_var)))
        outputs = nn_batch_normalization(x, mean, variance, beta, gamma, epsilon)
        for var, value in ((moving_mean, mean), (moving_var, unbiased)):
            update = cond(flag, lambda var=var, value=value: _moving_average_update(var, value, decay),
                          lambda var=var: identity(var))
            add_to_collection(GraphKeys.UPDATE_OPS, update)
        return outputs


def _batch_statistics(x, rank, dtype):
    """(mean, variance, the variance for the moving average) over all axes but the last."""
    mean, variance = moments(x, list(range(rank - 1)))
    if rank != 4:
        return mean, variance, variance
    # TF's fused kernel (4-D inputs) reports the unbiased variance for the moving average
    count = x.shape.as_tuple()[:3]
    n = cast(_count(x), dtype) if None in count else constant(count[0] * count[1] * count[2], dtype)
    return mean, variance, variance * n / (n - constant(1, dtype))


def _moving_average_update(var, value, decay):
    with op_scope(None, "AssignMovingAvg", [var, value]) as s:
        return assign_sub(var, (var - value) * decay, name=s)


def _count(x):
    from ..ops.array import shape
    from ..ops.reduce import reduce_prod

    return reduce_prod(shape(x)[:3])
