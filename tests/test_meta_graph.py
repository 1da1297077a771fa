"""Meta graphs: `Saver.save` writes P.meta; import_meta_graph rebuilds the graph (ops, variables,
collections, Saver) without the Python that built it, and training goes on in a new process exactly as
it would have in the first one."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import pygraph as tf
from pygraph.checkpoint import meta_graph

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "california_housing"


def _housing(rows=256):
    import gzip

    with gzip.open(DATA / "california_housing.csv.gz", "rt") as f:
        raw = np.loadtxt(f, delimiter=",", skiprows=1, max_rows=rows)
    data = (raw[:, :8] - raw[:, :8].mean(axis=0)) / raw[:, :8].std(axis=0)
    return np.c_[np.ones((rows, 1)), data].astype(np.float32), raw[:, 8:9].astype(np.float32)


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
