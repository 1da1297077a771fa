"""tf.layers (TF1's functional layers): dense, dropout, flatten here; conv2d and pooling in conv.py,
batch_normalization in normalization.py.

Each layer runs inside a variable scope named as TF1 names it: `name` if given (so `hidden1/kernel`,
`hidden1/bias`), else a unique `dense`, `dense_1`, ...; its ops go into that scope's name scope, and
`reuse` (or an enclosing `variable_scope(..., reuse=True)`) shares the variables of an earlier call.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..nn_impl import dropout as nn_dropout
from ..ops.control_flow import cond
from ..ops.core import convert_to_tensor
from ..ops.layout import reshape
from ..ops.linalg import matmul
from ..ops.math import identity
from ..scopes import get_variable
from .base import bias_and_activation, layer_scope, static_bool
from .conv import average_pooling2d, conv2d, max_pooling2d
from .normalization import batch_normalization

__all__ = ["dense", "dropout", "flatten", "conv2d", "max_pooling2d", "average_pooling2d", "batch_normalization"]


_layer_scope = layer_scope


def dense(inputs, units, activation=None, use_bias=True, kernel_initializer=None,
          bias_initializer=None, kernel_regularizer=None, bias_regularizer=None,
          activity_regularizer=None, kernel_constraint=None, bias_constraint=None, trainable=True, name=None,
          reuse=None):
    """activation(inputs @ kernel + bias): kernel [input_dim, units] (glorot_uniform unless kernel_initializer
    is given), bias [units] (zeros unless bias_initializer is given). A regularizer's loss goes to
    GraphKeys.REGULARIZATION_LOSSES when its variable is created."""
    with _layer_scope(name, "dense", reuse):
        x = convert_to_tensor(inputs, name="inputs")
        rank = x.shape.ndims
        dims = x.shape.as_tuple()
        input_dim = None if rank is None else dims[-1]
        if input_dim is None:
            raise ValueError("The last dimension of the inputs to `Dense` should be defined. Found `None`.")
        if not x.dtype.is_floating:
            raise TypeError(f"Unable to build `Dense` layer with non-floating point dtype {x.dtype.name}")
        units = int(units)
        kernel = get_variable("kernel", [input_dim, units], dtype=x.dtype, initializer=kernel_initializer,
                              regularizer=kernel_regularizer, trainable=trainable, constraint=kernel_constraint)
        if rank == 2:
            outputs = matmul(x, kernel)
        else:  # TF's tensordot over the last axis: a matmul of the rows, reshaped back
            if rank is None or any(d is None for d in dims[1:-1]):
                raise NotImplementedError(f"tf.layers.dense on inputs of shape {x.shape}: pygraph needs every "
                                          "dimension but the first to be known when the rank is not 2")
            rows = matmul(reshape(x, [-1, input_dim]), kernel)
            outputs = reshape(rows, [-1 if dims[0] is None else dims[0], *dims[1:-1], units])
        return bias_and_activation(outputs, units, use_bias, bias_initializer, bias_regularizer, bias_constraint,
                                   trainable, activation, activity_regularizer)


_static_bool = static_bool


def dropout(inputs, rate=0.5, noise_shape=None, seed=None, training=False, name=None):
    """tf.nn.dropout(inputs, rate) when training, else inputs unchanged. `training` may be a Python bool or a
    boolean tensor (a placeholder): then a tf.cond runs only the taken branch, as TF's smart_cond does, so
    no random numbers are drawn when not training."""
    with _layer_scope(name, "dropout", None):
        x = convert_to_tensor(inputs, name="inputs")
        static = _static_bool(training)
        if static is False:
            return identity(x)
        if static is True:
            return nn_dropout(x, noise_shape=noise_shape, seed=seed, rate=rate)
        flag = convert_to_tensor(training, dtype=dtypes.bool_, name="training")
        if flag.shape.ndims not in (None, 0):
            raise ValueError(f"training must be a scalar boolean, got shape {flag.shape}")
        return cond(flag, lambda: nn_dropout(x, noise_shape=noise_shape, seed=seed, rate=rate),
                    lambda: identity(x))


def flatten(inputs, name=None, data_format="channels_last"):
    """inputs reshaped to [batch, everything else] (channels_first input is first moved to channels_last
    order, as TF does)."""
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"The `data_format` argument must be one of \"channels_first\", \"channels_last\". "
                         f"Received: {data_format}")
    with _layer_scope(name, "flatten", None):
        x = convert_to_tensor(inputs, name="inputs")
        dims = x.shape.as_tuple()
        if dims is None:
            raise ValueError("tf.layers.flatten: pygraph needs the rank of the inputs")
        if data_format == "channels_first" and len(dims) > 2:
            from ..ops.linalg import transpose

            x = transpose(x, [0, *range(2, len(dims)), 1])
            dims = x.shape.as_tuple()
        tail = dims[1:]
        if all(d is not None for d in tail):
            return reshape(x, [-1, int(np.prod(tail, dtype=np.int64))])
        if dims[0] is not None:
            return reshape(x, [dims[0], -1])
        raise NotImplementedError(f"tf.layers.flatten of shape {x.shape}: pygraph needs either the batch size or "
                                  "every other dimension to be known")
