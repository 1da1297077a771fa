"""Frozen GraphDefs: tf.GraphDef, Graph.as_graph_def, tf.import_graph_def, tf.graph_util, tf.gfile and
tf.train.write_graph. Oracles: the live session (and numpy), TensorFlow's outputs stored with the fixtures
(tf_frozen: written by TF; pygraph_frozen: written by pygraph, read by TF), TF 1.x's error texts."""

import ctypes
import subprocess
import sys
from pathlib import Path

import aot_models
import numpy as np
import pytest

import pygraph as tf

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _train_and_freeze():
    """A trained softmax regression: (frozen GraphDef, inputs, the live session's predictions, weights)."""
    rng = np.random.RandomState(0)
    xs, labels = rng.randn(32, 8).astype(np.float32), rng.randint(0, 3, 32)
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [None, 8], name="X")
        y = tf.placeholder(tf.int64, [None], name="y")
        w = tf.Variable(rng.randn(8, 3).astype(np.float32) * 0.1, name="w")
        b = tf.Variable(tf.zeros([3]), name="b")
        logits = tf.matmul(x, w) + b
        preds = tf.nn.softmax(logits, name="predictions")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
        with tf.Session(graph=g) as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(5):
                sess.run(train, {x: xs, y: labels})
            want, wv, bv = sess.run([preds, w, b], {x: xs})
            frozen = tf.graph_util.convert_variables_to_constants(sess, sess.graph.as_graph_def(), ["predictions"])
    return frozen, xs, want, (wv, bv)


@pytest.fixture(scope="module")
def trained():
    return _train_and_freeze()


def test_freeze_write_read_import_gives_live_outputs(trained, tmp_path):
    frozen, xs, want, (wv, bv) = trained
    ops = {n.name: n.op for n in frozen.node}
    assert ops["w"] == ops["b"] == "Const" and "VariableV2" not in ops.values()
    assert "y" not in ops and not any(n.startswith(("gradients", "GradientDescent")) for n in ops)
    path = tf.train.write_graph(frozen, str(tmp_path), "frozen.pb", as_text=False)
    with tf.gfile.GFile(path, "rb") as f:
        graph_def = tf.GraphDef()
        graph_def.ParseFromString(f.read())
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [None, 8])
        y, = tf.import_graph_def(graph_def, input_map={"X:0": x}, return_elements=["predictions:0"], name="m")
        assert y.name == "m/predictions:0" and g.get_operation_by_name("m/w").type == "Const"
        with tf.Session() as sess:
            got = sess.run(y, {x: xs})
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    z = xs @ wv + bv
    ref = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(got, ref / ref.sum(1, keepdims=True), rtol=1e-5, atol=1e-6)


def test_as_graph_def_keeps_large_constants():
    with tf.Graph().as_default() as g:
        big = np.arange(5000, dtype=np.float32)
        tf.identity(tf.constant(big) * 2.0, name="out")
    with tf.Graph().as_default():
        out, = tf.import_graph_def(g.as_graph_def(), return_elements=["out:0"])
        with tf.Session() as sess:
            np.testing.assert_array_equal(sess.run(out), big * 2)


def test_tf_written_frozen_graph():
    want = np.load(FIXTURES / "tf_frozen" / "expected.npz")
    graph_def = tf.GraphDef.FromString((FIXTURES / "tf_frozen" / "mlp.pb").read_bytes())
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 8], name="input")
        outs = tf.import_graph_def(graph_def, input_map={"X": x}, return_elements=["logits:0", "probs:0", "score:0"])
        assert [t.name for t in outs] == ["import/logits:0", "import/probs:0", "import/score:0"]
        with tf.Session() as sess:
            logits, probs, score = sess.run(outs, {x: want["x"]})
    np.testing.assert_allclose(logits, want["logits"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs, want["probs"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(score, want["score"], rtol=1e-5, atol=1e-5)


def test_pygraph_frozen_graph_is_what_tensorflow_read():
    """model.pb was written by pygraph and run by TensorFlow (make_pygraph_frozen_graph.py): pygraph still
    writes the same GraphDef, and computes what TF computed from it."""
    sys.path.insert(0, str(FIXTURES))
    try:
        import make_pygraph_frozen_graph as make
    finally:
        sys.path.remove(str(FIXTURES))
    stored = tf.GraphDef.FromString((FIXTURES / "pygraph_frozen" / "model.pb").read_bytes())
    assert make.build_and_freeze(tf) == stored
    want = np.load(FIXTURES / "pygraph_frozen" / "expected.npz")
    with tf.Graph().as_default():
        outs = tf.import_graph_def(stored, return_elements=["logits:0", "probs:0", "score:0"], name="")
        with tf.Session() as sess:
            got = sess.run(outs, {"X:0": want["x"]})
    for g, k in zip(got, ("logits", "probs", "score")):
        np.testing.assert_allclose(g, want[k], rtol=1e-5, atol=1e-5)


def _small_graph_def():
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [None, 2], name="X")
        tf.identity(x * 2.0, name="y")
        tf.no_op(name="n")
    return g.as_graph_def()


def test_names_prefix_empty_name_and_uniquifying():
    gd = _small_graph_def()
    with tf.Graph().as_default() as g:
        assert tf.import_graph_def(gd) is None
        y1, = tf.import_graph_def(gd, return_elements=["y:0"])
        assert y1.name == "import_1/y:0"
        tf.import_graph_def(gd, name="")
        y, n = tf.import_graph_def(gd, name="", return_elements=["y:0", "n"])  # TF renames clashing nodes
        assert (y.name, n.name) == ("y_1:0", "n_1")
        assert [t.name for t in y.op.inputs] == ["mul_1:0"]
        with tf.name_scope("outer"):
            tf.import_graph_def(gd, name="m")
            tf.import_graph_def(gd, name="m")
        names = [o.name for o in g.get_operations()]
        assert names[:4] == ["import/X", "import/mul/y", "import/mul", "import/y"]
        assert names[-5:] == ["outer/m_1/X", "outer/m_1/mul/y", "outer/m_1/mul", "outer/m_1/y", "outer/m_1/n"]
        with tf.Session() as sess:
            np.testing.assert_allclose(sess.run(y, {"X_1:0": [[1.0, -2.0]]}), [[2.0, -4.0]])


def test_errors_have_tensorflows_texts():
    gd = _small_graph_def()
    with tf.Graph().as_default() as g:
        a = tf.placeholder(tf.float32, [None, 2], name="A")
        cases = [(dict(input_map={"Z:0": a}), ValueError, "Attempted to map inputs that were not found in "
                  "graph_def: [Z:0]"),
                 (dict(return_elements=["nope:0"]), ValueError, "Requested return tensor 'nope:0' not found"),
                 (dict(return_elements=["nope"]), ValueError, "Requested return node 'nope' not found"),
                 (dict(return_elements=["y:3"]), ValueError, "Invalid return output 3 of node 'y', which has 1"),
                 (dict(return_elements=[1]), TypeError, "`return_elements` must be a list of strings"),
                 (dict(input_map={"X:0": tf.constant([1, 2])}), ValueError, "Input 0 of node import/mul was passed "
                  "int32 from Const:0 incompatible with expected float32")]
        for kwargs, cls, text in cases:
            before = len(g.get_operations())
            with pytest.raises(cls, match=text.replace("[", r"\[").replace("]", r"\]")):
                tf.import_graph_def(gd, **kwargs)
            assert len(g.get_operations()) == before  # a failed import leaves the graph as it was
        with pytest.raises(TypeError, match="must be a GraphDef proto"):
            tf.import_graph_def(g)
        with pytest.raises(TypeError, match="tf.import_graph_def"):
            tf.train.import_meta_graph("x.meta", input_map={})


def test_extract_sub_graph_and_remove_training_nodes():
    gd = _small_graph_def()
    sub = tf.graph_util.extract_sub_graph(gd, ["y"])
    assert [n.name for n in sub.node] == ["X", "mul/y", "mul", "y"]
    with pytest.raises(ValueError, match="nope is not in graph"):
        tf.graph_util.extract_sub_graph(gd, ["nope"])
    with pytest.raises(TypeError, match="dest_nodes must be a list"):
        tf.graph_util.extract_sub_graph(gd, "y")
    slim = tf.graph_util.remove_training_nodes(sub, protected_nodes=[])
    assert [n.name for n in slim.node] == ["X", "mul/y", "mul"]  # TF splices out Identity
    assert [n.name for n in tf.graph_util.remove_training_nodes(sub, ["y"]).node][-1] == "y"


def test_gfile_and_write_graph_text(tmp_path, trained):
    d = tmp_path / "a" / "b"
    tf.gfile.MakeDirs(str(d))
    assert tf.gfile.IsDirectory(str(d)) and tf.io.gfile.isdir(str(d))
    p = str(d / "f.txt")
    with tf.gfile.GFile(p, "w") as f:
        f.write("old")
    with pytest.raises(RuntimeError), tf.gfile.Open(p, "w") as f:  # a failed write keeps the old file
        f.write("partial")
        raise RuntimeError
    assert tf.gfile.GFile(p).read() == "old" and tf.gfile.ListDirectory(str(d)) == ["f.txt"]
    tf.gfile.Copy(p, str(d / "g.txt"))
    tf.gfile.Rename(str(d / "g.txt"), str(d / "h.txt"))
    assert tf.gfile.Glob(str(d / "*.txt")) == [p, str(d / "h.txt")]
    tf.gfile.Remove(p)
    assert not tf.gfile.Exists(p) and not tf.io.gfile.exists(p)
    with pytest.raises(tf.errors.NotFoundError):
        tf.gfile.GFile(p, "rb")
    from google.protobuf import text_format

    path = tf.train.write_graph(trained[0], str(tmp_path), "frozen.pbtxt")
    assert text_format.Parse(Path(path).read_text(), tf.GraphDef()) == trained[0]


def test_graph_def_needs_no_tensorboard():
    code = ("import sys; sys.modules['tensorboard'] = None\nimport pygraph as tf\n"
            "with tf.Graph().as_default() as g: tf.identity(tf.constant([1.0]), name='y')\n"
            "gd = tf.GraphDef.FromString(g.as_graph_def().SerializeToString())\n"
            "with tf.Graph().as_default(): print(tf.import_graph_def(gd, return_elements=['y'])[0].name)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=aot_models.PYTHON_ENV)
    assert out.returncode == 0 and out.stdout.strip() == "import/y", out.stderr


def test_compile_command_reads_pygraph_frozen_graph(trained, tmp_path):
    frozen, xs, want, _ = trained
    pb = tf.train.write_graph(frozen, str(tmp_path), "frozen.pb", as_text=False)
    status, _, err = aot_models.compile_command(pb, "--feed", "X:float32[?,8]", "--fetch", "predictions",
                                                "--name", "pgfrozen", "-o", tmp_path / "out", "--build")
    assert status == 0, err
    lib = ctypes.CDLL(str(tmp_path / "out" / "build" / "libpgfrozen.so"))
    lib.pgfrozen_create.restype = ctypes.c_void_p
    lib.pgfrozen_run.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p]
    got = np.zeros((len(xs), 3), np.float32)
    assert lib.pgfrozen_run(lib.pgfrozen_create(None), len(xs), xs.ctypes.data, got.ctypes.data) == 0
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
