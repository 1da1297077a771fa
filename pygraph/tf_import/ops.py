"""TensorFlow op types -> pygraph builders. Each entry takes (node, inputs) inside the node's control
dependencies and returns the node's outputs; the op it creates carries the node's exact name, so fetches and
collections find it. Builders are pygraph's public op functions (their attribute and shape checks apply);
TF's bookkeeping attributes (_class, T, Tidx, grad_a, ...) are not read.

TF's gradient code computes reduction axes at run time (Shape -> BroadcastGradientArgs -> Sum); pygraph's
reductions take static axes, so BroadcastGradientArgs yields BroadcastAxes markers that the Sum reading
them turns into SumToShape (the same sum, with the target's shape known when the program runs)."""

from __future__ import annotations

import numpy as np

from .. import errors
from ..ops.array import broadcast_to_shape_of, sum_to_shape_of
from .values import dtype_of, malformed, shape_of, tensor_value


class BroadcastAxes:
    """An output of BroadcastGradientArgs: the axes that reduce a gradient to `target` (a tensor, or a
    static list of dims)."""

    def __init__(self, target, node):
        self.target, self.node = target, node


def _tf():
    import pygraph

    return pygraph


def tensor(node, ins, k):
    """Input k as a tensor (BroadcastAxes markers only feed Sum)."""
    if k >= len(ins):
        raise malformed(node, f"has {len(ins)} data inputs; {node.op} needs at least {k + 1}")
    v = ins[k]
    if isinstance(v, BroadcastAxes):
        raise errors.UnimplementedError(None, None, f"node '{node.name}' ({node.op}) reads an output of "
                                        f"BroadcastGradientArgs '{v.node.name}'; pygraph supports those only as "
                                        "the axes of a Sum")
    return v


def static_ints(node, ins, k, what):
    """Input k's value as Python ints: it must be a constant."""
    t = tensor(node, ins, k)
    if t.op.type != "Const":
        raise errors.UnimplementedError(None, None, f"node '{node.name}' ({node.op}) needs its {what} as a "
                                        f"constant, not the output of {t.op.type} '{t.op.name}'")
    return [int(v) for v in np.asarray(t.op.attrs["value"]).reshape(-1)]


def _attr(node, key, kind, default):
    return getattr(node.attr[key], kind) if key in node.attr else default


def _name(node):
    return node.name + "/"  # exactly the node's name (see Graph.create_op)


def _binary(fn):
    return lambda node, ins: [fn(_tf())(tensor(node, ins, 0), tensor(node, ins, 1), name=_name(node))]


def _unary(fn):
    return lambda node, ins: [fn(_tf())(tensor(node, ins, 0), name=_name(node))]


def _reduce(fn):
    def build(node, ins):
        keep = _attr(node, "keep_dims", "b", False)
        if node.op == "Sum" and len(ins) > 1 and isinstance(ins[1], BroadcastAxes):
            return [_sum_to(node, tensor(node, ins, 0), ins[1].target, keep)]
        axes = static_ints(node, ins, 1, "reduction axes")
        return [fn(_tf())(tensor(node, ins, 0), axis=axes, keepdims=keep, name=_name(node))]
    return build


def _sum_to(node, grad, target, keepdims):
    tf = _tf()
    if not isinstance(target, list):
        return sum_to_shape_of(grad, target, name=_name(node))
    dims = grad.shape.as_tuple() if grad.shape.ndims is not None else None
    if dims is None:
        raise errors.UnimplementedError(None, None, f"node '{node.name}' (Sum) reduces a value of unknown rank")
    lead = len(dims) - len(target)
    axes = list(range(lead)) + [lead + i for i, d in enumerate(target) if d == 1 and dims[lead + i] != 1]
    return tf.reduce_sum(grad, axis=axes, keepdims=keepdims, name=_name(node))


def _broadcast_gradient_args(node, ins):
    def target(k):
        t = tensor(node, ins, k)
        if t.op.type == "Shape":
            return t.op.inputs[0]
        return static_ints(node, ins, k, "shapes")
    return [BroadcastAxes(target(0), node), BroadcastAxes(target(1), node)]


def _const(node, ins):
    return [_tf().constant(tensor_value(node, node.attr["value"].tensor), dtype=dtype_of(node, "dtype"),
                           name=_name(node))]


def _placeholder(node, ins):
    shape = shape_of(node, node.attr["shape"].shape) if "shape" in node.attr else None
    return [_tf().placeholder(dtype_of(node, "dtype"), shape, name=_name(node))]


def _placeholder_with_default(node, ins):
    shape = shape_of(node, node.attr["shape"].shape) if "shape" in node.attr else None
    return [_tf().placeholder_with_default(tensor(node, ins, 0), shape, name=_name(node))]


def _variable(node, ins):
    from ..graph import get_default_graph
    from ..shape import TensorShape

    dtype, shape = dtype_of(node, "dtype"), TensorShape(shape_of(node, node.attr["shape"].shape))
    op = get_default_graph().create_op("VariableV2", [], {"dtype": dtype, "shape": shape}, [(dtype, shape)],
                                       _name(node))
    return [op.outputs[0]]


def _assign(fn):
    def build(node, ins):
        tf = _tf()
        kwargs = {"use_locking": _attr(node, "use_locking", "b", None)}
        if fn == "assign":
            kwargs["validate_shape"] = _attr(node, "validate_shape", "b", True)
        return [getattr(tf, fn)(tensor(node, ins, 0), tensor(node, ins, 1), name=_name(node), **kwargs)]
    return build


def _random(node, ins):
    from ..graph import get_default_graph
    from ..shape import TensorShape

    dims = static_ints(node, ins, 0, "shape")
    if any(d < 0 for d in dims):
        raise malformed(node, f"a random shape {dims}")
    dtype = dtype_of(node, "dtype")
    attrs = {"shape": tuple(dims), "dtype": dtype, "seed": _attr(node, "seed", "i", 0),
             "seed2": _attr(node, "seed2", "i", 0), "T": tensor(node, ins, 0).dtype}
    op = get_default_graph().create_op(node.op, [tensor(node, ins, 0)], attrs, [(dtype, TensorShape(dims))],
                                       _name(node))
    return [op.outputs[0]]


def _matmul(node, ins):
    return [_tf().matmul(tensor(node, ins, 0), tensor(node, ins, 1), transpose_a=_attr(node, "transpose_a", "b", False),
                         transpose_b=_attr(node, "transpose_b", "b", False), name=_name(node))]


def _data_format(node):
    fmt = _attr(node, "data_format", "s", b"NHWC").decode("utf-8", "replace")
    if fmt != "NHWC":
        raise errors.UnimplementedError(None, None, f"node '{node.name}' ({node.op}) has data_format {fmt}; "
                                        "pygraph supports NHWC")
    return fmt


def _bias_add(node, ins):
    _data_format(node)
    return [_tf().nn.bias_add(tensor(node, ins, 0), tensor(node, ins, 1), name=_name(node))]


def _bias_add_grad(node, ins):
    _data_format(node)
    g = tensor(node, ins, 0)
    if g.shape.ndims is None:
        raise errors.UnimplementedError(None, None, f"node '{node.name}' (BiasAddGrad) has an input of unknown rank")
    return [_tf().reduce_sum(g, axis=list(range(g.shape.ndims - 1)), name=_name(node))]


def _relu_grad(node, ins):
    tf = _tf()
    g, features = tensor(node, ins, 0), tensor(node, ins, 1)
    with tf.name_scope(_name(node)):
        positive = tf.greater(features, tf.zeros_like(features))
        zeros = tf.zeros_like(g)
    return [tf.where(positive, g, zeros, name=_name(node))]


def _sparse_xent(node, ins):
    """TF's fused op: per-example loss and its gradient with respect to the logits (softmax - one_hot)."""
    tf = _tf()
    logits, labels = tensor(node, ins, 0), tensor(node, ins, 1)
    with tf.name_scope(_name(node)):
        depth = logits.shape.as_tuple()[-1] if logits.shape.ndims else None
        if depth is None:
            raise errors.UnimplementedError(None, None, f"node '{node.name}' ({node.op}) needs logits with a "
                                            "known number of classes")
        backprop = tf.subtract(tf.nn.softmax(logits), tf.one_hot(labels, depth, dtype=logits.dtype),
                               name="backprop")
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits, name=_name(node))
    return [loss, backprop]


def _tile(node, ins):
    tf = _tf()
    x, multiples = tensor(node, ins, 0), tensor(node, ins, 1)
    if multiples.op.type == "Shape":  # TF's Mean gradient: tile a [1, ..., 1] value to shape(y)
        like = multiples.op.inputs[0]
        if x.shape.ndims is not None and all(d == 1 for d in x.shape.as_tuple()) and like.shape.ndims == x.shape.ndims:
            return [broadcast_to_shape_of(x, like, name=_name(node))]
    return [tf.tile(x, static_ints(node, ins, 1, "multiples"), name=_name(node))]


def _apply_gradient_descent(node, ins):
    tf = _tf()
    var, alpha, delta = (tensor(node, ins, k) for k in range(3))
    with tf.name_scope(_name(node)):
        step = tf.multiply(delta, alpha, name="step")
    return [tf.assign_sub(var, step, use_locking=_attr(node, "use_locking", "b", False), name=_name(node))]


def _apply_momentum(node, ins):
    """accum = accum * momentum + grad; var -= lr * accum (Nesterov: var -= grad * lr + accum * momentum * lr)."""
    tf = _tf()
    var, accum, lr, grad, momentum = (tensor(node, ins, k) for k in range(5))
    with tf.name_scope(_name(node)):
        accum_t = tf.assign(accum, accum * momentum + grad, name="accum")
        if _attr(node, "use_nesterov", "b", False):
            step = grad * lr + accum_t * momentum * lr
        else:
            step = accum_t * lr
    return [tf.assign_sub(var, step, name=_name(node))]


def _apply_adam(node, ins):
    """TF's kernel (training_ops.cc): alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t); m += (g - m) * (1 - beta1);
    v += (g^2 - v) * (1 - beta2); var -= m * alpha / (sqrt(v) + epsilon)."""
    tf = _tf()
    var, m, v, b1p, b2p, lr, b1, b2, eps, grad = (tensor(node, ins, k) for k in range(10))
    if _attr(node, "use_nesterov", "b", False):
        raise errors.UnimplementedError(None, None, f"node '{node.name}' (ApplyAdam) uses Nesterov momentum")
    with tf.name_scope(_name(node)):
        alpha = lr * tf.sqrt(1.0 - b2p) / (1.0 - b1p)
        m_t = tf.assign_add(m, (grad - m) * (1.0 - b1), name="m")
        v_t = tf.assign_add(v, (tf.square(grad) - v) * (1.0 - b2), name="v")
        step = m_t * alpha / (tf.sqrt(v_t) + eps)
    return [tf.assign_sub(var, step, name=_name(node))]


def _gather(node, ins):
    axis = static_ints(node, ins, 2, "axis")[0] if len(ins) > 2 else 0
    return [_tf().gather(tensor(node, ins, 0), tensor(node, ins, 1), axis=axis, name=_name(node))]


def _expand_dims(node, ins):
    return [_tf().expand_dims(tensor(node, ins, 0), static_ints(node, ins, 1, "axis")[0], name=_name(node))]


def _reshape(node, ins):
    shape = tensor(node, ins, 1)
    if shape.op.type != "Shape":
        shape = static_ints(node, ins, 1, "shape")
    return [_tf().reshape(tensor(node, ins, 0), shape, name=_name(node))]


def _shape(node, ins):
    return [_tf().shape(tensor(node, ins, 0), out_type=dtype_of(node, "out_type", required=False) or _tf().int32,
                        name=_name(node))]


def _fill(node, ins):
    dims = tensor(node, ins, 0)
    if dims.op.type != "Shape":
        dims = static_ints(node, ins, 0, "dims")
    return [_tf().fill(dims, tensor(node, ins, 1), name=_name(node))]


def _get(path):
    def fn(tf):
        obj = tf
        for part in path.split("."):
            obj = getattr(obj, part)
        return obj
    return fn


_BINARY = {"Add": "add", "AddV2": "add", "Sub": "subtract", "Mul": "multiply", "RealDiv": "divide",
           "Maximum": "maximum", "Minimum": "minimum", "FloorMod": "floormod", "FloorDiv": "floordiv",
           "Pow": "pow", "SquaredDifference": "squared_difference", "Greater": "greater", "Less": "less",
           "GreaterEqual": "greater_equal", "LessEqual": "less_equal", "Equal": "equal", "NotEqual": "not_equal"}
_UNARY = {"Relu": "nn.relu", "Relu6": "nn.relu6", "Elu": "nn.elu", "Selu": "nn.selu", "Sigmoid": "sigmoid",
          "Tanh": "tanh", "Exp": "exp", "Log": "log", "Sqrt": "sqrt", "Rsqrt": "rsqrt", "Square": "square",
          "Neg": "negative", "Abs": "abs", "Identity": "identity", "Softmax": "nn.softmax",
          "StopGradient": "stop_gradient", "PreventGradient": "identity", "ZerosLike": "zeros_like",
          "OnesLike": "ones_like"}
_REDUCERS = {"Sum": _get("reduce_sum"), "Mean": _get("reduce_mean"), "Max": _get("reduce_max"),
             "Min": _get("reduce_min"), "Prod": _get("reduce_prod")}

BUILDERS = {
    **{t: _binary(_get(f)) for t, f in _BINARY.items()},
    **{t: _unary(_get(f)) for t, f in _UNARY.items()},
    **{t: _reduce(f) for t, f in _REDUCERS.items()},
    "Const": _const, "Placeholder": _placeholder, "PlaceholderWithDefault": _placeholder_with_default,
    "NoOp": lambda node, ins: [], "VariableV2": _variable, "Assign": _assign("assign"),
    "AssignAdd": _assign("assign_add"), "AssignSub": _assign("assign_sub"),
    "RandomUniform": _random, "RandomStandardNormal": _random, "TruncatedNormal": _random,
    "MatMul": _matmul, "BiasAdd": _bias_add, "BiasAddGrad": _bias_add_grad, "ReluGrad": _relu_grad,
    "SparseSoftmaxCrossEntropyWithLogits": _sparse_xent, "Cast": lambda node, ins: [
        _tf().cast(tensor(node, ins, 0), dtype_of(node, "DstT"), name=_name(node))],
    "Reshape": _reshape, "Shape": _shape, "Fill": _fill, "Tile": _tile, "GatherV2": _gather,
    "ExpandDims": _expand_dims, "BroadcastGradientArgs": _broadcast_gradient_args,
    "ApplyGradientDescent": _apply_gradient_descent, "ApplyMomentum": _apply_momentum, "ApplyAdam": _apply_adam,
}
