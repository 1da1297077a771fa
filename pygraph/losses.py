"""tf.losses (TF1's losses_impl.py): per-element losses, weighted and reduced as `reduction` says, each
added to GraphKeys.LOSSES; plus the collection helpers get_losses, get_regularization_loss(es) and
get_total_loss. As in TF1, the weighting and reduction run in float32 and the result is cast back to the
input's dtype."""

from __future__ import annotations

from . import dtypes, nn
from .graph import GraphKeys, add_to_collection, get_collection
from .nn_impl import sigmoid_cross_entropy_with_logits
from .ops.array import shape as shape_of
from .ops.array import size, stop_gradient
from .ops.core import constant, convert_to_tensor, fmt_shape, op_scope
from .ops.layout import squeeze
from .ops.math import (
    abs,
    add,
    add_n,
    cast,
    equal,
    greater,
    log,
    minimum,
    multiply,
    ones_like,
    relu,
    squared_difference,
    subtract,
    truediv,
    where,
    zeros_like,
)
from .ops.reduce import reduce_sum


class Reduction:
    """How a weighted loss is reduced (TF1's tf.losses.Reduction)."""

    NONE = "none"
    SUM = "weighted_sum"
    MEAN = "weighted_mean"  # the sum divided by the sum of the weights
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"  # divided by the number of elements
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"  # divided by the number of non-zero weights
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls):
        return (cls.NONE, cls.SUM, cls.MEAN, cls.SUM_OVER_BATCH_SIZE, cls.SUM_OVER_NONZERO_WEIGHTS,
                cls.SUM_BY_NONZERO_WEIGHTS)

    @classmethod
    def validate(cls, key):
        if key not in cls.all():
            raise ValueError(f"Invalid Reduction Key {key}.")


def _safe_div(numerator, denominator):
    """numerator / denominator, 0 where the denominator is 0 (TF's div_no_nan)."""
    safe = where(equal(denominator, 0.0), ones_like(denominator), denominator)
    return where(greater(denominator, 0.0), truediv(numerator, safe), zeros_like(numerator), name="value")


def _num_elements(losses):
    with op_scope(None, "num_elements", [losses]) as scope:
        return cast(size(losses, name=scope), dtypes.float32)


def _num_present(losses, weights):
    """The number of elements of `losses` whose (broadcast) weight is not zero."""
    if isinstance(weights, float) and weights != 0.0:
        return _num_elements(losses)
    with op_scope(None, "num_present", [losses, weights]) as scope:
        weights = cast(weights, dtypes.float32)
        present = where(equal(weights, 0.0), zeros_like(weights), ones_like(weights))
        present = present * ones_like(losses)  # broadcast_weights
        return reduce_sum(present, name=scope)


def _check_broadcastable(weights, losses):
    """TF's assert_broadcastable, on static shapes: a scalar, or the losses' rank with dims 1 or equal."""
    w, v = weights.shape, losses.shape
    if w.ndims in (None, 0) or v.ndims is None:
        return
    bad = w.ndims != v.ndims or any(a not in (1, None) and b is not None and a != b
                                    for a, b in zip(w.as_tuple(), v.as_tuple()))
    if bad:
        raise ValueError(f"weights can not be broadcast to values. values.shape={fmt_shape(v)}. "
                         f"weights.shape={fmt_shape(w)}.")


def compute_weighted_loss(losses, weights=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
                          reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """losses * weights, reduced by `reduction`, added to `loss_collection`."""
    Reduction.validate(reduction)
    with op_scope(scope, "weighted_loss", [losses, weights]):
        losses = convert_to_tensor(losses)
        input_dtype = losses.dtype
        raw_weights = weights
        weights_t = convert_to_tensor(weights)
        _check_broadcastable(weights_t, losses)
        losses = cast(losses, dtypes.float32)
        weights_t = cast(weights_t, dtypes.float32)
        weighted_losses = multiply(losses, weights_t)
        if reduction == Reduction.NONE:
            loss = weighted_losses
        else:
            loss = reduce_sum(weighted_losses)
            if reduction == Reduction.MEAN:
                loss = _safe_div(loss, reduce_sum(ones_like(losses) * weights_t))
            elif reduction == Reduction.SUM_BY_NONZERO_WEIGHTS:
                loss = _safe_div(loss, _num_present(losses, raw_weights if isinstance(raw_weights, float)
                                                    else weights_t))
            elif reduction == Reduction.SUM_OVER_BATCH_SIZE:
                loss = _safe_div(loss, _num_elements(losses))
        loss = cast(loss, input_dtype)
        if loss_collection is not None:
            add_to_collection(loss_collection, loss)
        return loss


def _pair(labels, predictions, what=("labels", "predictions")):
    if labels is None:
        raise ValueError(f"{what[0]} must not be None.")
    if predictions is None:
        raise ValueError(f"{what[1]} must not be None.")


def _floats(labels, predictions):
    predictions = cast(convert_to_tensor(predictions), dtypes.float32)
    labels = cast(convert_to_tensor(labels), dtypes.float32)
    if not predictions.shape.is_compatible_with(labels.shape):
        raise ValueError(f"Shapes {fmt_shape(predictions.shape)} and {fmt_shape(labels.shape)} are incompatible")
    return labels, predictions


def absolute_difference(labels, predictions, weights=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
                        reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """|predictions - labels|, weighted and reduced."""
    _pair(labels, predictions)
    with op_scope(scope, "absolute_difference", [predictions, labels, weights]) as scope:
        labels, predictions = _floats(labels, predictions)
        losses = abs(subtract(predictions, labels))
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def mean_squared_error(labels, predictions, weights=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
                       reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """(predictions - labels) ** 2, weighted and reduced."""
    _pair(labels, predictions)
    with op_scope(scope, "mean_squared_error", [predictions, labels, weights]) as scope:
        labels, predictions = _floats(labels, predictions)
        losses = squared_difference(predictions, labels)
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def huber_loss(labels, predictions, weights=1.0, delta=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
               reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """0.5 * x ** 2 for |x| <= delta, else 0.5 * delta ** 2 + delta * (|x| - delta), x = predictions - labels."""
    _pair(labels, predictions)
    with op_scope(scope, "huber_loss", [predictions, labels, weights]) as scope:
        labels, predictions = _floats(labels, predictions)
        abs_error = abs(subtract(predictions, labels))
        quadratic = minimum(abs_error, delta)
        linear = subtract(abs_error, quadratic)  # not maximum(|x| - delta, 0): no double slope at |x| = delta
        losses = add(multiply(constant(0.5, quadratic.dtype), multiply(quadratic, quadratic)),
                     multiply(delta, linear))
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def hinge_loss(labels, logits, weights=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
               reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """max(0, 1 - (2 * labels - 1) * logits) for labels in {0, 1}, weighted and reduced."""
    _pair(labels, logits, ("labels", "logits"))
    with op_scope(scope, "hinge_loss", [logits, labels, weights]) as scope:
        labels, logits = _floats(labels, logits)
        all_ones = ones_like(labels)
        labels = subtract(2 * labels, all_ones)
        losses = relu(subtract(all_ones, multiply(labels, logits)))
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def cosine_distance(labels, predictions, axis=None, weights=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
                    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS, dim=None):
    """1 - sum(labels * predictions, axis) (both assumed unit-normalized), weighted and reduced."""
    if dim is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'axis' and 'dim'")
        axis = dim
    if axis is None:
        raise ValueError("You must specify 'axis'.")
    _pair(labels, predictions)
    with op_scope(scope, "cosine_distance_loss", [predictions, labels, weights]) as scope:
        labels, predictions = _floats(labels, predictions)
        losses = 1 - reduce_sum(multiply(predictions, labels), axis=(axis,), keepdims=True)
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def log_loss(labels, predictions, weights=1.0, epsilon=1e-7, scope=None, loss_collection=GraphKeys.LOSSES,
             reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """-labels * log(p + eps) - (1 - labels) * log(1 - p + eps), weighted and reduced."""
    _pair(labels, predictions)
    with op_scope(scope, "log_loss", [predictions, labels, weights]) as scope:
        labels, predictions = _floats(labels, predictions)
        losses = (-multiply(labels, log(predictions + epsilon))
                  - multiply(1 - labels, log(1 - predictions + epsilon)))
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def sigmoid_cross_entropy(multi_class_labels, logits, weights=1.0, label_smoothing=0, scope=None,
                          loss_collection=GraphKeys.LOSSES, reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """tf.nn.sigmoid_cross_entropy_with_logits, labels smoothed towards 1/2, weighted and reduced."""
    _pair(multi_class_labels, logits, ("multi_class_labels", "logits"))
    with op_scope(scope, "sigmoid_cross_entropy_loss", [logits, multi_class_labels, weights]) as scope:
        logits = convert_to_tensor(logits)
        labels = cast(convert_to_tensor(multi_class_labels), logits.dtype)
        if not logits.shape.is_compatible_with(labels.shape):
            raise ValueError(f"Shapes {fmt_shape(logits.shape)} and {fmt_shape(labels.shape)} are incompatible")
        if label_smoothing > 0:
            labels = labels * (1 - label_smoothing) + 0.5 * label_smoothing
        losses = sigmoid_cross_entropy_with_logits(labels=labels, logits=logits, name="xentropy")
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def softmax_cross_entropy(onehot_labels, logits, weights=1.0, label_smoothing=0, scope=None,
                          loss_collection=GraphKeys.LOSSES, reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """Softmax cross-entropy per row, labels smoothed towards 1/num_classes, weighted and reduced."""
    _pair(onehot_labels, logits, ("onehot_labels", "logits"))
    with op_scope(scope, "softmax_cross_entropy_loss", [logits, onehot_labels, weights]) as scope:
        logits = convert_to_tensor(logits)
        labels = cast(convert_to_tensor(onehot_labels), logits.dtype)
        if not logits.shape.is_compatible_with(labels.shape):
            raise ValueError(f"Shapes {fmt_shape(logits.shape)} and {fmt_shape(labels.shape)} are incompatible")
        if label_smoothing > 0:
            num_classes = cast(shape_of(labels)[1], logits.dtype)
            labels = labels * (1.0 - label_smoothing) + label_smoothing / num_classes
        labels = stop_gradient(labels, name="labels_stop_gradient")
        losses = nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits, name="xentropy")
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def sparse_softmax_cross_entropy(labels, logits, weights=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
                                 reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """Softmax cross-entropy of class-index labels, weighted and reduced. Labels with a trailing size-1
    dimension ([batch, 1]) and weights one rank above the labels are squeezed, as in TF."""
    _pair(labels, logits, ("labels", "logits"))
    with op_scope(scope, "sparse_softmax_cross_entropy_loss", [logits, labels, weights]) as scope:
        labels, logits = convert_to_tensor(labels), convert_to_tensor(logits)
        lr, gr = labels.shape.ndims, logits.shape.ndims
        if lr is not None and gr is not None and lr - gr == 0 and labels.shape.as_tuple()[-1] in (1, None):
            labels = squeeze(labels, [-1])  # remove_squeezable_dimensions(expected_rank_diff=1)
        if not isinstance(weights, float):
            weights = convert_to_tensor(weights)
            wr, lr = weights.shape.ndims, labels.shape.ndims
            if wr is not None and lr is not None and wr - lr == 1:
                weights = squeeze(weights, [-1])
        losses = nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits, name="xentropy")
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def get_losses(scope=None, loss_collection=GraphKeys.LOSSES):
    """The losses in `loss_collection` (those whose name matches `scope`, if given)."""
    return get_collection(loss_collection, scope)


def get_regularization_losses(scope=None):
    """The tensors in GraphKeys.REGULARIZATION_LOSSES (e.g. from tf.layers' kernel_regularizer)."""
    return get_collection(GraphKeys.REGULARIZATION_LOSSES, scope)


def get_regularization_loss(scope=None, name="total_regularization_loss"):
    """The sum of the regularization losses, or 0.0 when there are none."""
    losses = get_regularization_losses(scope)
    if losses:
        return add_n(losses, name=name)
    return constant(0.0)


def get_total_loss(add_regularization_losses=True, name="total_loss", scope=None):
    """The sum of the losses in GraphKeys.LOSSES and, by default, the regularization losses."""
    losses = get_losses(scope=scope)
    if add_regularization_losses:
        losses += get_regularization_losses(scope=scope)
    return add_n(losses, name=name)


def add_loss(loss, loss_collection=GraphKeys.LOSSES):
    """Add `loss` to `loss_collection` (if not None)."""
    if loss_collection is not None:
        add_to_collection(loss_collection, loss)
