"""tf.train.import_meta_graph on MetaGraphDef files TensorFlow wrote (tests/fixtures/tf_train, made by
make_tf_training_meta.py with tf.compat.v1): the graph with TF's own gradient and optimizer ops is rebuilt,
the Saver restores TF's checkpoint, the outputs and N more training steps give TF's numbers, and a Saver of
the imported graph writes the checkpoint keys TF's Saver reads. Bad files fail cleanly and leave the graph
empty."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pygraph as tf
from pygraph import errors

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tf_train"
LOSS = {"regression": "mse:0", "momentum": "mse:0", "mlp": "loss:0"}
TRAIN_OP = {"regression": "GradientDescent", "momentum": "Momentum", "mlp": "Adam"}


def _restored(model):
    want = np.load(FIXTURES / model / "expected.npz")
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.train.import_meta_graph(str(FIXTURES / model / "model.ckpt.meta"))
        sess = tf.Session(graph=graph)
        saver.restore(sess, str(FIXTURES / model / "model.ckpt"))
    return graph, sess, saver, want, {"X:0": want["X"], "y:0": want["y"]}


@pytest.mark.parametrize("model", ["regression", "momentum", "mlp"])
def test_restore_and_continue_training_give_tensorflows_numbers(model):
    graph, sess, _, want, feed = _restored(model)
    with graph.as_default():
        out = sess.run(str(want["output_name"]) + ":0", feed)
        np.testing.assert_allclose(out, want["outputs"], rtol=1e-5, atol=1e-6)
        train = graph.get_collection("train_op")
        assert [op.name for op in train] == [TRAIN_OP[model]]
        losses = [sess.run([train[0], LOSS[model]], feed)[1] for _ in range(int(want["steps"]))]
        np.testing.assert_allclose(losses, want["losses"], rtol=1e-5)
        np.testing.assert_allclose(sess.run(str(want["var_name"]) + ":0"), want["trained_var"], rtol=1e-4,
                                   atol=1e-6)
        np.testing.assert_allclose(sess.run(LOSS[model], feed), want["final_loss"], rtol=1e-5)


def test_imported_graph_has_tfs_variables_and_ops():
    graph, sess, saver, _, _ = _restored("mlp")
    names = {v.op.name for v in graph.get_collection("trainable_variables")}
    assert names == {f"{layer}/{p}" for layer in ("hidden1", "hidden2", "outputs") for p in ("kernel", "bias")}
    assert len(graph.get_collection("variables")) == 20  # 6 weights, 12 Adam slots, 2 beta powers
    assert graph.get_operation_by_name("Adam/update_hidden1/kernel/ApplyAdam").type == "AssignSub"
    assert not [op for op in graph.get_operations() if op.name.startswith("save/")]  # TF's Saver ops: replaced
    with graph.as_default():  # the initializers TF wrote run too (Glorot bounds of hidden1's kernel)
        sess.run(tf.global_variables_initializer())
        kernel = sess.run("hidden1/kernel:0")
    limit = np.sqrt(6 / (64 + 30))
    assert kernel.shape == (64, 30) and np.abs(kernel).max() <= limit and kernel.std() > limit / 3


@pytest.mark.parametrize("fresh_saver", [False, True])
def test_saver_of_imported_graph_writes_tfs_checkpoint_keys(tmp_path, fresh_saver):
    graph, sess, saver, want, feed = _restored("mlp")
    with graph.as_default():
        if fresh_saver:
            saver = tf.train.Saver()
        sess.run(TRAIN_OP["mlp"], feed)
        prefix = saver.save(sess, str(tmp_path / "again.ckpt"), write_meta_graph=False)
        written = tf.train.NewCheckpointReader(prefix).get_variable_to_shape_map()
        tf_written = tf.train.NewCheckpointReader(str(FIXTURES / "mlp" / "model.ckpt")).get_variable_to_shape_map()
        assert written == tf_written
        value = tf.train.NewCheckpointReader(prefix).get_tensor("hidden2/kernel/Adam_1")
        np.testing.assert_array_equal(value, sess.run("hidden2/kernel/Adam_1:0"))


def _node(gd, name, op, inputs=(), **attrs):
    node = gd.node.add(name=name, op=op)
    node.input.extend(inputs)
    for k, v in attrs.items():
        node.attr[k].CopyFrom(v)
    return node


def _meta_with(tmp_path, build):
    from tensorboard.compat.proto import attr_value_pb2, meta_graph_pb2, types_pb2

    doc = meta_graph_pb2.MetaGraphDef()
    f32 = attr_value_pb2.AttrValue(type=types_pb2.DT_FLOAT)
    _node(doc.graph_def, "x", "Placeholder", dtype=f32)
    build(doc.graph_def, f32)
    path = tmp_path / "crafted.meta"
    path.write_bytes(doc.SerializeToString())
    return path


def test_unsupported_op_types_are_all_listed_and_nothing_is_imported(tmp_path):
    def build(gd, f32):
        _node(gd, "a", "Svd", ["x"], T=f32)
        _node(gd, "b", "Svd", ["a"], T=f32)
        _node(gd, "c", "Lgamma", ["b"], T=f32)
        _node(gd, "d", "Relu", ["c"], T=f32)

    path = _meta_with(tmp_path, build)
    with tf.Graph().as_default() as graph:
        with pytest.raises(errors.UnimplementedError) as e:
            tf.train.import_meta_graph(str(path))
        assert not graph.get_operations()
    msg = str(e.value)
    assert "unsupported op types in the TensorFlow graph (2" in msg
    assert "Lgamma (used by 'c')" in msg and "Svd (used by 'a', 'b')" in msg


@pytest.mark.parametrize("case", ["cycle", "missing input", "bad output index", "huge constant", "shape clash"])
def test_malformed_tf_graphs_fail_cleanly(tmp_path, case):
    from tensorboard.compat.proto import attr_value_pb2, tensor_pb2, tensor_shape_pb2, types_pb2

    def build(gd, f32):
        if case == "cycle":
            _node(gd, "a", "Relu", ["b"], T=f32)
            _node(gd, "b", "Relu", ["a"], T=f32)
        elif case == "missing input":
            _node(gd, "a", "Relu", ["nowhere"], T=f32)
        elif case == "bad output index":
            _node(gd, "a", "Relu", ["x:3"], T=f32)
        elif case == "huge constant":  # one stored value that TF would repeat 2^40 times
            shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1 << 40)])
            value = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape, float_val=[1.0])
            _node(gd, "a", "Const", dtype=f32, value=attr_value_pb2.AttrValue(tensor=value))
        else:  # a (3,) constant times a (4,) one
            for name, n in (("a", 3), ("b", 4)):
                shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=n)])
                value = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape, float_val=[1.0])
                _node(gd, name, "Const", dtype=f32, value=attr_value_pb2.AttrValue(tensor=value))
            _node(gd, "c", "Mul", ["a", "b"], T=f32)

    path = _meta_with(tmp_path, build)
    with tf.Graph().as_default() as graph:
        with pytest.raises((errors.DataLossError, errors.InvalidArgumentError)) as e:
            tf.train.import_meta_graph(str(path))
        assert not graph.get_operations() and not graph.get_all_collection_keys()
    want = {"cycle": "cycle of inputs", "missing input": "reads 'nowhere', which the graph lacks",
            "bad output index": "reads 'x:3', but 'x' has 1 outputs", "huge constant": "repeated values",
            "shape clash": "cannot import node 'c' (Mul)"}[case]
    assert want in str(e.value)


def test_fuzzed_tf_meta_graphs_fail_cleanly(tmp_path):
    """Byte flips and truncations of TF's file: either an import, or an OpError/ValueError, never a crash or a
    half-built graph."""
    data = (FIXTURES / "regression" / "model.ckpt.meta").read_bytes()
    rng = np.random.default_rng(0)
    outcomes = {"imported": 0, "clean error": 0}
    for i in range(150):
        mutant = bytearray(data)
        if i % 3 == 0:
            mutant = mutant[: int(rng.integers(1, len(mutant)))]
        for _ in range(int(rng.integers(1, 4))):
            mutant[int(rng.integers(len(mutant)))] = int(rng.integers(256))
        path = tmp_path / "m.meta"
        path.write_bytes(bytes(mutant))
        with tf.Graph().as_default() as graph:
            try:
                tf.train.import_meta_graph(str(path))
                outcomes["imported"] += 1
            except (errors.OpError, ValueError, TypeError):
                assert not graph.get_operations(), f"case {i}: a failed import left ops behind"
                outcomes["clean error"] += 1
    assert outcomes["clean error"] > 0 and outcomes["imported"] > 0, outcomes


def test_import_scope_twice_into_one_graph_gives_tfs_names_and_numbers(tmp_path):
    """TF's import_scoped_meta_graph: every node, input, variable and collection entry goes under the scope
    (a second import under the same scope goes to "m_1", as TF 2.21's tf.compat.v1 does); each import's
    Saver restores TF's checkpoint into its own variables, and training one copy leaves the other alone."""
    want = np.load(FIXTURES / "mlp" / "expected.npz")
    out, var = str(want["output_name"]) + ":0", str(want["var_name"]) + ":0"
    plain_graph, plain_sess, _, _, plain_feed = _restored("mlp")
    with plain_graph.as_default():
        plain_out = plain_sess.run(out, plain_feed)
        plain_names = {op.name for op in plain_graph.get_operations()}
    graph = tf.Graph()
    with graph.as_default():
        savers = [tf.train.import_meta_graph(str(FIXTURES / "mlp" / "model.ckpt.meta"), import_scope="m")
                  for _ in range(2)]
        sess = tf.Session(graph=graph)
        for saver in savers:
            saver.restore(sess, str(FIXTURES / "mlp" / "model.ckpt"))
        scopes = ("m", "m_1")
        assert {op.name for op in graph.get_operations()} == {f"{s}/{n}" for s in scopes for n in plain_names}
        for op in graph.get_operations():
            prefix = op.name.split("/")[0] + "/"
            assert all(t.op.name.startswith(prefix) for t in op.inputs), op.name
            assert all(c.name.startswith(prefix) for c in op.control_inputs), op.name
        assert [op.name for op in graph.get_collection("train_op")] == ["m/Adam", "m_1/Adam"]
        trainable = {v.op.name for v in graph.get_collection("trainable_variables")}
        assert trainable == {f"{s}/{layer}/{p}" for s in scopes for layer in ("hidden1", "hidden2", "outputs")
                             for p in ("kernel", "bias")}
        assert len(graph.get_collection("variables")) == 40
        assert graph.get_collection("variables", scope="m_1/")[0].initializer.name.startswith("m_1/")
        feeds = {s: {f"{s}/X:0": want["X"], f"{s}/y:0": want["y"]} for s in scopes}
        for s in scopes:
            got = sess.run(f"{s}/{out}", feeds[s])
            np.testing.assert_allclose(got, want["outputs"], rtol=1e-5, atol=1e-6)
            np.testing.assert_array_equal(got, plain_out)
        before = sess.run(f"m_1/{var}")
        losses = [sess.run(["m/Adam", f"m/{LOSS['mlp']}"], feeds["m"])[1] for _ in range(int(want["steps"]))]
        np.testing.assert_allclose(losses, want["losses"], rtol=1e-5)
        np.testing.assert_allclose(sess.run(f"m/{var}"), want["trained_var"], rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(sess.run(f"m_1/{var}"), before)
        # the scoped Saver writes the checkpoint's own (unscoped) keys, as TF's does
        prefix = savers[0].save(sess, str(tmp_path / "scoped.ckpt"), write_meta_graph=False)
        written = tf.train.NewCheckpointReader(prefix)
        tf_written = tf.train.NewCheckpointReader(str(FIXTURES / "mlp" / "model.ckpt"))
        assert written.get_variable_to_shape_map() == tf_written.get_variable_to_shape_map()
        np.testing.assert_array_equal(written.get_tensor(str(want["var_name"])), sess.run(f"m/{var}"))


def test_import_scope_nests_in_the_name_scope_and_is_checked_like_tfs():
    with tf.Graph().as_default() as graph:
        with tf.name_scope("outer"):
            saver = tf.train.import_meta_graph(str(FIXTURES / "regression" / "model.ckpt.meta"),
                                               import_scope="b")
        assert all(op.name.startswith("outer/b/") for op in graph.get_operations())
        assert set(saver.saver_def.var_names.values()) <= {op.name for op in graph.get_operations()}
    with tf.Graph().as_default() as graph:
        with pytest.raises(ValueError, match="'bad name' is not a valid root scope name"):
            tf.train.import_meta_graph(str(FIXTURES / "regression" / "model.ckpt.meta"), import_scope="bad name")
        assert not graph.get_operations() and not graph.get_all_collection_keys()


def test_prefixed_graph_def_renames_inputs_and_colocations_as_tfs_importer():
    from pygraph.tf_import.meta import _prefixed_graph_def, parse_meta_graph, prepend_name_scope

    assert [prepend_name_scope(n, "s") for n in ("a/b", "^a", "a:1", "loc:@a/b")] == \
        ["s/a/b", "^s/a", "s/a:1", "loc:@s/a/b"]
    doc = parse_meta_graph((FIXTURES / "mlp" / "model.ckpt.meta").read_bytes(), "mlp")
    gd = _prefixed_graph_def(doc.graph_def, "s")
    names = {n.name for n in gd.node}
    assert names == {"s/" + n.name for n in doc.graph_def.node}
    colocations = [v.decode() for n in gd.node for v in n.attr["_class"].list.s if "_class" in n.attr]
    assert colocations and all(c.startswith("loc:@s/") and c[5:] in names for c in colocations)
    assert all(i.lstrip("^").partition(":")[0] in names for n in gd.node for i in n.input)
