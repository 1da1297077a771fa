"""What every tf.layers function shares: its variable scope, `training` flags, and the bias, activation and
activity-regularizer tail of dense and conv layers."""

from __future__ import annotations

import numpy as np

from ..graph import GraphKeys, Tensor, add_to_collection, get_default_graph
from ..initializers import zeros_initializer
from ..ops.nn_ops import bias_add
from ..scopes import get_variable, variable_scope


def layer_scope(name, default_name, reuse):
    """`name` if given, else a unique `default_name`, `default_name_1`, ... (TF1's layer naming)."""
    if name is None and reuse:  # TF: a reused layer without a name shares the base name's scope
        return variable_scope(default_name, reuse=True)
    return variable_scope(name, default_name=default_name, reuse=True if reuse else None)


def static_bool(training):
    """training as a Python bool when it is one (or a constant), else None (a tensor known at run time)."""
    if isinstance(training, (bool, np.bool_)):
        return bool(training)
    if isinstance(training, Tensor) and training.op.type == "Const":
        return bool(training.op.attrs["value"])
    if not isinstance(training, Tensor) and not hasattr(training, "_as_tensor"):
        return bool(training)
    return None


def bias_and_activation(outputs, units, use_bias, bias_initializer, bias_regularizer, bias_constraint, trainable,
                        activation, activity_regularizer):
    """A layer's tail, in TF's order: + bias (variable `bias`), activation, then the activity regularizer's loss
    into REGULARIZATION_LOSSES."""
    if use_bias:
        bias = get_variable("bias", [units], dtype=outputs.dtype,
                            initializer=zeros_initializer() if bias_initializer is None else bias_initializer,
                            regularizer=bias_regularizer, trainable=trainable, constraint=bias_constraint)
        outputs = bias_add(outputs, bias)
    if activation is not None:
        outputs = activation(outputs)
    if activity_regularizer is not None:
        with get_default_graph().name_scope("ActivityRegularizer"):
            loss = activity_regularizer(outputs)
        if loss is not None:
            add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)
    return outputs
