"""tf.nn: activations, softmax and the cross-entropy losses, as compositions of existing ops, so that
fusion and gradients come from those ops; the sparse softmax cross-entropy is TF's own op (ops/xent.py),
which checks the labels' range."""

from __future__ import annotations

from . import dtypes
from .nn_impl import (  # noqa: F401
    batch_normalization,
    dropout,
    embedding_lookup,
    in_top_k,
    l2_normalize,
    moments,
    sigmoid_cross_entropy_with_logits,
    weighted_cross_entropy_with_logits,
)
from .ops.array import shape as shape_of
from .ops.array import stop_gradient
from .ops.conv import avg_pool, conv2d, max_pool  # noqa: F401
from .ops.core import convert_to_tensor, make_op, op_scope
from .ops.layout import reshape
from .ops.math import exp, log, negative, relu, sigmoid, softplus, subtract, tanh, truediv  # noqa: F401
from .ops.nn_ops import bias_add, elu, leaky_relu, relu6, selu, softsign  # noqa: F401
from .ops.reduce import reduce_max, reduce_sum
from .ops.reduce_more import l2_loss  # noqa: F401
from .ops.sorting import top_k  # noqa: F401
from .rnn import dynamic_rnn, rnn_cell  # noqa: F401
from .shape import TensorShape


def _shifted(x, axis):
    # softmax is shift-invariant: subtracting the (gradient-free) max keeps exp() finite
    return x - stop_gradient(reduce_max(x, axis=axis, keepdims=True))


def softmax(logits, axis=None, name=None, dim=None):
    axis = -1 if axis is None and dim is None else (axis if axis is not None else dim)
    with op_scope(name, "Softmax", [logits]) as scope:
        e = exp(_shifted(convert_to_tensor(logits, name="logits"), axis))
        return truediv(e, reduce_sum(e, axis=axis, keepdims=True), name=scope)


def log_softmax(logits, axis=None, name=None, dim=None):
    axis = -1 if axis is None and dim is None else (axis if axis is not None else dim)
    with op_scope(name, "LogSoftmax", [logits]) as scope:
        z = _shifted(convert_to_tensor(logits, name="logits"), axis)
        return subtract(z, log(reduce_sum(exp(z), axis=axis, keepdims=True)), name=scope)


def _named_only(fn_name, sentinel):
    if sentinel is not None:
        raise ValueError(f"Only call `{fn_name}` with named arguments (labels=..., logits=..., ...)")


def softmax_cross_entropy_with_logits_v2(_sentinel=None, labels=None, logits=None, axis=-1, name=None, dim=None):
    _named_only("softmax_cross_entropy_with_logits_v2", _sentinel)
    axis = dim if dim is not None else axis
    with op_scope(name, "softmax_cross_entropy_with_logits", [labels, logits]) as scope:
        logits = convert_to_tensor(logits, name="logits")
        labels = convert_to_tensor(labels, dtype=logits.dtype, name="labels")
        return negative(reduce_sum(labels * log_softmax(logits, axis=axis), axis=axis), name=scope)


def softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, dim=-1, name=None, axis=None):
    """TF1's version: no gradient flows into the labels."""
    _named_only("softmax_cross_entropy_with_logits", _sentinel)
    return softmax_cross_entropy_with_logits_v2(labels=stop_gradient(labels), logits=logits,
                                                axis=axis if axis is not None else dim, name=name)


def sparse_softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """Class indices as labels (TF's op; a label outside [0, classes) fails the run with TF's
    InvalidArgumentError). The class count must be known when the graph is built."""
    _named_only("sparse_softmax_cross_entropy_with_logits", _sentinel)
    with op_scope(name, "SparseSoftmaxCrossEntropyWithLogits", [labels, logits]):
        logits = convert_to_tensor(logits, name="logits")
        labels = convert_to_tensor(labels, name="labels")
        if logits.shape.ndims is None or logits.shape.as_tuple()[-1] is None:
            raise ValueError(f"sparse_softmax_cross_entropy_with_logits needs the number of classes (the last "
                             f"dimension of logits) to be known; logits have shape {logits.shape}")
        if labels.shape.ndims is not None and logits.shape.ndims != labels.shape.ndims + 1:
            raise ValueError(f"Rank mismatch: Rank of labels (received {labels.shape.ndims}) should equal rank of "
                             f"logits minus 1 (received {logits.shape.ndims}).")
        op_name = name or "SparseSoftmaxCrossEntropyWithLogits"  # TF names the op as its scope
        if logits.shape.ndims == 2:  # TF's op directly (labels of unknown rank must be fed as a vector)
            return _sparse_xent_op(logits, labels, op_name)
        classes = logits.shape.as_tuple()[-1]
        cost = _sparse_xent_op(reshape(logits, [-1, classes]), reshape(labels, [-1]), op_name)
        return reshape(cost, labels.shape.as_list() if labels.shape.is_fully_defined() else shape_of(labels))


def _sparse_xent_op(logits, labels, name):
    if labels.dtype not in (dtypes.int32, dtypes.int64):
        raise TypeError(f"Value passed to parameter 'labels' has DataType {labels.dtype.name} not in list of allowed "
                        "values: int32, int64")
    batch = logits.shape.as_tuple()[0]
    if labels.shape.ndims is not None:
        batch = batch if batch is not None else labels.shape.as_tuple()[0]
    op = make_op("SparseSoftmaxCrossEntropyWithLogits", [logits, labels],
                 [(logits.dtype, TensorShape([batch])), (logits.dtype, TensorShape([batch, logits.shape[-1].value]))],
                 name, {"T": logits.dtype, "Tlabels": labels.dtype})
    return op.outputs[0]
