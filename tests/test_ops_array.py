"""Array ops against numpy: shape queries, the gradient helpers, layout ops and slicing."""

from __future__ import annotations

import numpy as np
import pytest
from pygraph.codegen import toolchain

import pygraph as tf
from pygraph.ops import array

rng = np.random.default_rng(0)


# -- the helpers tf.gradients uses
def test_sum_to_shape_and_broadcast_like_follow_run_time_shapes():
    x = tf.placeholder(tf.float32, [None, None], name="x")
    b = tf.placeholder(tf.float32, [None], name="b")
    g = x * 2.0 + b  # broadcast over rows (and possibly over b's length 1)
    sb = array.sum_to_shape_of(g, b)
    sx = array.sum_to_shape_of(g, x)
    bx = array.broadcast_to_shape_of(b, x)
    nx = array.size_as(x, tf.float32)
    assert sb.op.type == "SumToShape" and sb.shape.as_list() == [None]
    assert bx.op.type == "BroadcastLike" and bx.shape.as_list() == [None, None]
    with tf.Session() as sess:
        for rows, cols, blen in [(5, 3, 3), (1, 4, 4), (7, 3, 1), (1000, 2, 2)]:
            xv = rng.standard_normal((rows, cols)).astype(np.float32)
            bv = rng.standard_normal(blen).astype(np.float32)
            before = toolchain.stats["compiles"]
            got_b, got_x, got_bx, got_n = sess.run([sb, sx, bx, nx], {x: xv, b: bv})
            if rows != 5:  # one program serves every shape
                assert toolchain.stats["compiles"] == before
            full = xv.astype(np.float64) * 2 + bv
            want_b = full.sum(axis=0) if blen == cols else full.sum(keepdims=False).reshape(1)
            np.testing.assert_allclose(got_b, want_b, rtol=1e-5, atol=1e-4)
            np.testing.assert_allclose(got_x, full, rtol=1e-6)
            np.testing.assert_array_equal(got_bx, np.broadcast_to(bv, (rows, cols)))
            assert got_n == rows * cols and got_n.dtype == np.float32


def test_sum_to_shape_of_scalar_and_leading_axes():
    g = tf.placeholder(tf.float64, [None, 2, 3])
    s = array.sum_to_shape_of(g, tf.constant(1.0, tf.float64))
    t = array.sum_to_shape_of(g, tf.constant(np.zeros((2, 1))))
    gv = rng.standard_normal((4, 2, 3))
    with tf.Session() as sess:
        got_s, got_t = sess.run([s, t], {g: gv})
    np.testing.assert_allclose(got_s, gv.sum())
    np.testing.assert_allclose(got_t, gv.sum(axis=(0, 2)).reshape(2, 1))


def test_gradient_helpers_check_shapes():
    with pytest.raises(ValueError, match="SumToShape"):
        array.sum_to_shape_of(tf.constant(np.zeros((2, 3), np.float32)), tf.constant(np.zeros(4, np.float32)))
    with pytest.raises(ValueError, match="BroadcastLike"):
        array.broadcast_to_shape_of(tf.constant(np.zeros(2, np.float32)), tf.constant(np.zeros((2, 3), np.float32)))
    x = tf.placeholder(tf.float32, [None])
    b = tf.placeholder(tf.float32, [None])
    bx = array.broadcast_to_shape_of(b, x)
    with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError, match="Incompatible shapes"):
        sess.run(bx, {x: np.zeros(4, np.float32), b: np.zeros(3, np.float32)})


def test_size_as_is_constant_when_static():
    n = array.size_as(tf.constant(np.zeros((3, 4), np.float32)), tf.int64)
    assert n.op.type == "Const" and n.dtype == tf.int64
    with tf.Session() as sess:
        assert sess.run(n) == 12


def test_stop_gradient_is_identity_and_not_differentiable():
    from pygraph.ops import registry

    x = tf.placeholder(tf.float32, [None])
    y = array.stop_gradient(x * 3.0)
    assert y.op.type == "StopGradient" and y.op.name == "StopGradient"
    assert registry.lookup("StopGradient").not_differentiable
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {x: [1.0, 2.0]}), [3.0, 6.0])
