"""Every registered op takes an input of unknown rank (a placeholder with shape=None), as in TF.

For each op type in the registry, SPECS builds it from one placeholder of unknown rank (its other inputs are
constants), then the same op from a placeholder of the fed value's full shape. One graph holds every op of
each kind, so the test compiles two programs (plus their gradients) instead of one per op. Both must give
the same values, equal to the registry's numpy reference where the op has one, and the same gradients
(the fully-known build's gradients are checked against finite differences in the op's own tests).
"""

import inspect
import subprocess
import sys

import numpy as np
import pytest

import pygraph as tf
from pygraph.ops import registry
from pygraph.ops.array import broadcast_to_shape_of, sum_to_shape_of
from pygraph.summary.ops import _scalar_kernel

RNG = np.random.default_rng(7)
X = RNG.uniform(-0.9, 0.9, (2, 3))  # inside the domain of acos, asin and log1p
POS = RNG.uniform(0.5, 2.0, (2, 3))
INTS = np.array([[7, -3, 5], [-8, 2, 9]], np.int64)
BOOLS = np.array([[True, False, True], [False, False, True]])
IMG = RNG.uniform(-1, 1, (1, 4, 4, 2))  # NHWC
SQUARE = np.eye(3) * 2 + RNG.uniform(-0.3, 0.3, (3, 3))
FILTER = RNG.uniform(-1, 1, (3, 3, 2, 2))


def _c(v):
    return tf.constant(v)


def _unary(fn, value=X):
    return (value, fn)


def _binary(fn, value=X, other=POS):
    return (value, lambda x: fn(x, _c(other)))


def _loop(x):
    """A counter loop carrying the input (Enter, Merge, LoopCond, Switch, NextIteration, Exit as TF builds them)."""
    return tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * 2.0), [tf.constant(0), x], back_prop=False)[1]


def _loop_gradient(x):
    """The gradient of a loop (its values saved on stacks: PgStackPush, PgStackPop)."""
    return tf.gradients(tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * x), [tf.constant(0), x])[1], x)[0]


class _TanhCell:
    """A cell without variables: output = state = tanh(x + state), one unit."""

    state_size = output_size = 1

    def zero_state(self, batch_size, dtype):
        return tf.zeros([batch_size, 1], dtype)

    def __call__(self, inputs, state, scope=None):
        out = tf.tanh(inputs + state)
        return out, out


def _rnn(x):
    """tf.nn.dynamic_rnn over the input as 3 steps of one value (its arrays: PgArrayUnstack/Read/Write/Stack)."""
    return tf.nn.dynamic_rnn(_TanhCell(), tf.reshape(x, [-1, 3, 1]), dtype=tf.float64)[0]


def _cond(x):
    """A cond around the input (Switch and Merge, as tf.cond builds them)."""
    return tf.cond(tf.constant(True), lambda: x * 2.0, lambda: x - 1.0)


# op type -> (fed value, builder from the unknown-rank tensor, [gradient: True when the op has one])
SPECS = {
    # elementwise, unary
    **{t: _unary(getattr(tf, f) if "." not in f else getattr(tf.nn, f[3:]))
       for t, f in {"Abs": "abs", "Acos": "acos", "Asin": "asin", "Atan": "atan", "Ceil": "ceil", "Cos": "cos",
                    "Elu": "nn.elu", "Erf": "erf", "Exp": "exp", "Expm1": "expm1", "Floor": "floor",
                    "Neg": "negative", "Relu": "nn.relu", "Relu6": "nn.relu6", "Round": "round", "Selu": "nn.selu",
                    "Sigmoid": "sigmoid", "Sign": "sign", "Sin": "sin", "Softplus": "nn.softplus",
                    "Softsign": "nn.softsign", "Square": "square", "Tan": "tan", "Tanh": "tanh",
                    "ZerosLike": "zeros_like", "OnesLike": "ones_like", "Identity": "identity",
                    "StopGradient": "stop_gradient", "Log1p": "log1p"}.items()},
    **{t: _unary(getattr(tf, f), POS) for t, f in {"Log": "log", "Reciprocal": "reciprocal", "Rsqrt": "rsqrt",
                                                    "Sqrt": "sqrt"}.items()},
    "LeakyRelu": _unary(lambda x: tf.nn.leaky_relu(x, alpha=0.3)),
    "IsFinite": _unary(tf.is_finite), "IsInf": _unary(tf.is_inf), "IsNan": _unary(tf.is_nan),
    "LogicalNot": _unary(tf.logical_not, BOOLS),
    "Cast": _unary(lambda x: tf.cast(x, tf.int32)),
    # elementwise, binary
    **{t: _binary(getattr(tf, f)) for t, f in {
        "Add": "add", "Sub": "subtract", "Mul": "multiply", "RealDiv": "truediv", "FloorDiv": "floordiv",
        "FloorMod": "floormod", "Maximum": "maximum", "Minimum": "minimum", "SquaredDifference": "squared_difference",
        "Equal": "equal", "NotEqual": "not_equal", "Less": "less", "LessEqual": "less_equal", "Greater": "greater",
        "GreaterEqual": "greater_equal", "Atan2": "atan2"}.items()},
    "Pow": _binary(tf.pow, POS, X),
    "TruncateDiv": _binary(tf.truncatediv, INTS, np.array([3, -2, 4], np.int64)),
    "TruncateMod": _binary(tf.truncatemod, INTS, np.array([3, -2, 4], np.int64)),
    "LogicalAnd": _binary(tf.logical_and, BOOLS, BOOLS[::-1].copy()),
    "LogicalOr": _binary(tf.logical_or, BOOLS, BOOLS[::-1].copy()),
    "BiasAdd": _binary(tf.nn.bias_add, X, np.array([1.0, 2.0, 3.0])),
    "Select": (X, lambda x: tf.where(tf.constant(BOOLS), x, _c(POS))),
    "AddN": (X, lambda x: tf.add_n([x, _c(POS), x])),
    "PlaceholderWithDefault": (X, lambda x: tf.placeholder_with_default(x, x.shape) * 1.0),
    # layout and array
    "Shape": _unary(tf.shape), "Size": _unary(tf.size),
    "SumToShape": _unary(lambda x: sum_to_shape_of(x, _c(X[0]))),  # TF's broadcast gradient, one op
    "BroadcastLike": (X[0].copy(), lambda x: broadcast_to_shape_of(x, _c(X))),
    "Fill": (np.float64(2.5), lambda x: tf.fill([2, 3], x)),
    "Reshape": _unary(lambda x: tf.reshape(x, [3, -1])),
    "ExpandDims": _unary(lambda x: tf.expand_dims(x, 1)),
    "Squeeze": (X[None], lambda x: tf.squeeze(x, [0])),
    "ConcatV2": _unary(lambda x: tf.concat([x, _c(POS)], 1)),
    "Pack": _unary(lambda x: tf.stack([x, _c(POS)], 1)),
    "Unpack": _unary(lambda x: tf.unstack(x, num=2)),
    "Tile": _unary(lambda x: tf.tile(x, [2, 1])),
    "Transpose": _unary(lambda x: tf.transpose(x, [1, 0])),  # reversing needs the rank
    "StridedSlice": _unary(lambda x: x[1:, :2][0, None]),
    # indices of unknown rank (params of unknown shape have no gradient yet: it is a dense scatter)
    "GatherV2": (np.array([[1, 0], [2, 2]], np.int64), lambda i: tf.gather(_c(X), i, axis=1)),
    "OneHot": (np.array([[0, 2], [1, 5]], np.int64), lambda x: tf.one_hot(x, 3)),
    # reductions, sorting
    **{t: _unary(lambda x, f=f: getattr(tf, f)(x, axis=1)) for t, f in {
        "Sum": "reduce_sum", "Mean": "reduce_mean", "Max": "reduce_max", "Min": "reduce_min",
        "Prod": "reduce_prod"}.items()},
    "ArgMax": _unary(lambda x: tf.argmax(x, 1)), "ArgMin": _unary(lambda x: tf.argmin(x, 0)),
    "TopKV2": _unary(lambda x: tf.nn.top_k(x, 2)),
    # linear algebra, convolution
    "MatMul": _unary(lambda x: tf.matmul(x, _c(POS.T))),
    "BatchMatMul": (np.stack([X, -X]), lambda x: tf.matmul(x, _c(np.stack([POS.T, POS.T])))),
    "MatrixInverse": _unary(tf.matrix_inverse, SQUARE),
    "Conv2D": (IMG, lambda x: tf.nn.conv2d(x, _c(FILTER), [1, 1, 1, 1], "SAME")),
    "MaxPool": (IMG, lambda x: tf.nn.max_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")),
    "AvgPool": (IMG, lambda x: tf.nn.avg_pool(x, [1, 2, 2, 1], [1, 1, 1, 1], "SAME")),
    # labels of unknown rank (the book's placeholder(tf.int64, shape=(None))); logits need their class count
    "SparseSoftmaxCrossEntropyWithLogits": (np.array([2, 0], np.int64), lambda y: (
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=_c(X)))),
    # control flow
    "Switch": _unary(_cond), "Merge": _unary(_cond),
    **{t: _unary(_loop) for t in ("Enter", "Exit", "NextIteration", "LoopCond")},
    **{t: _unary(_loop_gradient) for t in ("PgStackPush", "PgStackPop")},
    **{t: _unary(_rnn) for t in ("PgArrayUnstack", "PgArrayRead", "PgArrayWrite", "PgArrayStack")},
    # random (seeded: both builds draw the same numbers), state, summaries
    "RandomShuffle": _unary(lambda x: tf.random_shuffle(x, seed=3)),
    "RandomUniform": _unary(lambda x: tf.random_uniform(tf.shape(x), seed=4, dtype=tf.float64)),
    "RandomStandardNormal": _unary(lambda x: tf.random_normal(tf.shape(x), seed=5)),
    "TruncatedNormal": _unary(lambda x: tf.truncated_normal(tf.shape(x), seed=6)),
    "RandomUniformInt": _unary(lambda x: tf.random_uniform(tf.shape(x), 0, 9, tf.int64, seed=7)),
    "Multinomial": _unary(lambda x: tf.multinomial(x, 4, seed=8)),
    "Assign": _unary(lambda x: tf.assign(tf.Variable(tf.zeros([2, 3], tf.float64)), x)),
    "AssignAdd": _unary(lambda x: tf.assign_add(tf.Variable(tf.ones([2, 3], tf.float64)), x)),
    "AssignSub": _unary(lambda x: tf.assign_sub(tf.Variable(tf.ones([2, 3], tf.float64)), x)),
    "ScalarSummary": (np.float64(1.5), lambda x: tf.summary.scalar("s", x)),
    "HistogramSummary": _unary(lambda x: tf.summary.histogram("h", x)),
    "MergeSummary": (np.array([_scalar_kernel(None, "a", 1.5)], object),
                     lambda x: tf.summary.merge([x, tf.summary.scalar("m", tf.constant(2.0))])),
}

# ops that only a gradient creates: the gradient of this spec's op builds them from the unknown-rank input
BY_GRADIENT = {"Conv2DBackpropInput": "Conv2D", "Conv2DBackpropFilter": "Conv2D", "MaxPoolGrad": "MaxPool",
               "AvgPoolGrad": "AvgPool"}
# ops with no input to feed: they make values (Const, Placeholder, VariableV2) or run nothing (NoOp)
NO_INPUT = {"Const", "Placeholder", "VariableV2", "NoOp"}
# ops whose inputs must be variables (they ask the session about them), never fed values
VARIABLE_INPUT = {"IsVariableInitialized", "ReportUninitializedVariables"}


# ops whose output size comes from a fed *value* (not a rank): pygraph's shapes come from its inputs' shapes
VALUE_SHAPED = {"Range": "tf.range needs start, limit and delta as constants (the README lists it)"}
# ops whose outputs' shapes need the input's rank and split dimension when the graph is built
KNOWN_RANK = {"Split": "tf.split needs the rank and the split dimension known", "SplitV": "as Split"}


def _reference(op, args):
    fn = registry.lookup(op.type).numpy
    result = fn(*args, op=op) if "op" in inspect.signature(fn).parameters else fn(*args)
    return list(result) if len(op.outputs) > 1 else [result]


def _has_reference(op_type):
    row = registry.lookup(op_type)
    return row.numpy is not None and row.kind != registry.HOST and not op_type.startswith("Random")


def _differentiable(op_type, value, outs):
    row = registry.lookup(op_type)
    if op_type == "RandomShuffle":  # its registered gradient raises TF's LookupError, as TF has none
        return False
    return (row.gradient is not None and value.dtype == np.float64
            and all(o.dtype in (tf.float32, tf.float64) for o in outs))


def _build_all(unknown):
    """One graph holding every spec: per op type its placeholder, outputs, the op of that type (with its
    inputs, for the numpy reference) and the gradients of the outputs weighted by fed tensors."""
    g = tf.Graph()
    built = {}
    with g.as_default():
        for op_type, (value, build) in SPECS.items():
            value = np.asarray(value)
            with tf.name_scope(op_type):
                dtype = tf.string if value.dtype == object else tf.as_dtype(value.dtype)
                x = tf.placeholder(dtype, None if unknown else value.shape, name="x")
                before = set(g.get_operations())
                out = build(x)
                outs = list(out) if isinstance(out, (list, tuple)) else [out]
                ops = [op for op in g.get_operations() if op not in before and op.type == op_type]
                grads = weights = None
                if _differentiable(op_type, value, outs):
                    weights = [tf.placeholder(o.dtype, None if unknown else o.shape) for o in outs]
                    grads = tf.gradients(outs, x, grad_ys=weights)
            built[op_type] = (x, value, outs, ops, weights, grads)
        init = tf.global_variables_initializer()
    return g, init, built


def _run_all(unknown, weight_values=None):
    g, init, built = _build_all(unknown)
    fetches, feeds = {}, {}
    for op_type, (x, value, outs, ops, weights, grads) in built.items():
        feeds[x] = value
        fetches[op_type] = {"outs": outs}
        if _has_reference(op_type) and ops:  # the op's own inputs and outputs, for its numpy reference
            fetches[op_type].update(ins=list(ops[0].inputs), op_outs=list(ops[0].outputs))
        if grads is not None:
            w = weight_values[op_type] if weight_values else [RNG.uniform(-1, 1, o.shape.as_list()) for o in outs]
            feeds.update(zip(weights, w))
            fetches[op_type]["w"] = w
            if grads[0] is not None:
                fetches[op_type]["grad"] = grads
    with tf.Session(graph=g) as sess:
        sess.run(init)
        values = sess.run({k: {n: v for n, v in f.items() if n != "w"} for k, f in fetches.items()}, feeds)
    for op_type, f in fetches.items():
        if "w" in f:
            values[op_type]["w"] = f["w"]
    return built, values


def test_every_registered_op_is_covered():
    """A new op type must join SPECS (or say here why it cannot take a fed input)."""
    covered = set(SPECS) | set(BY_GRADIENT) | NO_INPUT | VARIABLE_INPUT | set(VALUE_SHAPED) | set(KNOWN_RANK)
    # asked of a fresh process: other tests register custom ops, and pygraph.distribute its collectives
    code = "import pygraph.ops.registry as r, pygraph; print(' '.join(sorted(r.REGISTRY)))"
    registered = set(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
                     .stdout.split())
    assert registered - covered == set()
    with pytest.raises(TypeError, match="tf.range: pygraph needs start, limit and delta"):
        tf.range(tf.placeholder(tf.int32, None))


def test_every_op_takes_an_input_of_unknown_rank(monkeypatch):
    # each program runs once: its quick (-O1) build of the same source halves the test's compile time
    monkeypatch.setenv("PYGRAPH_OPTIMIZED_ONLY", "0")
    known_built, known = _run_all(unknown=False)
    unknown_built, unknown = _run_all(unknown=True, weight_values={k: v["w"] for k, v in known.items() if "w" in v})
    created = set()
    for op_type, (x, _, _, ops, _, _) in unknown_built.items():
        assert x.shape.ndims is None
        assert ops, f"{op_type}: the spec built no {op_type} op"
        created.update(op.type for op in x.graph.get_operations())
        want, got = known[op_type], unknown[op_type]
        for a, b in zip(want["outs"], got["outs"]):
            np.testing.assert_array_equal(np.asarray(b), np.asarray(a), err_msg=op_type)
        if _has_reference(op_type):
            for ref, out in zip(_reference(ops[0], got["ins"]), got["op_outs"]):
                np.testing.assert_allclose(np.asarray(out), np.asarray(ref), rtol=1e-6, atol=1e-12,
                                           err_msg=f"{op_type} vs numpy")
        assert ("grad" in want) == ("grad" in got), op_type
        if "grad" in want:
            np.testing.assert_allclose(got["grad"][0], want["grad"][0], rtol=1e-12, atol=1e-14,
                                       err_msg=f"{op_type} gradient")
    for op_type, spec in BY_GRADIENT.items():
        assert op_type in created, f"the gradient of {spec} built no {op_type}"
