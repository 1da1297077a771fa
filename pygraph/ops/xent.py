"""SparseSoftmaxCrossEntropyWithLogits, TF's op: per row of features [batch, classes] and its class index
in labels [batch], the loss logsumexp(row) - row[label] and the backprop softmax(row) - one_hot(label).
A label outside [0, classes) fails the run with TF's InvalidArgumentError (codegen/structured/xent.py)."""

from __future__ import annotations

import numpy as np

from .. import dtypes
from . import attr_checks, attr_schema, registry
from .layout import expand_dims


def _np_sparse_xent(features, labels, op=None):
    depth = features.shape[-1]
    if np.any((labels < 0) | (labels >= depth)):
        raise ValueError(f"label outside [0, {depth})")
    shifted = features - features.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=-1, keepdims=True)
    picked = np.take_along_axis(shifted, labels[:, None].astype(np.int64), axis=-1)[:, 0]
    back = e / total
    back[np.arange(len(labels)), labels] -= 1
    return (np.log(total[:, 0]) - picked).astype(features.dtype), back.astype(features.dtype)


def _check(attrs, inputs, outputs):
    features, labels = inputs
    if features.dtype not in (dtypes.float32, dtypes.float64):
        raise attr_schema.AttrError(f"features must be float32 or float64, got {features.dtype.name}")
    if labels.dtype not in (dtypes.int32, dtypes.int64):
        raise attr_schema.AttrError(f"labels must be int32 or int64, got {labels.dtype.name}")
    for t, rank in ((features, 2), (labels, 1)):
        if t.shape.ndims not in (None, rank):
            raise attr_schema.AttrError(f"needs {t.name} of rank {rank}, got rank {t.shape.ndims}")


registry.register("SparseSoftmaxCrossEntropyWithLogits", registry.STRUCTURED, numpy=_np_sparse_xent,
                  attrs={"T": "type", "Tlabels": "type"}, check=_check)
attr_checks.ARITY["SparseSoftmaxCrossEntropyWithLogits"] = 2
attr_checks.OUTPUTS["SparseSoftmaxCrossEntropyWithLogits"] = 2


@registry.RegisterGradient("SparseSoftmaxCrossEntropyWithLogits")
def _sparse_xent_grad(op, grad_loss, grad_backprop=None):
    """TF's: the loss gradient scales each row of the backprop output, which itself has no gradient."""
    unused = grad_backprop is None or (grad_backprop.op.type == "ZerosLike" and grad_backprop.op.inputs[0] is
                                       op.outputs[1])  # gradients.py feeds zeros for an unused output
    if not unused:
        raise LookupError("Gradient explicitly disabled. Reason: Currently there is no way to take the second "
                          "derivative of sparse_softmax_cross_entropy_with_logits due to the fused "
                          "implementation's interaction with tf.gradients()")
    return [expand_dims(grad_loss, -1) * op.outputs[1], None]
