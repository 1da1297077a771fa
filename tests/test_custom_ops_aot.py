"""An op library inside an AOT artifact: pygraph-compile of a graph with a TF-style custom op (and a fused
inline op) compiles the library's sources into the artifact, whose golden test checks Session.run's values."""

import ctypes
import os

import numpy as np

import pygraph as tf
from pygraph import aot

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "custom_ops")
# the library test_custom_ops.py loads (op names are process-wide: the same sources give the same module)
SOURCES = [os.path.join(HERE, f) for f in ("zero_out.cc", "zero_out_poly.cc", "two_out.cc", "cube.cc", "counter.cc")]


def test_custom_op_library_inside_an_artifact(tmp_path):
    ops = tf.load_op_library(sources=SOURCES, name="test_ops")
    clip = tf.inline_op("AotClipInline", ["x"], {tf.float32: "x < 0.0f ? 0.0f : x"})
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    scaled, sums = ops.scale_and_row_sum(clip(x * 2.0 - 1.0), scale=3.0)
    y = tf.identity(ops.zero_out_poly(sums) + 1.0, name="y")
    z = tf.identity(scaled, name="z")
    with tf.Session() as sess:
        out = aot.compile(sess, [x], [y, z], tmp_path / "cop", name="cop", march="native", blas="builtin")
        v = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
        want_y, want_z = sess.run([y, z], {x: v})
    assert (out / "oplibs").is_dir() and (out / "include" / "tensorflow" / "core" / "framework" / "op.h").is_file()
    aot.build(out)  # builds and runs the golden ctest (values of Session.run)
    lib = ctypes.CDLL(str(next((out / "build").glob("libcop.so"))))
    lib.cop_create.restype = ctypes.c_void_p
    lib.cop_create.argtypes = [ctypes.c_void_p]
    lib.cop_run.argtypes = [ctypes.c_void_p, ctypes.c_int64] + [ctypes.c_void_p] * 3
    lib.cop_destroy.argtypes = [ctypes.c_void_p]
    m = lib.cop_create(None)
    got_y, got_z = np.zeros(2, np.float32), np.zeros((2, 3), np.float32)
    assert lib.cop_run(m, 2, v.ctypes.data, got_y.ctypes.data, got_z.ctypes.data) == 0
    lib.cop_destroy(m)
    np.testing.assert_allclose(got_y, want_y, rtol=1e-6)
    np.testing.assert_allclose(got_z, want_z, rtol=1e-6)
    np.testing.assert_allclose(want_z, np.maximum(v * 2 - 1, 0) * 3, rtol=1e-6)


def test_compile_command_builds_the_op_library_it_is_given(tmp_path):
    from aot_models import compile_command

    with tf.Graph().as_default():
        ops = tf.load_op_library(sources=SOURCES, name="test_ops")
        x = tf.placeholder(tf.int32, [None], name="x")
        w = tf.Variable(np.array([2, 3, 4], np.int32), name="w")
        tf.identity(ops.zero_out(x * w, preserve_index=1), name="y")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            prefix = tf.train.Saver().save(sess, str(tmp_path / "model.ckpt"))
    common = ["--feed", "x:int32[3]", "--fetch", "y", "--name", "zo"]
    status, _, err = compile_command(prefix, *common, "-o", tmp_path / "a")
    assert status == 2 and "ZeroOut" in err and "tf.load_op_library" in err, err
    status, out, err = compile_command(prefix, *common, "--op-source", os.path.join(HERE, "zero_out.cc"),
                                       "-o", tmp_path / "b")
    assert status == 0, err
    assert (tmp_path / "b" / "oplibs" / "0" / "0_zero_out.cc").is_file()
    assert "zo_oplib0" in (tmp_path / "b" / "zo_api.cc").read_text()
