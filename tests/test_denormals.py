"""Subnormal floats are flushed to zero inside a run, as TensorFlow's executor threads do
(tensorflow/core/platform/denormal.h, ScopedFlushDenormal: x86 FTZ + DAZ): in Session.run's compiled code,
on its thread pool's workers, in the interpreter tier, in constant folding and in an AOT artifact. Outside a
run Python and numpy keep IEEE semantics.

The expected values are TF 2.21's (tf.compat.v1 Session on x86-64, run once in /work/tfvenv): a subnormal
result becomes a zero of the same sign, a subnormal operand counts as zero."""

from __future__ import annotations

import ctypes
import platform

import numpy as np
import pytest
from pygraph.codegen import tiers, toolchain

import pygraph as tf
import pygraph.aot as aot
from pygraph import _runtime
from pygraph.interpreter import Interpreter

pytestmark = pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64", "aarch64", "arm64"),
                                reason="flushing needs x86 MXCSR or AArch64 FPCR")

A = np.array([1e-38, -1e-38, 1e-40, 3.0], np.float32)  # 1e-40 is subnormal already
B = np.array([1e-3, 1e-3, 1.0, 1e-3], np.float32)
D = np.array([1e-300, -1e-300, 1.0])
# TF: a*b, a*2, a+0, d*1e-10, the folded constant 1e-38*1e-3, sum(a*2)
WANT = [np.array([0.0, -0.0, 0.0, 3e-3], np.float32), np.array([0.0, -0.0, 0.0, 6.0], np.float32),
        np.array([0.0, 0.0, 0.0, 3.0], np.float32), np.array([0.0, -0.0, 1e-10]), np.float32(0.0), np.float32(6.0)]


def _graph():
    a = tf.placeholder(tf.float32, [None], name="a")
    b = tf.placeholder(tf.float32, [None], name="b")
    d = tf.placeholder(tf.float64, [None], name="d")
    folded = tf.constant(1e-38, tf.float32) * tf.constant(1e-3, tf.float32)  # numpy folds it at plan time
    return [a * b, a * 2.0, a + 0.0, d * 1e-10, folded, tf.reduce_sum(a * 2.0)], {a: A, b: B, d: D}


def _assert_tf_values(got):
    for g, w in zip(got, WANT):
        np.testing.assert_array_equal(g, w)
        np.testing.assert_array_equal(np.signbit(g), np.signbit(w))  # -1e-38 * 1e-3 is -0.0, as in TF


def _assert_ieee_outside_a_run():
    """The caller's mode came back: Python floats and numpy still produce and use subnormals."""
    assert 1e-308 * 1e-10 != 0.0
    assert np.float32(1e-38) * np.float32(1e-3) != 0
    assert np.count_nonzero(A * np.float32(2.0)) == 4


def test_session_run_flushes_subnormals_like_tf():
    fetches, feeds = _graph()
    with tf.Session() as sess:
        _assert_tf_values(sess.run(fetches, feeds))
        _assert_ieee_outside_a_run()
        call = sess.make_callable(fetches, list(feeds))  # the C fast path enters the same way
        _assert_tf_values(call(*feeds.values()))
    _assert_ieee_outside_a_run()


def test_thread_pool_workers_flush():
    """A loop long enough to be split over the pool: every chunk, the workers' too, flushes."""
    threads = _runtime.get_num_threads()
    _runtime.set_num_threads(2)
    try:
        x = tf.placeholder(tf.float32, [None])
        with tf.Session() as sess:
            out = sess.run(x * 2.0, {x: np.full(1 << 22, 1e-40, np.float32)})
    finally:
        _runtime.set_num_threads(threads)
    assert np.count_nonzero(out) == 0
    _assert_ieee_outside_a_run()


def test_interpreter_tier_flushes_like_compiled_code(monkeypatch, tmp_path):
    monkeypatch.setenv("PYGRAPH_OPTIMIZED_ONLY", "0")
    monkeypatch.setenv("PYGRAPH_CACHE_DIR", str(tmp_path / "cache"))
    toolchain.clear_memory_cache()
    tiers.swaps_allowed.clear()  # the interpreter serves every call until the test ends
    try:
        fetches, feeds = _graph()
        with tf.Session() as sess:
            got = sess.run(fetches, feeds)
            assert any(isinstance(p.kernel, Interpreter) for p, _ in sess._plans.values())
            _assert_tf_values(got)
            _assert_ieee_outside_a_run()
    finally:
        tiers.swaps_allowed.set()
        toolchain.clear_memory_cache()


def test_aot_artifact_flushes_and_restores_the_callers_mode(tmp_path):
    a = tf.placeholder(tf.float32, [None], name="a")
    b = tf.placeholder(tf.float32, [None], name="b")
    y = tf.identity(a * b + a * 2.0, name="y")
    with tf.Session() as sess:
        want = sess.run(y, {a: A, b: B})
        out = aot.compile(sess, [a, b], [y], tmp_path / "den", name="den", march="native")
    np.testing.assert_array_equal(want, WANT[0] + WANT[1])
    aot.build(out, test=False)
    lib = ctypes.CDLL(str(out / "build" / "libden.so"))
    lib.den_create.restype = ctypes.c_void_p
    lib.den_run.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.den_destroy.argtypes = [ctypes.c_void_p]
    m = lib.den_create(None)
    try:
        got = np.empty(4, np.float32)
        assert lib.den_run(m, 4, A.ctypes.data, B.ctypes.data, got.ctypes.data) == 0
    finally:
        lib.den_destroy(m)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))  # Session.run's bits
    _assert_ieee_outside_a_run()
