"""tf.nn functions TF1 composes from other ops (nn_impl.py, nn_ops.py, embedding_ops.py), with TF1's
formulas and name scopes: l2_normalize, moments, batch_normalization, in_top_k, the sigmoid
cross-entropies, dropout and embedding_lookup."""

from __future__ import annotations

import numbers

import numpy as np

from . import dtypes
from .ops.array import shape as shape_of
from .ops.array import stop_gradient
from .ops.clip import clip_by_norm
from .ops.core import convert_to_tensor, op_scope
from .ops.layout import reshape, squeeze
from .ops.math import (
    abs,
    add,
    cast,
    exp,
    greater,
    greater_equal,
    identity,
    less,
    log1p,
    logical_and,
    maximum,
    multiply,
    relu,
    rsqrt,
    square,
    squared_difference,
    where,
    zeros_like,
)
from .ops.nn_ops import is_finite
from .ops.random import random_uniform
from .ops.reduce import reduce_max, reduce_mean, reduce_sum
from .ops.reduce_more import reduce_all
from .ops.slicing import gather, one_hot


def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    """x / sqrt(max(sum(x ** 2, axis), epsilon))."""
    axis = dim if axis is None else axis
    with op_scope(name, "l2_normalize", [x]) as scope:
        x = convert_to_tensor(x, name="x")
        square_sum = reduce_sum(square(x), axis, keepdims=True)
        x_inv_norm = rsqrt(maximum(square_sum, convert_to_tensor(epsilon, dtype=x.dtype)))
        return multiply(x, x_inv_norm, name=scope)


def moments(x, axes, shift=None, name=None, keep_dims=None, keepdims=None):
    """(mean, variance) of x over `axes`; the variance uses the mean without its gradient, as TF."""
    keep = bool(keepdims if keepdims is not None else keep_dims)
    with op_scope(name, "moments", [x, shift]):
        y = convert_to_tensor(x, name="x")
        mean = reduce_mean(y, axes, keepdims=True, name="mean")
        variance = reduce_mean(squared_difference(y, stop_gradient(mean)), axes, keepdims=True, name="variance")
        if not keep:
            mean = squeeze(mean, axes)
            variance = squeeze(variance, axes)
        return mean, variance


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """scale * (x - mean) / sqrt(variance + epsilon) + offset (offset and scale may be None)."""
    with op_scope(name, "batchnorm", [x, mean, variance, scale, offset]):
        x = convert_to_tensor(x, name="x")
        inv = rsqrt(variance + variance_epsilon)
        if scale is not None:
            inv = inv * scale
        shift = offset - mean * inv if offset is not None else -mean * inv
        return x * cast(inv, x.dtype) + cast(shift, x.dtype)


def in_top_k(predictions, targets, k, name=None):
    """Whether each row's target class is among its k largest predictions; ties at the boundary count as
    in, and a row with a non-finite prediction or an out-of-range target gives False (TF's InTopKV2)."""
    with op_scope(name, "in_top_k", [predictions, targets]) as scope:
        preds = convert_to_tensor(predictions, name="predictions")
        if preds.dtype is not dtypes.float32:  # a fixed-type input, not a type attr: TF's other message
            raise TypeError(f"Input 'predictions' of 'InTopKV2' Op has type {preds.dtype.name} that does not match "
                            "expected type of float32.")
        if preds.shape.ndims is not None and preds.shape.ndims != 2:
            raise ValueError(f"predictions must be 2-dimensional, got shape {preds.shape}")
        classes = None if preds.shape.ndims is None else preds.shape.as_tuple()[1]
        if classes is None:
            raise ValueError("in_top_k: pygraph needs the number of classes (predictions' last dimension) to be "
                             "known when the graph is built")
        targets = reshape(convert_to_tensor(targets, name="targets"), [-1])  # TF requires a vector
        hot = greater(one_hot(targets, classes, dtype=dtypes.float32), 0.5)
        lowest = zeros_like(preds) - np.inf
        target_pred = reduce_max(where(hot, preds, lowest), axis=-1, keepdims=True)
        ahead = reduce_sum(cast(greater(preds, target_pred), dtypes.int32), axis=-1)
        k = cast(convert_to_tensor(k, name="k"), dtypes.int32)
        finite = logical_and(reduce_all(is_finite(preds), axis=-1), is_finite(reduce_max(target_pred, axis=-1)))
        return logical_and(finite, less(ahead, k), name=scope)


def sigmoid_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """max(x, 0) - x * z + log(1 + exp(-|x|)): the logistic loss, stable for any logits x."""
    if _sentinel is not None:
        raise ValueError("Only call `sigmoid_cross_entropy_with_logits` with named arguments (labels=..., "
                         "logits=..., ...)")
    with op_scope(name, "logistic_loss", [logits, labels]) as scope:
        logits = convert_to_tensor(logits, name="logits")
        labels = convert_to_tensor(labels, dtype=logits.dtype, name="labels")
        if not logits.shape.is_compatible_with(labels.shape):
            raise ValueError(f"logits and labels must have the same shape ({logits.shape} vs {labels.shape})")
        zeros = zeros_like(logits)
        cond = greater_equal(logits, zeros)
        relu_logits = where(cond, logits, zeros)
        neg_abs_logits = where(cond, -logits, logits)
        return add(relu_logits - logits * labels, log1p(exp(neg_abs_logits)), name=scope)


def weighted_cross_entropy_with_logits(labels=None, logits=None, pos_weight=None, name=None, targets=None):
    """The logistic loss with the positive term weighted by pos_weight (`targets` is TF1's older name for
    `labels`; positionally the two are the same argument)."""
    if targets is not None:
        if labels is not None:
            raise ValueError("Cannot specify both 'labels' and 'targets'.")
        labels = targets
    if labels is None or logits is None or pos_weight is None:
        raise ValueError("weighted_cross_entropy_with_logits needs labels, logits and pos_weight")
    targets = labels
    with op_scope(name, "logistic_loss", [logits, targets]) as scope:
        logits = convert_to_tensor(logits, name="logits")
        targets = convert_to_tensor(targets, dtype=logits.dtype, name="targets")
        if not logits.shape.is_compatible_with(targets.shape):
            raise ValueError(f"logits and targets must have the same shape ({logits.shape} vs {targets.shape})")
        log_weight = 1 + (pos_weight - 1) * targets
        return add((1 - targets) * logits, log_weight * (log1p(exp(-abs(logits))) + relu(-logits)), name=scope)


def dropout(x, keep_prob=None, noise_shape=None, seed=None, name=None, rate=None):
    """x / keep_prob where a uniform draw is >= rate (= 1 - keep_prob), else 0 (TF 1.15's formula)."""
    if keep_prob is not None:
        if rate is not None:
            raise ValueError("Cannot specify both 'rate' and 'keep_prob'.")
        try:
            rate = 1. - keep_prob
        except TypeError:
            raise ValueError(f"keep_prob must be a floating point number or Tensor (got {keep_prob!r})") from None
    if rate is None:
        raise ValueError("You must provide a rate to dropout.")
    with op_scope(name, "dropout", [x]):
        x = convert_to_tensor(x, name="x")
        if not x.dtype.is_floating:
            raise ValueError(f"x has to be a floating point tensor since it's going to be scaled. Got a "
                             f"{x.dtype.name} tensor instead.")
        if isinstance(rate, numbers.Real):
            if not 0 <= rate < 1:
                raise ValueError(f"rate must be a scalar tensor or a float in the range [0, 1), got {rate:g}")
            if rate == 0:
                return x
        rate = convert_to_tensor(rate, dtype=x.dtype, name="rate")
        if rate.shape.ndims not in (None, 0):
            raise ValueError(f"rate must be a scalar, got shape {rate.shape}")
        if rate.op.type == "Const" and float(rate.op.attrs["value"]) == 0:
            return x
        noise_shape = shape_of(x) if noise_shape is None else noise_shape
        random_tensor = random_uniform(noise_shape, seed=seed, dtype=x.dtype)
        keep_prob = 1 - rate
        scale = 1 / keep_prob
        keep_mask = greater_equal(random_tensor, rate)
        return x * scale * cast(keep_mask, x.dtype)


def embedding_lookup(params, ids, partition_strategy="mod", name=None, validate_indices=True, max_norm=None):
    """The rows of params (one tensor or variable, or a list of one) at `ids`; rows with an L2 norm over
    max_norm are scaled down to it."""
    if isinstance(params, (list, tuple)):
        if len(params) != 1:
            raise NotImplementedError("embedding_lookup over a partitioned list of params is not supported yet; "
                                      "pass one tensor or variable")
        params = params[0]
    with op_scope(name, "embedding_lookup", [params, ids]) as scope:
        params = convert_to_tensor(params, name="params")
        ids = convert_to_tensor(ids, name="ids")
        result = gather(params, ids, name=scope)
        if max_norm is not None:
            ids_rank, rank = ids.shape.ndims, result.shape.ndims
            if ids_rank is None or rank is None:
                raise ValueError("embedding_lookup with max_norm needs the ranks of ids and params to be known")
            result = clip_by_norm(result, max_norm, axes=list(range(ids_rank, rank)))
        return identity(result)
