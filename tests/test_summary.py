"""tf.summary ops, FileWriter event files and GraphDef export, read back with TensorBoard's own readers."""

from __future__ import annotations

import bisect
import os
import re
import socket
import sys
import time
from pathlib import Path

import housing
import numpy as np
import pytest

import pygraph as tf
from pygraph.graph_def import graph_to_graph_def

tb = pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
from tensorboard.backend import process_graph  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader  # noqa: E402
from tensorboard.compat.proto import summary_pb2  # noqa: E402
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c  # noqa: E402


def _accumulator(logdir):
    acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return acc


def _events(path):
    return list(LegacyEventFileLoader(str(path)).Load())  # events as written


def _event_files(logdir):
    return sorted(p for p in Path(logdir).iterdir() if "tfevents" in p.name)


# -- names and tags

def test_summary_op_names_and_tags_follow_tf1():
    x = tf.placeholder(tf.float32, (None,), name="x")
    with tf.name_scope("loss"):
        error = x - 1.0
        mse = tf.reduce_mean(tf.square(error), name="mse")
        clash = tf.summary.scalar("MSE", mse)  # names are unique case-insensitively: loss/mse is taken
    assert (error.op.name, mse.op.name) == ("loss/sub", "loss/mse")
    with tf.name_scope("loss/"):  # re-entered
        with tf.name_scope("eval"):
            in_scope = tf.summary.scalar("MSE", mse)
    root = tf.summary.scalar("MSE", mse)
    again = tf.summary.scalar("loss", mse)  # TF1 gotcha: the name scope "loss" is taken -> loss_1
    fam = tf.summary.scalar("lr", mse, family="train")
    odd = tf.summary.scalar("my loss:1", mse)
    hist = tf.summary.histogram("weights", x)
    assert clash.op.name == "loss/MSE_1"
    assert in_scope.op.name == "loss/eval/MSE" and in_scope.dtype == tf.string and in_scope.shape.ndims == 0
    assert [root.op.name, again.op.name, fam.op.name, odd.op.name] == ["MSE", "loss_1", "train/lr", "my_loss_1"]
    assert root.op.type == "ScalarSummary" and hist.op.type == "HistogramSummary"
    tags = {s.op.name: s.op.inputs[0].op.get_attr("value").item() for s in (clash, in_scope, root, again, fam, odd)}
    assert tags == {"loss/MSE_1": b"loss/MSE_1", "loss/eval/MSE": b"loss/eval/MSE", "MSE": b"MSE",
                    "loss_1": b"loss_1", "train/lr": b"train/train/lr", "my_loss_1": b"my_loss_1"}
    assert tf.get_collection(tf.GraphKeys.SUMMARIES) == [clash, in_scope, root, again, fam, odd, hist]
    merged = tf.summary.merge_all()
    assert merged.op.name == "Merge/MergeSummary" and len(merged.op.inputs) == 7
    assert tf.summary.merge_all(scope="loss/").op.inputs == [clash, in_scope]
    assert tf.summary.merge([root], name="pair").op.name == "pair/pair"
    assert tf.summary.merge_all(key="nothing_here") is None
    only_mine = tf.summary.scalar("private", mse, collections=["mine"])
    assert tf.get_collection("mine") == [only_mine] and only_mine not in tf.get_collection(tf.GraphKeys.SUMMARIES)


def test_summary_builders_reject_bad_input():
    with pytest.raises(TypeError, match="DataType bool not in list of allowed values"):
        tf.summary.scalar("flag", tf.constant(True))
    with pytest.raises(ValueError, match=r"not the same shape: \[\] != \[3\].*ScalarSummary 'v'"):
        tf.summary.scalar("v", tf.constant([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="shorter than minimum length 1"):
        tf.summary.merge([])
    with pytest.raises(TypeError, match="do not match expected type string"):
        tf.summary.merge([tf.constant(1.0)])


# -- the lecture program: linear regression with an MSE curve in TensorBoard

def _housing(n):
    features, value = housing.load(n)
    income = features[:, 0]
    return ((income - income.mean()) / income.std()).astype(np.float32), value.astype(np.float32)


def test_mse_curve_and_graph_read_back_by_tensorboard(tmp_path):
    xs, ys = _housing(2000)
    x = tf.placeholder(tf.float32, (None,), name="X")
    y = tf.placeholder(tf.float32, (None,), name="y")
    a = tf.Variable(0.0, name="slope")
    b = tf.Variable(0.0, name="intercept")
    with tf.name_scope("loss"):
        error = a * x + b - y
        mse = tf.reduce_mean(tf.square(error), name="mse")
    lr = 0.1
    training_op = tf.group(tf.assign_sub(a, lr * 2.0 * tf.reduce_mean(error * x)),
                           tf.assign_sub(b, lr * 2.0 * tf.reduce_mean(error)), name="train")
    mse_summary = tf.summary.scalar("MSE", mse)
    writer = tf.summary.FileWriter(str(tmp_path), tf.get_default_graph())
    feed = {x: xs, y: ys}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(30):
            if step % 10 == 0:
                writer.add_summary(mse_summary.eval(feed_dict=feed), step)
            sess.run(training_op, feed_dict=feed)
    writer.close()

    # numpy float64 reference of the same gradient descent
    a_ref = b_ref = 0.0
    expected = {}
    for step in range(30):
        err = a_ref * xs.astype(np.float64) + b_ref - ys
        if step % 10 == 0:
            expected[step] = np.mean(err ** 2)
        a_ref, b_ref = a_ref - lr * 2 * np.mean(err * xs), b_ref - lr * 2 * np.mean(err)

    acc = _accumulator(tmp_path)
    assert acc.Tags()["scalars"] == ["MSE"] and acc.Tags()["graph"]
    scalars = acc.Scalars("MSE")
    assert [s.step for s in scalars] == [0, 10, 20]
    np.testing.assert_allclose([s.value for s in scalars], [expected[k] for k in (0, 10, 20)], rtol=1e-4)
    names = {n.name for n in acc.Graph().node}
    assert {"X", "y", "slope", "slope/Assign", "slope/read", "loss/sub", "loss/mse", "MSE", "train"} <= names
    assert sum(1 for p in _event_files(tmp_path)) == 1


# -- histograms: TF's bucket rules (histogram.cc), transcribed literally as the oracle

def _tf_default_limits():
    limits, v = [], 1.0e-12
    while v < 1.0e20:
        limits.append(v)
        v *= 1.1
    limits.append(sys.float_info.max)
    return [-x for x in reversed(limits)] + [0.0] + limits


def _tf_histogram(values):
    limits = _tf_default_limits()
    buckets = [0.0] * len(limits)
    lo, hi, total, squares = limits[-1], -sys.float_info.max, 0.0, 0.0
    for v in values:
        buckets[bisect.bisect_right(limits, v)] += 1.0
        lo, hi = min(lo, v), max(hi, v)
        total += v
        squares += v * v
    out_limits, out_counts, i = [], [], 0
    while i < len(buckets):
        end, count, j = limits[i], buckets[i], i + 1
        while count <= 0 and j < len(buckets) and buckets[j] <= 0:
            end, count, j = limits[j], buckets[j], j + 1
        out_limits.append(end)
        out_counts.append(count)
        i = j
    return lo, hi, float(len(values)), total, squares, out_limits, out_counts


def test_histogram_summary_matches_tf_buckets():
    rng = np.random.default_rng(7)
    samples = np.concatenate([rng.normal(0, 3, 200), [0.0, 0.0, -0.0, 1e-13, -1e-13, 5e25, -5e25, 1.0, 1.1]])
    x = tf.placeholder(tf.float64, (None,), name="x")
    h = tf.summary.histogram("weights", x)
    with tf.Session() as sess:
        for values in (samples, np.array([]), np.array([2.5])):
            summary = summary_pb2.Summary.FromString(sess.run(h, {x: values}))
            (value,) = summary.value
            assert value.tag == "weights"
            histo = value.histo
            got = (histo.min, histo.max, histo.num, histo.sum, histo.sum_squares, list(histo.bucket_limit),
                   list(histo.bucket))
            assert got == _tf_histogram(values.tolist())
        with pytest.raises(tf.errors.InvalidArgumentError, match="Nan in summary histogram for: weights"):
            sess.run(h, {x: np.array([1.0, np.nan, np.inf])})
        with pytest.raises(tf.errors.InvalidArgumentError, match="Infinity in summary histogram for: weights"):
            sess.run(h, {x: np.array([1.0, -np.inf])})


def test_scalar_and_merged_summaries_run(tmp_path):
    x = tf.placeholder(tf.float32, (), name="x")
    s = tf.summary.scalar("x_value", x)
    tf.summary.histogram("x_hist", x)
    merged = tf.summary.merge_all()
    twice = tf.summary.merge([s, s])
    with tf.Session() as sess:
        out = sess.run(merged, {x: 1.0 / 3.0})
        assert isinstance(out, bytes)
        summary = summary_pb2.Summary.FromString(out)
        assert [v.tag for v in summary.value] == ["x_value", "x_hist"]
        assert summary.value[0].simple_value == np.float32(1.0 / 3.0)
        assert summary.value[1].histo.num == 1
        with pytest.raises(tf.errors.InvalidArgumentError, match="Duplicate tag x_value found in summary inputs"):
            sess.run(twice, {x: 1.0})
        with tf.summary.FileWriter(str(tmp_path)) as writer:
            for step in range(3):
                writer.add_summary(sess.run(merged, {x: float(step)}), global_step=step)
    acc = _accumulator(tmp_path)
    assert [(e.step, e.value) for e in acc.Scalars("x_value")] == [(0, 0.0), (1, 1.0), (2, 2.0)]
    assert [e.step for e in acc.Histograms("x_hist")] == [0, 1, 2]


# -- FileWriter and the event file format

def test_event_file_name_first_record_and_framing(tmp_path):
    writer = tf.summary.FileWriter(str(tmp_path / "run"), filename_suffix=".v1")
    assert writer.get_logdir() == str(tmp_path / "run")
    (path,) = _event_files(tmp_path / "run")
    host = re.escape(socket.gethostname())
    assert re.fullmatch(rf"events\.out\.tfevents\.\d{{10}}\.{host}\.v1", path.name)
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="loss", simple_value=0.25)])
    writer.add_summary(summary, 7)  # the proto itself works too
    writer.add_summary(summary.SerializeToString(), np.int64(8))
    writer.add_session_log(tf.summary.SessionLog(status=tf.summary.SessionLog.START), 9)
    writer.close()
    events = _events(path)  # tensorboard's reader checks both CRCs of every record
    assert events[0].file_version == "brain.Event:2"
    assert [(e.step, e.summary.value[0].simple_value) for e in events[1:3]] == [(7, 0.25), (8, 0.25)]
    assert events[3].session_log.status == tf.summary.SessionLog.START and events[3].step == 9
    assert all(e.wall_time > 1e9 for e in events)
    raw = path.read_bytes()
    length = int.from_bytes(raw[:8], "little")
    assert len(raw) > 16 + length  # several complete records, first one framed as documented
    assert events[0].SerializeToString() == raw[12:12 + length]
    assert int.from_bytes(raw[8:12], "little") == masked_crc32c(raw[:8])  # tensorboard's pure-Python CRC32C
    assert int.from_bytes(raw[12 + length:16 + length], "little") == masked_crc32c(raw[12:12 + length])


def test_flush_close_reopen_and_closed_writer(tmp_path):
    writer = tf.summary.FileWriter(str(tmp_path), max_queue=1000, flush_secs=3600)
    writer.add_summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="a", simple_value=1)]), 1)
    writer.flush()  # visible now, though neither max_queue nor flush_secs was reached
    assert [e.step for e in _accumulator(tmp_path).Scalars("a")] == [1]
    writer.close()
    writer.close()  # idempotent
    with pytest.warns(UserWarning, match="Attempting to use a closed FileWriter"):
        writer.add_summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="a", simple_value=2)]), 2)
    first = _event_files(tmp_path)
    writer.reopen()
    writer.add_summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="a", simple_value=3)]), 3)
    writer.close()
    files = _event_files(tmp_path)
    assert len(first) == 1 and len(files) == 2  # reopen continues in a new file
    assert [e.step for e in _accumulator(tmp_path).Scalars("a")] == [1, 3]
    assert _events(files[1])[0].file_version == "brain.Event:2"


def test_events_reach_the_disk_every_flush_secs(tmp_path):
    writer = tf.summary.FileWriter(str(tmp_path), max_queue=1000, flush_secs=0.05)
    writer.add_summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="a", simple_value=1)]), 5)
    path = _event_files(tmp_path)[0]
    deadline = time.monotonic() + 30
    while len(_events(path)) < 2 and time.monotonic() < deadline:  # no flush() or close() call
        time.sleep(0.02)
    assert [e.step for e in _events(path)] == [0, 5]
    writer.close()


def test_writers_in_one_second_get_distinct_files(tmp_path):
    writers = [tf.summary.FileWriter(str(tmp_path)) for _ in range(3)]
    for i, w in enumerate(writers):
        w.add_summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="w", simple_value=i)]), i)
        w.close()
    files = _event_files(tmp_path)
    assert len(files) == 3
    assert sorted(_events(f)[1].step for f in files) == [0, 1, 2]


def test_add_summary_rejects_bad_input_and_strips_repeated_metadata(tmp_path):
    with tf.summary.FileWriter(str(tmp_path)) as writer:
        with pytest.raises(TypeError, match="Summary protobuf or its serialized bytes"):
            writer.add_summary(3.0)
        with pytest.raises(TypeError, match="must be an instance of `Graph`"):
            writer.add_graph("graph")
        value = summary_pb2.Summary.Value(tag="t", simple_value=1.0)
        value.metadata.plugin_data.plugin_name = "scalars"
        summary = summary_pb2.Summary(value=[value])
        writer.add_summary(summary, 1)
        writer.add_summary(summary, 2)
        assert summary.value[0].HasField("metadata")  # the caller's proto is not modified
    events = _events(_event_files(tmp_path)[0])[1:]
    assert [e.summary.value[0].HasField("metadata") for e in events] == [True, False]


def test_without_tensorboard_ops_build_but_writer_says_what_to_install(monkeypatch, tmp_path):
    for module in ("event_pb2", "summary_pb2"):
        monkeypatch.setitem(sys.modules, f"tensorboard.compat.proto.{module}", None)
    s = tf.summary.scalar("still_builds", tf.constant(1.0))
    assert s.op.type == "ScalarSummary"
    with pytest.raises(ImportError, match=r"pip install pygraph\[tensorboard\]"):
        tf.summary.FileWriter(str(tmp_path))
    assert not os.listdir(tmp_path)


# -- GraphDef export

def _served_graph(logdir, run):
    """The graph as TensorBoard's Graphs plugin serves it to the browser (a GraphDef in text format)."""
    from google.protobuf import text_format
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.compat.proto import graph_pb2
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.graph import graphs_plugin

    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(logdir))
    plugin = graphs_plugin.GraphsPlugin(base_plugin.TBContext(data_provider=provider, logdir=str(logdir)))
    ctx = context.RequestContext()
    assert plugin.info_impl(ctx, experiment="")[run]["run_graph"]
    body, mime = plugin.graph_impl(ctx, run, tag=None, is_conceptual=False, experiment="", limit_attr_size=1024,
                                   large_attrs_key="_too_large_attrs")
    assert mime == "text/x-protobuf"
    return text_format.Parse(body, graph_pb2.GraphDef())


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # tensorboard's vendored html5lib
def test_graph_def_nodes_inputs_and_attrs(tmp_path):
    x = tf.placeholder(tf.float32, (None, 3), name="X")
    w = tf.Variable(np.arange(3, dtype=np.float32), name="weights")
    big = tf.constant(np.zeros(5000, np.float32), name="big")
    with tf.name_scope("loss"):
        mse = tf.reduce_mean(tf.square(x * w - 1.0), name="mse")
    with tf.control_dependencies([w.initializer]):
        after = tf.identity(mse, name="after")
    init = tf.global_variables_initializer()
    graph_def = tf.get_default_graph().as_graph_def(add_shapes=True)
    nodes = {n.name: n for n in graph_def.node}
    assert [n.name for n in graph_def.node] == [op.name for op in tf.get_default_graph().get_operations()]
    assert nodes["X"].op == "Placeholder"
    assert nodes["X"].attr["dtype"].type == 1  # DT_FLOAT
    assert [d.size for d in nodes["X"].attr["shape"].shape.dim] == [-1, 3]
    assert list(nodes["loss/mul"].input) == ["X", "weights/read"]
    assert nodes["loss/mul"].attr["T"].type == 1
    assert list(nodes["after"].input) == ["loss/mse", "^weights/Assign"]
    assert all(i.startswith("^") for i in nodes[init.name].input)
    value = nodes["weights/initial_value"].attr["value"].tensor
    assert np.frombuffer(value.tensor_content, np.float32).tolist() == [0.0, 1.0, 2.0]
    big_value = nodes[big.op.name].attr["value"].tensor
    assert [d.size for d in big_value.tensor_shape.dim] == [5000] and len(big_value.tensor_content) == 5000 * 4
    # as_graph_def keeps every constant (tf.import_graph_def rebuilds them); the summary writer's copy elides
    elided = {n.name: n for n in graph_to_graph_def(tf.get_default_graph(), elide=True).node}
    assert not elided[big.op.name].attr["value"].tensor.tensor_content
    assert elided["weights/initial_value"].attr["value"].tensor.tensor_content == value.tensor_content
    shapes = nodes["loss/mul"].attr["_output_shapes"].list.shape
    assert [[d.size for d in s.dim] for s in shapes] == [[-1, 3]]
    assert "_output_shapes" not in tf.get_default_graph().as_graph_def().node[0].attr
    # every input names a node; TensorBoard's graph plugin accepts the graph
    for node in graph_def.node:
        for ref in node.input:
            assert ref.lstrip("^").split(":")[0] in nodes
    process_graph.prepare_graph_for_ui(graph_def)
    assert "_too_large_attrs" not in nodes["loss/mse"].attr
    version = tf.get_default_graph().version
    tf.identity(after, name="later")
    assert [n.name for n in tf.get_default_graph().as_graph_def(from_version=version).node] == ["later"]
    with tf.Session() as sess:
        assert len(sess.graph_def.node) == len(graph_def.node) + 1
    tf.summary.FileWriter(str(tmp_path / "run1"), tf.get_default_graph()).close()
    served = _served_graph(tmp_path, "run1")
    assert [n.name for n in served.node] == [op.name for op in tf.get_default_graph().get_operations()]
    assert list({n.name: n for n in served.node}["after"].input) == ["loss/mse", "^weights/Assign"]
