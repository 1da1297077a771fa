"""tf.layers.conv2d, max_pooling2d, average_pooling2d (channels_last only), with TF1's variable and scope
names (`conv2d/kernel` [kh, kw, in, filters], `conv2d/bias`, `max_pooling2d/MaxPool`)."""

from __future__ import annotations

from ..ops import conv as conv_ops
from ..ops.core import convert_to_tensor
from ..scopes import get_variable
from .base import bias_and_activation, layer_scope


def _pair(value, what):
    if isinstance(value, int):
        return (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"The `{what}` argument must be a tuple of 2 integers. Received: {value}")
    return value


def _padding(padding):
    p = str(padding).lower()
    if p not in ("valid", "same"):
        raise ValueError(f"The `padding` argument must be one of \"valid\", \"same\". Received: {padding}")
    return p.upper()


def _channels_last(data_format, layer):
    if data_format != "channels_last":
        raise NotImplementedError(f"tf.layers.{layer}: data_format={data_format!r} is not supported yet "
                                  "(channels_last only)")


def conv2d(inputs, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last",
           dilation_rate=(1, 1), activation=None, use_bias=True, kernel_initializer=None,
           bias_initializer=None, kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
           kernel_constraint=None, bias_constraint=None, trainable=True, name=None, reuse=None):
    """activation(conv2d(inputs, kernel) + bias) with kernel [kh, kw, in_channels, filters] (glorot_uniform
    unless kernel_initializer is given) and bias [filters] (zeros)."""
    _channels_last(data_format, "conv2d")
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = _pair(strides, "strides")
    if _pair(dilation_rate, "dilation_rate") != (1, 1):
        raise NotImplementedError("tf.layers.conv2d: dilation_rate other than 1 is not supported yet")
    with layer_scope(name, "conv2d", reuse):
        x = convert_to_tensor(inputs, name="inputs")
        if x.shape.ndims != 4:
            raise ValueError(f"Input 0 of layer conv2d is incompatible with the layer: expected ndim=4, found "
                             f"ndim={x.shape.ndims}. Full shape received: {x.shape}")
        channels = x.shape.as_tuple()[3]
        if channels is None:
            raise ValueError("The channel dimension of the inputs should be defined. Found `None`.")
        kernel = get_variable("kernel", [kh, kw, channels, int(filters)], dtype=x.dtype,
                              initializer=kernel_initializer, regularizer=kernel_regularizer, trainable=trainable,
                              constraint=kernel_constraint)
        outputs = conv_ops.conv2d(x, kernel, [1, sh, sw, 1], _padding(padding), name="Conv2D")
        return bias_and_activation(outputs, int(filters), use_bias, bias_initializer, bias_regularizer,
                                   bias_constraint, trainable, activation, activity_regularizer)


def _pooling(op, default_name, inputs, pool_size, strides, padding, data_format, name):
    _channels_last(data_format, default_name)
    ph, pw = _pair(pool_size, "pool_size")
    sh, sw = _pair(strides, "strides")
    with layer_scope(name, default_name, None):
        x = convert_to_tensor(inputs, name="inputs")
        return op(x, [1, ph, pw, 1], [1, sh, sw, 1], _padding(padding), name=op.__name__.title().replace("_", ""))


def max_pooling2d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    """tf.nn.max_pool over pool_size windows."""
    return _pooling(conv_ops.max_pool, "max_pooling2d", inputs, pool_size, strides, padding, data_format, name)


def average_pooling2d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    """tf.nn.avg_pool over pool_size windows (padding not counted)."""
    return _pooling(conv_ops.avg_pool, "average_pooling2d", inputs, pool_size, strides, padding, data_format,
                    name)
