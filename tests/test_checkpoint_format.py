"""The V2 tensor bundle, byte for byte: reading TensorFlow's files, writing files TensorFlow reads, and
refusing corrupt ones. The fixtures in tests/fixtures were written by real TensorFlow 2.21
(make_tf_checkpoint.py); tests marked 'TensorFlow' also run TF itself when it is installed."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import pygraph as tf
from pygraph.checkpoint import bundle, table

FIXTURES = Path(__file__).resolve().parent / "fixtures"
_spec = importlib.util.spec_from_file_location("make_tf_checkpoint", FIXTURES / "make_tf_checkpoint.py")
make_tf_checkpoint = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_tf_checkpoint)
EXPECTED = make_tf_checkpoint.expected_values()
TF1_PREFIX = FIXTURES / "tf1" / "model.ckpt-7"


def _same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


# -- reading what TensorFlow wrote
def test_reads_tf1_saver_checkpoint_exactly():
    reader = tf.train.load_checkpoint(str(FIXTURES / "tf1"))  # a directory: its latest checkpoint
    assert reader.get_variable_to_shape_map() == {k: list(v.shape) for k, v in EXPECTED.items()}
    for name, value in EXPECTED.items():
        got = reader.get_tensor(name)
        assert _same(got, value), name
    dtypes = reader.get_variable_to_dtype_map()
    assert dtypes["layer/w"] is tf.float32 and dtypes["scale"] is tf.float64 and dtypes["counts"] is tf.int32
    assert dtypes["big"] is tf.int64 and dtypes["mask"] is tf.bool and dtypes["words"] is tf.string
    assert tf.train.list_variables(str(TF1_PREFIX)) == sorted((k, list(v.shape)) for k, v in EXPECTED.items())


def test_reads_tf2_object_based_checkpoint():
    reader = tf.train.NewCheckpointReader(str(FIXTURES / "tf2" / "ckpt-1"))
    assert _same(reader.get_tensor("v/.ATTRIBUTES/VARIABLE_VALUE"), np.array([[1.5, -2.0]], np.float32))
    assert _same(reader.get_tensor("n/.ATTRIBUTES/VARIABLE_VALUE"), np.array(3, np.int64))
    assert _same(reader.get_tensor("save_counter/.ATTRIBUTES/VARIABLE_VALUE"), np.array(1, np.int64))
    graph_proto = reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH")  # a serialized proto in a string tensor
    assert graph_proto.shape == () and b"save_counter" in graph_proto.item()
    assert reader.has_tensor("n/.ATTRIBUTES/VARIABLE_VALUE") and not reader.has_tensor("n")
    with pytest.raises(tf.errors.NotFoundError, match="Key n not found in checkpoint"):
        reader.get_tensor("n")


def test_tf_state_file_with_relative_paths_resolves_against_its_directory():
    state = tf.train.get_checkpoint_state(str(FIXTURES / "tf1"))
    assert state.model_checkpoint_path == str(TF1_PREFIX)
    assert list(state.all_model_checkpoint_paths) == [str(TF1_PREFIX)]
    assert tf.train.latest_checkpoint(str(FIXTURES / "tf1")) == str(TF1_PREFIX)
    assert tf.train.checkpoint_exists(str(TF1_PREFIX)) and not tf.train.checkpoint_exists(str(TF1_PREFIX) + "x")


# -- writing what TensorFlow writes
def test_written_bundle_is_byte_identical_to_tensorflows(tmp_path):
    prefix = str(tmp_path / "model.ckpt-7")
    bundle.write_bundle(prefix, EXPECTED)
    for suffix in (".index", ".data-00000-of-00001"):
        ours = Path(prefix + suffix).read_bytes()
        assert ours == Path(str(TF1_PREFIX) + suffix).read_bytes(), suffix
    assert sorted(os.listdir(tmp_path)) == ["model.ckpt-7.data-00000-of-00001", "model.ckpt-7.index"]


def test_crc32c_and_masking_follow_leveldb():
    assert table.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert table.crc32c(b"") == 0
    for crc in (0, 1, 0xE3069283, 0xFFFFFFFF):
        assert table.unmask(table.mask(crc)) == crc
    assert table.mask(0) == 0xA282EAD8


def test_table_round_trip_over_many_blocks():
    rng = np.random.default_rng(1)
    alphabet = [b"a", b"b", b"/", b"\xff", b"\x00"]  # few letters: long shared prefixes
    keys = sorted({b"".join(alphabet[i] for i in rng.integers(0, 5, size=rng.integers(1, 30)))
                   for _ in range(3000)})
    items = [(b"", b"header")] + [(k, bytes(rng.integers(0, 256, size=rng.integers(0, 300), dtype=np.uint8)))
                                  for k in keys]
    items.append((b"\xff" * 40, b"x" * (2 * table.BLOCK_SIZE + 1)))  # an entry too big for any block
    data = table.build_table(items)
    assert table.read_table(data) == items
    footer = len(data) - table.FOOTER_SIZE  # several data blocks: the index has more than one entry
    _, _, pos = table._read_handle(data, footer, footer + 40, "t")
    offset, size, _ = table._read_handle(data, pos, footer + 40, "t")
    assert len(table._read_block(data, offset, size, "t", "index")) > 2
    with pytest.raises(ValueError, match="strictly increasing"):
        table.build_table([(b"b", b""), (b"a", b"")])


def test_string_tensors_round_trip(tmp_path):
    words = np.array([[b"", "h\u00e9".encode()], [b"\x00\xff", b"x" * 1000]], dtype=object)
    bundle.write_bundle(str(tmp_path / "s"), {"words": words, "one": np.array(b"abc", dtype=object)})
    reader = tf.train.NewCheckpointReader(str(tmp_path / "s"))
    got = reader.get_tensor("words")
    assert got.shape == (2, 2) and list(got.ravel()) == list(words.ravel())
    assert reader.get_tensor("one").item() == b"abc"


# -- corruption is always an error, never wrong values
def _small_checkpoint(tmp_path):
    prefix = str(tmp_path / "c")
    bundle.write_bundle(prefix, {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1.5]),
                                 "step": np.array(3, np.int64), "s": np.array([b"ab", b"c"], dtype=object)})
    return prefix


def _read_all(prefix):
    with bundle.BundleReader(prefix) as reader:
        return {name: reader.read(name) for name in reader.entries}


def test_every_flipped_byte_of_the_index_is_detected(tmp_path):
    prefix = _small_checkpoint(tmp_path)
    path = prefix + ".index"
    good = Path(path).read_bytes()
    for i in range(len(good)):
        bad = bytearray(good)
        bad[i] ^= 0x10
        Path(path).write_bytes(bytes(bad))
        with pytest.raises(tf.errors.DataLossError):
            _read_all(prefix)
    Path(path).write_bytes(good[:-1])
    with pytest.raises(tf.errors.DataLossError, match="bad magic number"):
        _read_all(prefix)
    Path(path).write_bytes(good[:20])
    with pytest.raises(tf.errors.DataLossError, match="too short"):
        _read_all(prefix)


def test_every_flipped_byte_of_the_data_file_is_detected(tmp_path):
    prefix = _small_checkpoint(tmp_path)
    path = bundle.data_filename(prefix)
    good = Path(path).read_bytes()
    for i in range(len(good)):
        bad = bytearray(good)
        bad[i] ^= 0x01
        Path(path).write_bytes(bytes(bad))
        with pytest.raises(tf.errors.DataLossError):
            _read_all(prefix)
    Path(path).write_bytes(good[:-3])
    with pytest.raises(tf.errors.DataLossError):
        _read_all(prefix)


def test_missing_files_are_not_found(tmp_path):
    with pytest.raises(tf.errors.NotFoundError, match="Failed to find any matching files"):
        tf.train.NewCheckpointReader(str(tmp_path / "nothing"))
    prefix = _small_checkpoint(tmp_path)
    os.remove(bundle.data_filename(prefix))
    with pytest.raises(tf.errors.NotFoundError, match="data-00000-of-00001"):
        _read_all(prefix)
    with pytest.raises(ValueError, match="Couldn't find 'checkpoint' file"):
        tf.train.load_checkpoint(str(tmp_path))


# -- TensorFlow itself, when installed (it is an optional oracle: these skip without it)
def _tensorflow():
    return pytest.importorskip("tensorflow", reason="TensorFlow is not installed (optional oracle)")


def test_tensorflow_reads_and_restores_our_checkpoint(tmp_path):
    real_tf = _tensorflow()
    with tf.Graph().as_default():
        tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3) / 7, name="theta")
        tf.Variable(np.array([1e-300, 2.5]), name="layer/bias")
        step = tf.Variable(np.int64(42), name="global_step")
        tf.Variable(np.array([True, False]), name="flags")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            prefix = tf.train.Saver().save(sess, str(tmp_path / "model.ckpt"), global_step=step)
    reader = real_tf.train.load_checkpoint(str(tmp_path))
    assert _same(reader.get_tensor("theta"), np.arange(6, dtype=np.float32).reshape(2, 3) / 7)
    assert _same(reader.get_tensor("layer/bias"), np.array([1e-300, 2.5]))
    assert _same(reader.get_tensor("global_step"), np.array(42, np.int64))
    assert real_tf.train.latest_checkpoint(str(tmp_path)) == prefix
    v1 = real_tf.compat.v1
    with real_tf.Graph().as_default():
        t = v1.Variable(np.zeros((2, 3), np.float32), name="theta")
        b = v1.Variable(np.zeros(2), name="layer/bias")
        s = v1.Variable(np.int64(0), name="global_step")
        f = v1.Variable(np.array([False, False]), name="flags")
        with v1.Session() as sess:
            v1.train.Saver().restore(sess, prefix)
            got = sess.run([t, b, s, f])
    assert _same(got[0], np.arange(6, dtype=np.float32).reshape(2, 3) / 7) and got[1][0] == 1e-300
    assert got[2] == 42 and list(got[3]) == [True, False]


def test_tensorflow_checkpoint_restores_into_pygraph(tmp_path):
    real_tf = _tensorflow()
    v1 = real_tf.compat.v1
    with real_tf.Graph().as_default():
        v1.Variable(np.full((3,), 2.5, np.float32), name="w")
        v1.Variable(np.int32(-7), name="k")
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            prefix = v1.train.Saver().save(sess, str(tmp_path / "tf.ckpt"), write_meta_graph=False)
    w = tf.Variable(np.zeros(3, np.float32), name="w")
    k = tf.Variable(np.int32(0), name="k")
    with tf.Session() as sess:
        tf.train.Saver().restore(sess, prefix)
        assert _same(sess.run(w), np.full((3,), 2.5, np.float32)) and sess.run(k) == -7


def test_many_tensors_match_tensorflows_save_v2_byte_for_byte(tmp_path):
    real_tf = _tensorflow()
    rng = np.random.default_rng(0)
    names = sorted({f"scope_{i % 7}/{'x' * (i % 50)}/var_{i:05d}" for i in range(12000)})
    values = [rng.standard_normal(i % 4).astype(np.float32) for i in range(len(names))]
    real_tf.raw_ops.SaveV2(prefix=str(tmp_path / "tf"), tensor_names=names, shape_and_slices=[""] * len(names),
                           tensors=values)
    bundle.write_bundle(str(tmp_path / "ours"), dict(zip(names, values)))
    for suffix in (".index", ".data-00000-of-00001"):
        assert (tmp_path / ("ours" + suffix)).read_bytes() == (tmp_path / ("tf" + suffix)).read_bytes()
    assert len((tmp_path / "tf.index").read_bytes()) > table.BLOCK_SIZE  # more than one data block
    shutil.rmtree(tmp_path)
