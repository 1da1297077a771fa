"""Reads of a variable by compiled kernels: without a copy when they run before its update, and the
updated value when they are ordered after it."""

import numpy as np

import pygraph as tf


def test_reads_before_the_update_see_the_old_value_and_after_it_the_new():
    v = tf.Variable([1.0, 2.0, 3.0])
    before = tf.reduce_sum(v)  # reads v/read in a reduction kernel
    with tf.control_dependencies([before]):
        update = tf.assign(v, v * 2.0)
    with tf.control_dependencies([update]):
        after = tf.reduce_sum(v.read_value())
    with tf.Session() as sess:
        sess.run(v.initializer)
        b, _, a = sess.run([before, update, after])
        assert (b, a) == (6.0, 12.0)
        np.testing.assert_array_equal(sess.run(v), [2.0, 4.0, 6.0])


def test_training_step_reads_every_weight_before_updating_it():
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((4, 3)).astype(np.float32)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    X = tf.placeholder(tf.float32, (None, 4))
    W = tf.Variable(w0)
    loss = tf.reduce_sum(tf.square(tf.matmul(X, W)))
    step = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    with tf.Session() as sess:
        sess.run(W.initializer)
        sess.run(step, {X: x})
        got = sess.run(W)
    want = w0 - 0.01 * (2 * x.T @ (x @ w0))  # the gradient uses the weights from before the step
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
