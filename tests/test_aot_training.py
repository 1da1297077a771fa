"""A training step compiled ahead of time, with its weights in a sidecar file: the library checks the file's
size and CRC-32C, 100 steps from C reach Session.run's loss, variables are read and written through the C API
and come back into pygraph as a checkpoint its Saver restores."""

import ctypes
import math

import aot_models
import numpy as np
import pytest

import pygraph as tf
import pygraph.aot as aot

STEPS = 100


class Options(ctypes.Structure):
    _fields_ = [("num_threads", ctypes.c_int32), ("weights_path", ctypes.c_char_p)]


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    d = tmp_path_factory.mktemp("train")
    graph, sess, X, y, logits, loss, train = aot_models.mlp_graph(seed=3)
    variables = graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)
    before = sess.run(variables)
    aot.compile(sess, [X, y], [loss, train], d / "step", name="step", weights="file", march="native")
    aot.build(d / "step")  # runs the golden test, which reads step.weights
    for a, b in zip(before, sess.run(variables)):  # exporting ran one step for the golden values, then undid it
        np.testing.assert_array_equal(a, b)
    lib = ctypes.CDLL(str(d / "step" / "build" / "libstep.so"))
    lib.step_create.restype = ctypes.c_void_p
    lib.step_create.argtypes = [ctypes.POINTER(Options)]
    lib.step_error.restype = ctypes.c_char_p
    lib.step_error.argtypes = [ctypes.c_void_p]
    lib.step_run.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.step_destroy.argtypes = [ctypes.c_void_p]
    lib.step_variable_data.restype = ctypes.c_void_p
    lib.step_variable_data.argtypes = [ctypes.c_void_p, ctypes.c_int32]
    lib.step_variable_name.restype = ctypes.c_char_p
    lib.step_variable_nbytes.restype = ctypes.c_size_t
    lib.step_save_variables.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    return d, graph, sess, X, y, loss, train, variables, lib


def create(lib, path):
    m = lib.step_create(ctypes.byref(Options(1, str(path).encode() if path else None)))
    assert m
    return m


def test_weights_file_is_checked_by_size_and_checksum(trainer, tmp_path):
    d, *_, lib = trainer
    good = (d / "step" / "step.weights").read_bytes()
    cases = {"flipped": good[:100] + bytes([good[100] ^ 1]) + good[101:], "short": good[:-1], "long": good + b"\0"}
    expect = {"flipped": b"does not match this library (checksum)", "short": b"fewer bytes", "long": b"more bytes"}
    x, y, loss = np.zeros((1, 784), np.float32), np.zeros(1, np.int64), np.zeros((), np.float32)
    for case, data in cases.items():
        (tmp_path / case).write_bytes(data)
        m = create(lib, tmp_path / case)
        assert expect[case] in lib.step_error(m), case
        assert lib.step_run(m, 1, x.ctypes.data, y.ctypes.data, loss.ctypes.data) == 15  # DATA_LOSS
        lib.step_destroy(m)
    m = create(lib, tmp_path / "absent")
    assert b"cannot open weights file" in lib.step_error(m)
    lib.step_destroy(m)
    m = create(lib, None)
    assert b"weights_path must name" in lib.step_error(m)
    lib.step_destroy(m)


def test_hundred_steps_from_c_reach_session_run_loss_and_restore_into_pygraph(trainer, tmp_path):
    d, graph, sess, X, y, loss, train, variables, lib = trainer
    rng = np.random.default_rng(7)
    xb = rng.standard_normal((32, 784)).astype(np.float32)
    yb = rng.integers(0, 10, 32).astype(np.int64)
    m = create(lib, d / "step" / "step.weights")
    assert lib.step_error(m) == b""
    c_losses = []
    out = np.zeros((), np.float32)
    for _ in range(STEPS):
        assert lib.step_run(m, 32, xb.ctypes.data, yb.ctypes.data, out.ctypes.data) == 0, lib.step_error(m)
        c_losses.append(float(out))
    py_losses = [float(sess.run([loss, train], {X: xb, y: yb})[0]) for _ in range(STEPS)]
    assert c_losses[-1] < 0.5 * c_losses[0]  # it trains
    np.testing.assert_allclose(c_losses, py_losses, rtol=1e-5)
    assert c_losses[-1] == py_losses[-1]  # same kernels, same flags: the same float32 arithmetic

    dump = tmp_path / "vars.bin"
    assert lib.step_save_variables(m, str(dump).encode()) == 0
    prefix = tmp_path / "ckpt" / "model"
    saved = aot.variables_to_checkpoint(d / "step", dump, prefix)
    assert sorted(saved) == sorted(v.op.name for v in variables)
    with graph.as_default():
        fresh = tf.Session(graph=graph)
        tf.train.Saver().restore(fresh, str(prefix))
        for v, want in zip(variables, sess.run(variables)):
            np.testing.assert_array_equal(fresh.run(v), want)
    names = [lib.step_variable_name(i).decode() for i in range(lib.step_num_variables())]
    k = names.index("outputs/bias")
    bias = np.ctypeslib.as_array(ctypes.cast(lib.step_variable_data(m, k), ctypes.POINTER(ctypes.c_float)), (10,))
    np.testing.assert_array_equal(bias, sess.run(graph.get_tensor_by_name("outputs/bias:0")))

    for i in range(lib.step_num_variables()):  # setters: all-zero weights give uniform logits, loss = ln 10
        ctypes.memset(lib.step_variable_data(m, i), 0, lib.step_variable_nbytes(i))
    assert lib.step_run(m, 32, xb.ctypes.data, yb.ctypes.data, out.ctypes.data) == 0
    assert abs(float(out) - math.log(10)) < 1e-6
    lib.step_destroy(m)
