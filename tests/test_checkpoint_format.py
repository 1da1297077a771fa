"""The V2 tensor bundle, byte for byte: reading TensorFlow's files, writing files TensorFlow reads, and
refusing corrupt ones. The fixtures in tests/fixtures were written by real TensorFlow 2.21
(make_tf_checkpoint.py); tests marked 'TensorFlow' also run TF itself when it is installed."""

from __future__ import annotations

import importlib.util
import os
import shutil
import warnings
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


# -- overwriting one prefix: a save killed at any step leaves the last whole save readable
class _Killed(BaseException):
    """A simulated SIGKILL: raised by the chosen file operation and by every one after it."""


def _version(n):
    """Checkpoint contents of save number n; sizes differ, so a data file read with another save's index
    is both too short and too long for some tensor."""
    return {"a": np.arange(3 + n, dtype=np.float32) + 10 * n, "b": np.full(2, n, np.int64),
            "s": np.array([b"v%d" % n] * (n % 3 + 1), dtype=object)}


def _read_version(prefix):
    """(save number read, warnings raised), checking that every tensor belongs to that one save."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = _read_all(prefix)
    n = int(got["b"][0])
    want = _version(n)
    assert sorted(got) == sorted(want) and all(list(got[k].ravel()) == list(want[k].ravel()) for k in want)
    return n, [str(w.message) for w in caught]


def _save_killed_at(monkeypatch, prefix, n, at, on_disk):
    """Save version n, killed at file operation number `at` (none when `at` is past the last); records in
    on_disk which save's data file and index are in place."""
    calls = [0]
    targets = {bundle.data_filename(prefix): "data", bundle.index_filename(prefix): "index"}

    def wrap(real, renames):
        def op(*args, **kwargs):
            calls[0] += 1
            if calls[0] > at:
                raise _Killed
            result = real(*args, **kwargs)
            if renames and args[1] in targets:
                on_disk[targets[args[1]]] = n
            return result
        return op

    with monkeypatch.context() as m:
        for module, name in ((os, "replace"), (os, "link"), (os, "remove"), (shutil, "copyfile")):
            m.setattr(module, name, wrap(getattr(module, name), name == "replace"))
        try:
            bundle.write_bundle(prefix, _version(n))
        except _Killed:
            pass
    return calls[0]


@pytest.mark.parametrize("hard_links", [True, False])
def test_overwrite_killed_at_every_step_reads_the_last_whole_save(tmp_path, monkeypatch, hard_links):
    if not hard_links:  # a filesystem without hard links: the `.prev` pair is copied
        def no_link(src, dst):
            raise PermissionError(1, "Operation not permitted", src)
        monkeypatch.setattr(os, "link", no_link)
    prefix = str(tmp_path / "m")
    bundle.write_bundle(prefix, _version(0))
    steps = _save_killed_at(monkeypatch, prefix, 1, 10**9, {})  # file operations of a whole overwrite
    assert steps >= 8
    for first in range(steps + 1):  # save 2 killed at `first`, then save 3 killed at `second`
        for second in range(steps + 1):
            bundle.delete_bundle(prefix)
            bundle.write_bundle(prefix, _version(1))
            on_disk = {"data": 1, "index": 1}
            _save_killed_at(monkeypatch, prefix, 2, first, on_disk)
            _save_killed_at(monkeypatch, prefix, 3, second, on_disk)
            n, warned = _read_version(prefix)
            assert n == on_disk["index"], (first, second)  # the newest save whose index is in place
            mixed = on_disk["data"] != on_disk["index"]
            assert len(warned) == mixed, (first, second, warned)
            if mixed:
                assert f"The last save of checkpoint {prefix} was interrupted" in warned[0]
            bundle.write_bundle(prefix, _version(4))  # the next save repairs everything
            assert _read_version(prefix) == (4, [])
            assert sorted(f for f in os.listdir(tmp_path) if "tempstate" not in f) == ["m.data-00000-of-00001",
                                                                                      "m.index"]
    bundle.delete_bundle(prefix)  # also the temporary files the simulated kills left
    assert os.listdir(tmp_path) == []


def _interrupted_overwrite(monkeypatch, prefix):
    """Save 1 whole, then save 2 killed between its data rename and its index rename."""
    for at in range(20):
        bundle.write_bundle(prefix, _version(1))
        on_disk = {}
        _save_killed_at(monkeypatch, prefix, 2, at, on_disk)
        if on_disk == {"data": 2}:
            return
    raise AssertionError("no kill fell between the two renames")


def test_interrupted_overwrite_with_a_damaged_previous_pair_is_an_error(tmp_path, monkeypatch):
    prefix = str(tmp_path / "m")
    _interrupted_overwrite(monkeypatch, prefix)
    assert _read_version(prefix)[0] == 1
    kept = Path(bundle.data_filename(prefix) + bundle.PREVIOUS)
    raw = bytearray(kept.read_bytes())
    raw[0] ^= 1
    kept.write_bytes(bytes(raw))
    with pytest.raises(tf.errors.DataLossError, match=f"TensorBundle at {prefix}"):
        _read_all(prefix)  # the current pair's error: no fallback to bad bytes


def test_a_deleted_checkpoint_is_not_revived_from_its_previous_pair(tmp_path, monkeypatch):
    prefix = str(tmp_path / "m")
    _interrupted_overwrite(monkeypatch, prefix)
    os.remove(bundle.index_filename(prefix))
    with pytest.raises(tf.errors.NotFoundError, match="Failed to find any matching files"):
        _read_all(prefix)


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


def test_tensorflow_reads_a_prefix_whose_overwrite_was_killed_after_its_index_landed(tmp_path, monkeypatch):
    real_tf = _tensorflow()
    prefix = str(tmp_path / "m")
    bundle.write_bundle(prefix, _version(1))
    on_disk = {}
    _save_killed_at(monkeypatch, prefix, 2, 6, on_disk)  # link, replace, link, replace, data, index: killed next
    assert on_disk == {"data": 2, "index": 2} and os.path.exists(bundle.index_filename(prefix) + bundle.PREVIOUS)
    reader = real_tf.train.load_checkpoint(prefix)  # the kept `.prev` files are invisible to TensorFlow
    for name, value in _version(2).items():
        assert list(np.asarray(reader.get_tensor(name)).ravel()) == list(value.ravel())
    assert _read_version(prefix) == (2, [])
