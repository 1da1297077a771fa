"""Gradients of Conv2D, MaxPool and AvgPool through TF's backprop ops (nn_grad.py in TF1). The backprop
ops take the forward input's size as a tf.shape() tensor, as TF's do; they have no gradients themselves."""

from __future__ import annotations

from . import conv  # noqa: F401  (the op rows must exist before gradients attach to them)
from .array import shape
from .core import make_op, op_scope
from .registry import RegisterGradient


def _conv_attrs(op):
    return {k: op.attrs[k] for k in ("strides", "padding", "data_format", "dilations", "use_cudnn_on_gpu", "T")}


def _pool_attrs(op):
    return {k: op.attrs[k] for k in ("ksize", "strides", "padding", "data_format", "T")}


def _sizes(t, attr, attrs):
    """tf.shape(t), its value also in `attr` when known now (code generation reads it there)."""
    if t.shape.is_fully_defined():
        attrs[attr] = tuple(t.shape.as_list())
    return shape(t)


def _backprop(op_type, inputs, like, attrs):
    with op_scope(None, op_type, inputs) as scope:
        return make_op(op_type, inputs, [(like.dtype, like.shape)], scope, attrs).outputs[0]


@RegisterGradient("Conv2D")
def _conv2d_grad(op, grad):
    x, f = op.inputs
    a_in, a_f = _conv_attrs(op), _conv_attrs(op)
    return [_backprop("Conv2DBackpropInput", [_sizes(x, "input_sizes", a_in), f, grad], x, a_in),
            _backprop("Conv2DBackpropFilter", [x, _sizes(f, "filter_sizes", a_f), grad], f, a_f)]


@RegisterGradient("MaxPool")
def _max_pool_grad(op, grad):
    x = op.inputs[0]
    return [_backprop("MaxPoolGrad", [x, op.outputs[0], grad], x, _pool_attrs(op))]


@RegisterGradient("AvgPool")
def _avg_pool_grad(op, grad):
    x = op.inputs[0]
    attrs = _pool_attrs(op)
    return [_backprop("AvgPoolGrad", [_sizes(x, "orig_input_shape", attrs), grad], x, attrs)]


# Second derivatives (TF1's nn_grad.py): the backprops are linear in the tensors they differentiate.
@RegisterGradient("Conv2DBackpropInput")
def _conv2d_backprop_input_grad(op, grad):
    sizes, f, dy = op.inputs
    a_f = _conv_attrs(op)
    return [None, _backprop("Conv2DBackpropFilter", [grad, _sizes(f, "filter_sizes", a_f), dy], f, a_f),
            conv.conv2d(grad, f, list(op.attrs["strides"]), op.attrs["padding"])]


@RegisterGradient("Conv2DBackpropFilter")
def _conv2d_backprop_filter_grad(op, grad):
    x, sizes, dy = op.inputs
    a_in = _conv_attrs(op)
    return [_backprop("Conv2DBackpropInput", [_sizes(x, "input_sizes", a_in), grad, dy], x, a_in), None,
            conv.conv2d(x, grad, list(op.attrs["strides"]), op.attrs["padding"])]


@RegisterGradient("AvgPoolGrad")
def _avg_pool_grad_grad(op, grad):
    a = op.attrs
    return [None, conv.avg_pool(grad, list(a["ksize"]), list(a["strides"]), a["padding"])]


@RegisterGradient("MaxPoolGrad")
def _max_pool_grad_grad(op, grad):
    raise NotImplementedError(f"The second derivative of tf.nn.max_pool (MaxPoolGradGrad, for "
                              f"'{op.name}') is not supported yet")
