"""Meta graphs: `Saver.save` writes P.meta; import_meta_graph rebuilds the graph (ops, variables,
collections, Saver) without the Python that built it, and training goes on in a new process exactly as
it would have in the first one."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import housing
import numpy as np
import pytest

import pygraph as tf
from pygraph.checkpoint import meta_graph
from pygraph.ops.array import broadcast_to_shape_of, sum_to_shape_of


def _housing(rows=256):
    features, target = housing.load(rows)
    data = (features - features.mean(axis=0)) / features.std(axis=0)
    return np.c_[np.ones((rows, 1)), data].astype(np.float32), target.reshape(-1, 1).astype(np.float32)


def build_regression(training="manual", learning_rate=0.01, batch_size=32):
    """The lecture's mini-batch linear regression, trained with manually computed gradients or with an
    optimizer (Adam: slot variables and beta powers must survive the round trip too)."""
    X = tf.placeholder(tf.float32, shape=(None, 9), name="X")
    y = tf.placeholder(tf.float32, shape=(None, 1), name="y")
    theta = tf.Variable(np.linspace(-1, 1, 9, dtype=np.float32).reshape(9, 1), name="theta")
    step = tf.train.get_or_create_global_step()
    y_pred = tf.matmul(X, theta, name="predictions")
    with tf.name_scope("loss"):
        error = y_pred - y
        mse = tf.reduce_mean(tf.square(error), name="mse")
    if training == "manual":
        gradients = 2 / batch_size * tf.matmul(tf.transpose(X), error)
        training_op = tf.group(tf.assign(theta, theta - learning_rate * gradients), tf.assign_add(step, 1),
                               name="training_op")
        tf.add_to_collection(tf.GraphKeys.TRAIN_OP, training_op)
    else:  # minimize() adds its op to the TRAIN_OP collection itself
        optimizer = tf.train.AdamOptimizer(learning_rate=learning_rate * 10)
        training_op = optimizer.minimize(mse, global_step=step, name="training_op")
    tf.summary.scalar("MSE", mse)
    return X, y, theta, mse, training_op


def _batches(n_steps, batch=32):
    X, y = _housing()
    for k in range(n_steps):
        i = (k * batch) % len(X)
        yield X[i:i + batch], y[i:i + batch]


def _ops_signature(graph):
    out = []
    for op in graph.get_operations():
        attrs = {k: (v.dtype.str, v.shape, v.tolist()) if isinstance(v, np.ndarray) else v
                 for k, v in op.attrs.items()}
        out.append((op.name, op.type, [t.name for t in op.inputs], [c.name for c in op.control_inputs], attrs,
                    [(t.dtype, t.shape) for t in op.outputs]))
    return out


def _collections_signature(graph):
    return {k: [getattr(i, "name", i) for i in graph.get_collection(k)] for k in graph.get_all_collection_keys()}


def test_graph_round_trips_op_by_op(tmp_path):
    X, y, theta, mse, training_op = build_regression("adam")
    with tf.name_scope("extras"):
        words = tf.constant(["a", "b\u00e9"], name="words")
        counts = tf.reduce_sum(tf.cast(tf.greater(X, 0.0), tf.int32), axis=[0, 1], keepdims=True)
        best = tf.argmax(X, axis=1)
        inv = tf.matrix_inverse(tf.matmul(tf.transpose(X), X) + tf.constant(np.eye(9, dtype=np.float32)))
        with tf.control_dependencies([training_op]):
            tf.identity(mse, name="after_train")
        mixed = tf.add_n([tf.sigmoid(mse), tf.tanh(mse), tf.exp(-mse)]) * tf.constant(2.0, tf.float32)
        flag = tf.placeholder_with_default(True, shape=(), name="flag")
        chosen = tf.where(flag, mse, tf.zeros_like(mse))
        grads = tf.gradients(tf.square(X * 2.0) - X, [X])[0]
        shape = tf.shape(X, name="shape")
    tf.add_to_collection("notes", "free text")
    tf.add_to_collection("notes", 3)
    graph = tf.get_default_graph()
    path = tmp_path / "g.meta"
    tf.train.export_meta_graph(str(path))
    types = {op.type for op in graph.get_operations()}
    assert {"Placeholder", "PlaceholderWithDefault", "VariableV2", "Assign", "AssignAdd", "Identity", "MatMul",
            "Transpose", "MatrixInverse", "Mean", "Sum", "ArgMax", "Square", "Sub", "Mul", "Cast", "Greater",
            "NoOp", "Const", "ScalarSummary", "AddN", "Select", "Shape"} <= types
    with tf.Graph().as_default() as g2:
        saver = tf.train.import_meta_graph(str(path))
        assert _ops_signature(g2) == _ops_signature(graph)
        assert _collections_signature(g2) == _collections_signature(graph)
        v, step, *adam = tf.global_variables()
        assert [a.op.name for a in adam] == ["beta1_power", "beta2_power", "theta/Adam", "theta/Adam_1"]
        assert isinstance(v, tf.Variable) and tf.trainable_variables() == [v] and not step.trainable
        assert v.initializer.name == "theta/Assign" and v.value().name == "theta/read:0"
        assert v.initial_value.name == "theta/initial_value:0"
        assert tf.get_collection("notes") == ["free text", 3] and saver is not None
        feeds = next(_batches(1))
        fetch = [mse, counts, best, inv, mixed, chosen, words, shape, grads]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            imported = sess.run([t.name for t in fetch], {"X:0": feeds[0], "y:0": feeds[1]})
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        original = sess.run(fetch, {X: feeds[0], y: feeds[1]})
    for a, b in zip(imported, original):
        assert np.array_equal(a, b)


def _every_op_graph():
    """One or more nodes of every op type pygraph has, built through the public API; returns the tensors
    to compare between the original and the imported graph."""
    x = tf.placeholder(tf.float32, (2, 3), name="x")
    k = tf.placeholder(tf.int32, (None,), name="k")
    b = tf.placeholder(tf.bool, (2, 3), name="b")
    pos = tf.abs(x) + 0.5
    with tf.variable_scope("layer"):
        w = tf.get_variable("w", (3, 2), initializer=tf.random_uniform_initializer(-1.0, 1.0, seed=3))
    v = tf.Variable(tf.zeros([2, 3]), name="v")
    tf.group(tf.assign(v, x), tf.assign_add(v, x), tf.assign_sub(v, x), name="updates")
    tf.no_op(name="nothing")
    binary = [tf.add(x, 1.0), tf.subtract(x, 1.0), tf.multiply(x, 2.0), tf.realdiv(x, pos), tf.floordiv(k, 2),
              tf.floormod(k, 3), tf.pow(pos, 1.5), tf.maximum(x, 0.1), tf.minimum(x, 0.1),
              tf.squared_difference(x, 1.0), tf.equal(k, 1), tf.not_equal(k, 1), tf.less(x, 0.0),
              tf.less_equal(x, 0.0), tf.greater(x, 0.0), tf.greater_equal(x, 0.0), tf.logical_and(b, b),
              tf.logical_or(b, b)]
    unary = [fn(pos) for fn in (tf.negative, tf.square, tf.sqrt, tf.rsqrt, tf.exp, tf.log, tf.log1p, tf.expm1,
                                tf.reciprocal, tf.floor, tf.ceil, tf.round, tf.sign, tf.nn.relu, tf.sigmoid,
                                tf.tanh, tf.softplus, tf.identity, tf.zeros_like, tf.ones_like)]
    unary.append(tf.logical_not(b))
    unary += [fn(x) for fn in (tf.nn.elu, tf.nn.selu, tf.nn.leaky_relu, tf.nn.softsign, tf.nn.relu6, tf.sin, tf.cos,
                               tf.tan, tf.atan, tf.erf, tf.is_nan, tf.is_inf, tf.is_finite)]
    unary += [tf.asin(x * 0.1), tf.acos(x * 0.1), tf.atan2(x, pos), tf.truncatediv(k, 2), tf.truncatemod(k, 3),
              tf.nn.bias_add(x, [1.0, 2.0, 3.0])]
    layout = [tf.reshape(x, [3, 2]), tf.expand_dims(x, 0), tf.squeeze(tf.expand_dims(x, 0), [0]),
              tf.concat([x, x], 1), tf.stack([x, x]), *tf.unstack(x),
              *tf.split(x, 1, 0), *tf.split(x, [1, -1], 1), tf.tile(x, [2, 1]), tf.transpose(x),
              tf.fill([2, 2], 7.0), tf.range(0, 10, 3), x[:, 1:3], tf.shape(k), tf.size(k), tf.rank(x)]
    reductions = [tf.reduce_sum(x, 1), tf.reduce_mean(x), tf.reduce_max(x, 0, keepdims=True), tf.reduce_min(x),
                  tf.reduce_prod(pos, [0, 1]), tf.argmax(x, 1), tf.argmin(x, 0)]
    misc = [tf.cast(x, tf.int64), tf.add_n([x, x, x]), tf.where(b, x, -x), tf.stop_gradient(x),
            tf.matmul(x, w), tf.matrix_inverse(tf.matmul(x, x, transpose_b=True) + tf.eye(2)) if hasattr(tf, "eye")
            else tf.matrix_inverse(tf.matmul(x, x, transpose_b=True) + tf.constant(np.eye(2, dtype=np.float32))),
            tf.placeholder_with_default(tf.constant([1.5, 2.5]), (2,)),
            tf.random_uniform([2, 2], seed=1), tf.random_normal([3], seed=2), tf.truncated_normal([2], seed=4),
            tf.random_uniform([4], 0, 10, dtype=tf.int64, seed=5), tf.random_shuffle(x, seed=6),
            tf.multinomial(x, 3, seed=7),
            tf.constant([b"ab", b""])]
    misc += [tf.is_variable_initialized(v), tf.report_uninitialized_variables([v, w]),
             tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[2, 0], logits=x)]
    misc += [tf.gather(x, [2, 0], axis=1), tf.one_hot(k, 6), broadcast_to_shape_of(tf.constant([1.0, 2.0, 3.0]), x),
             sum_to_shape_of(tf.ones_like(x), tf.constant([[0.0, 0.0, 0.0]]))]  # the last two: gradient helpers
    grads = tf.gradients(tf.reduce_mean(tf.square(tf.matmul(x, w) - 1.0)) + tf.reduce_sum(x * x), [x, w])
    merged = tf.summary.merge([tf.summary.scalar("loss", tf.reduce_mean(x)), tf.summary.histogram("x", x)])
    p = tf.placeholder_with_default(True, (), name="p")
    branch = tf.cond(p, lambda: tf.cond(tf.logical_not(p), lambda: x * 2.0, lambda: x - 1.0), lambda: x + 1.0)
    grads += tf.gradients(tf.reduce_sum(branch * branch), [x])
    image = tf.reshape(x, [1, 2, 3, 1])  # convolution, pooling and their gradient ops
    conv = tf.nn.conv2d(image, tf.constant(np.ones((2, 2, 1, 2), np.float32)), [1, 1, 1, 1], "SAME")
    pools = [tf.nn.max_pool(image, [1, 2, 2, 1], [1, 1, 1, 1], "SAME"),
             tf.nn.avg_pool(image, [1, 2, 2, 1], [1, 2, 1, 1], "VALID")]
    nets = [conv, *pools, *tf.gradients(tf.reduce_sum(conv) + sum(tf.reduce_sum(p * p) for p in pools), [image]),
            *tf.nn.top_k(x, 2), tf.matmul(tf.reshape(x, [2, 1, 3]), tf.reshape(x, [2, 3, 1]))]
    filt = tf.get_variable("filt", (2, 2, 1, 2), initializer=tf.constant_initializer(0.5))
    nets += tf.gradients(tf.nn.conv2d(image, filt, [1, 1, 1, 1], "VALID"), [filt])
    loop = tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, tf.cond(i > 0, lambda: v * 2.0, lambda: v + x)),
                         [0, x])  # Enter/Merge/LoopCond/Switch/NextIteration/Exit, a cond inside
    power = tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * x), [0, x])[1]
    loop_grad = tf.gradients(power, [x])  # a gradient loop: PgStackPush/PgStackPop
    cell = tf.nn.rnn_cell.GRUCell(2, kernel_initializer=tf.constant_initializer(0.3))
    rnn, _ = tf.nn.dynamic_rnn(cell, tf.reshape(x, [2, 3, 1]), dtype=tf.float32)
    rnn_grad = tf.gradients(rnn, [x])  # the arrays: PgArrayUnstack/Read/Write/Stack and their gradients
    return (binary + unary + layout + reductions + misc + grads + [merged, branch] + nets + list(loop) + loop_grad
            + [rnn] + rnn_grad)


def _registered_op_types():
    """The op types pygraph registers on import (asked of a fresh process: tests may register more)."""
    code = "import pygraph.ops.registry as r, pygraph; print(' '.join(sorted(r.REGISTRY)))"
    return set(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
               .stdout.split())


def test_every_op_type_round_trips(tmp_path):
    tensors = _every_op_graph()
    graph = tf.get_default_graph()
    missing = _registered_op_types() - {op.type for op in graph.get_operations()}
    assert not missing, f"op types without a node in _every_op_graph (add one there): {sorted(missing)}"
    feeds = {"x:0": np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -3.0]], np.float32), "k:0": np.arange(5, dtype=np.int32),
             "b:0": np.array([[True, False, True], [False, False, True]])}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        original = sess.run(tensors, feeds)
    tf.train.export_meta_graph(str(tmp_path / "all.meta"))
    with tf.Graph().as_default() as imported:
        tf.train.import_meta_graph(str(tmp_path / "all.meta"))
        assert _ops_signature(imported) == _ops_signature(graph)
        assert _collections_signature(imported) == _collections_signature(graph)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            again = sess.run([t.name for t in tensors], feeds)
    for t, a, b in zip(tensors, original, again):
        assert np.array_equal(a, b), t.name


def test_imported_names_are_taken(tmp_path):
    tf.Variable(1.0, name="v")
    tf.train.export_meta_graph(str(tmp_path / "g.meta"))
    with tf.Graph().as_default():
        tf.train.import_meta_graph(str(tmp_path / "g.meta"))
        assert tf.constant(1.0, name="v").op.name == "v_1"
        with pytest.raises(ValueError, match="already has operations named v"):
            tf.train.import_meta_graph(str(tmp_path / "g.meta"))
        tf.train.import_meta_graph(str(tmp_path / "g.meta"), import_scope="copy")
        assert [x.op.name for x in tf.global_variables()] == ["v", "copy/v"]


def test_format_version_and_foreign_files(tmp_path):
    tf.Variable(1.0, name="v")
    path = tmp_path / "g.meta"
    doc = tf.train.export_meta_graph(str(path))
    assert doc["format_version"] == meta_graph.FORMAT_VERSION
    with zipfile.ZipFile(path) as z:
        stored = json.loads(z.read("meta_graph.json"))
    stored["format_version"] = 99
    with zipfile.ZipFile(tmp_path / "new.meta", "w") as z:
        z.writestr("meta_graph.json", json.dumps(stored))
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="format_version 99.*reads only version 1"):
            tf.train.import_meta_graph(str(tmp_path / "new.meta"))
        (tmp_path / "tf.meta").write_bytes(b"\n\x0e\n\x0cmeta_info")  # a TF MetaGraphDef protobuf
        with pytest.raises(ValueError, match="not a pygraph meta graph"):
            tf.train.import_meta_graph(str(tmp_path / "tf.meta"))
        with pytest.raises(OSError, match="does not exist"):
            tf.train.import_meta_graph(str(tmp_path / "missing.meta"))
        assert tf.get_default_graph().get_operations() == []


def test_unstorable_attrs_are_refused_by_name(tmp_path):
    x = tf.constant(1.0, name="x")
    x.op.attrs["callback"] = print
    with pytest.raises(TypeError, match="op 'x' \\(Const\\) attr 'callback'"):
        tf.train.export_meta_graph(str(tmp_path / "g.meta"))
    assert not (tmp_path / "g.meta").exists()


_CONTINUE = """
import sys, numpy as np
import pygraph as tf
sys.path.insert(0, sys.argv[2])
from test_meta_graph import _batches
saver = tf.train.import_meta_graph(sys.argv[1] + ".meta")
graph = tf.get_default_graph()
training_op = graph.get_operation_by_name("training_op")
assert tf.get_collection(tf.GraphKeys.TRAIN_OP) == [training_op]
with tf.Session() as sess:
    saver.restore(sess, sys.argv[1])
    for X_batch, y_batch in list(_batches(10))[5:]:
        sess.run(training_op, feed_dict={"X:0": X_batch, "y:0": y_batch})
    theta, step, mse = sess.run(["theta:0", "global_step:0", "loss/mse:0"], {"X:0": X_batch, "y:0": y_batch})
np.save(sys.argv[1] + ".result.npy", np.append(theta.ravel(), [step, mse]))
"""


@pytest.mark.parametrize("training", ["manual", "adam"])
def test_training_continues_in_a_new_process(tmp_path, training):
    X, y, theta, mse, training_op = build_regression(training)
    step = tf.get_default_graph().get_tensor_by_name("global_step:0")
    saver = tf.train.Saver()
    batches = list(_batches(10))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for X_batch, y_batch in batches[:5]:
            sess.run(training_op, feed_dict={X: X_batch, y: y_batch})
        prefix = saver.save(sess, str(tmp_path / "model.ckpt"), global_step=step)
        for X_batch, y_batch in batches[5:]:
            sess.run(training_op, feed_dict={X: X_batch, y: y_batch})
        expected = np.append(sess.run(theta).ravel(), [sess.run(step), sess.run(mse, {X: X_batch, y: y_batch})])
    assert prefix.endswith("model.ckpt-5")
    subprocess.run([sys.executable, "-c", _CONTINUE, prefix, str(Path(__file__).parent)], check=True)
    got = np.load(prefix + ".result.npy")
    assert got[-2] == 10
    np.testing.assert_array_equal(got, expected)


def test_saver_settings_and_scopes_travel_with_the_meta_graph(tmp_path):
    with tf.name_scope("net"):
        theta = tf.Variable(np.array([1.0, 2.0], np.float32), name="theta")
    tf.Variable(0.0, name="other")
    saver = tf.train.Saver({"weights": theta}, max_to_keep=3, pad_step_number=True)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        prefix = saver.save(sess, str(tmp_path / "m"), global_step=1)
    assert prefix.endswith("m-00000001")
    tf.train.export_meta_graph(str(tmp_path / "net.meta"), export_scope="net")
    with tf.Graph().as_default():
        restored = tf.train.import_meta_graph(prefix + ".meta", import_scope="copy")
        sd = restored.as_saver_def()
        assert (sd.max_to_keep, sd.pad_step_number, sd.var_names) == (3, True, {"weights": "copy/net/theta"})
        with tf.Session() as sess:
            restored.restore(sess, prefix)
            assert list(sess.run("copy/net/theta:0")) == [1.0, 2.0]
        with pytest.raises(TypeError, match="input_map"):
            tf.train.import_meta_graph(prefix + ".meta", input_map={})
    with tf.Graph().as_default():  # export_scope keeps the scope's ops only, with the scope stripped
        restored = tf.train.import_meta_graph(str(tmp_path / "net.meta"))
        assert [op.name for op in tf.get_default_graph().get_operations()] == [
            "theta/initial_value", "theta", "theta/Assign", "theta/read"]
        assert restored.as_saver_def().var_names == {"theta": "theta"}
