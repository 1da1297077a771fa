"""GEMM epilogues (codegen/epilogue.py): plain SGD's `W -= lr * X^T dY` as one gemm writing into W.

Oracles: the same program lowered without the fold, numpy, and central finite differences of the loss."""

import numpy as np
import pytest
from pygraph.codegen import epilogue

import pygraph as tf

rng = np.random.default_rng(7)


def _kernels(capfd):
    return [line for line in capfd.readouterr().err.splitlines() if line.startswith("[pygraph]   k")]


def _mlp(dtype, lr):
    """A 2-layer relu MLP with a softmax cross-entropy loss and its SGD step (lr: float or tensor)."""
    rng = np.random.default_rng(11)  # the same weights for every program compared
    X = tf.placeholder(dtype, (None, 12))
    y = tf.placeholder(tf.int32, (None,))
    W1 = tf.Variable(rng.standard_normal((12, 8)).astype(dtype) * 0.4, name="W1")
    b1 = tf.Variable(np.full(8, 0.1, dtype), name="b1")
    W2 = tf.Variable(rng.standard_normal((8, 3)).astype(dtype) * 0.4, name="W2")
    b2 = tf.Variable(np.zeros(3, dtype), name="b2")
    logits = tf.matmul(tf.nn.relu(tf.matmul(X, W1) + b1), W2) + b2
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    step = tf.train.GradientDescentOptimizer(lr).minimize(loss)
    return X, y, [W1, b1, W2, b2], loss, step


def _train(fold, dtype=np.float32, steps=5, lr=0.5, fed_lr=False):
    g = tf.Graph()
    data = np.random.default_rng(3)
    xs = [data.standard_normal((16, 12)).astype(dtype) for _ in range(steps)]
    ys = [data.integers(0, 3, 16).astype(np.int32) for _ in range(steps)]
    with g.as_default():
        rate = tf.placeholder(dtype, ()) if fed_lr else lr
        X, y, params, _, step = _mlp(dtype, rate)
        init = tf.global_variables_initializer()
    with tf.Session(graph=g) as sess:
        sess.run(init)
        initial = sess.run(params)
        for x, t in zip(xs, ys):
            feed = {X: x, y: t, **({rate: dtype(lr)} if fed_lr else {})}
            if fold:
                sess.run(step, feed)
            else:
                with epilogue.disabled():
                    sess.run(step, feed)
        return initial, sess.run(params)


@pytest.mark.parametrize("fed_lr", [False, True])
def test_sgd_in_gemm_matches_the_unfused_program_over_several_steps(monkeypatch, capfd, fed_lr):
    monkeypatch.setenv("PYGRAPH_DEBUG", "1")
    initial, fused = _train(True, fed_lr=fed_lr)
    folded = [line for line in _kernels(capfd) if "gemm_update" in line]
    assert len(folded) == 2 and {line.split("update_")[1].split("/")[0] for line in folded} == {"W1", "W2"}
    start, plain = _train(False, fed_lr=fed_lr)
    assert not [line for line in _kernels(capfd) if "gemm_update" in line]
    for a, b in zip(initial, start):
        np.testing.assert_array_equal(a, b)
    for got, want, first in zip(fused, plain, initial):
        assert not np.array_equal(got, first)  # the step trained something
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


def test_sgd_in_gemm_step_is_minus_lr_times_the_finite_difference_gradient():
    """float64: (W_before - W_after) / lr equals the loss's numerical gradient at W_before."""
    lr = 0.25
    x = rng.standard_normal((6, 12))
    t = rng.integers(0, 3, 6).astype(np.int32)
    g = tf.Graph()
    with g.as_default():
        X, y, params, loss, step = _mlp(np.float64, lr)
        W1 = params[0]
        probe = tf.placeholder(tf.float64, (12, 8))
        set_w1 = tf.assign(W1, probe)
        init = tf.global_variables_initializer()
    with tf.Session(graph=g) as sess:
        sess.run(init)
        w0 = sess.run(W1)
        feed = {X: x, y: t}
        numeric = np.zeros_like(w0)
        eps = 1e-6
        for idx in np.ndindex(*w0.shape):
            for sign in (1, -1):
                w = w0.copy()
                w[idx] += sign * eps
                sess.run(set_w1, {probe: w})
                numeric[idx] += sign * sess.run(loss, feed) / (2 * eps)
        sess.run(set_w1, {probe: w0})
        sess.run(step, feed)
        analytic = (w0 - sess.run(W1)) / lr
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


def test_fold_keeps_out_when_the_gradient_is_fetched_too(monkeypatch, capfd):
    monkeypatch.setenv("PYGRAPH_DEBUG", "1")
    x = rng.standard_normal((5, 4)).astype(np.float32)
    w0 = rng.standard_normal((4, 3)).astype(np.float32)
    X = tf.placeholder(tf.float32, (None, 4))
    W = tf.Variable(w0)
    loss = tf.reduce_sum(tf.square(tf.matmul(X, W)))
    opt = tf.train.GradientDescentOptimizer(0.01)
    grads = opt.compute_gradients(loss, [W])
    step = opt.apply_gradients(grads)
    with tf.Session() as sess:
        sess.run(W.initializer)
        _, grad = sess.run([step, grads[0][0]], {X: x})
        got = sess.run(W)
    assert not [line for line in _kernels(capfd) if "gemm_update" in line]
    want_grad = 2 * x.T @ (x @ w0)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, w0 - 0.01 * want_grad, rtol=1e-5, atol=1e-6)


def test_fold_keeps_out_when_the_gemm_reads_a_variable_the_step_writes(monkeypatch, capfd):
    """loss = sum(U V * C): dU = (C) V^T reads V and dV = U^T (C) reads U; both are updated in the step, so
    moving either gemm to its update would read the other's new value."""
    monkeypatch.setenv("PYGRAPH_DEBUG", "1")
    u0 = rng.standard_normal((3, 4)).astype(np.float32)
    v0 = rng.standard_normal((4, 5)).astype(np.float32)
    c = rng.standard_normal((3, 5)).astype(np.float32)
    U, V = tf.Variable(u0), tf.Variable(v0)
    loss = tf.reduce_sum(tf.matmul(U, V) * c)
    step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.Session() as sess:
        sess.run([U.initializer, V.initializer])
        for _ in range(3):
            sess.run(step)
        got_u, got_v = sess.run([U, V])
    assert not [line for line in _kernels(capfd) if "gemm_update" in line]
    u, v = u0.astype(np.float64), v0.astype(np.float64)
    for _ in range(3):
        u, v = u - 0.1 * c @ v.T, v - 0.1 * u.T @ c
    np.testing.assert_allclose(got_u, u, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_v, v, rtol=1e-5, atol=1e-5)


def test_fold_keeps_out_of_a_variable_read_twice_and_every_read_sees_the_old_value(monkeypatch, capfd):
    """W feeds two layers (shared weights): its gradient is an AddN of two gemms, so no fold, and every
    read sees the weights from before the step."""
    monkeypatch.setenv("PYGRAPH_DEBUG", "1")
    w0 = rng.standard_normal((4, 4)).astype(np.float32) * 0.5
    x = rng.standard_normal((6, 4)).astype(np.float32)
    X = tf.placeholder(tf.float32, (None, 4))
    W = tf.Variable(w0)
    loss = tf.reduce_sum(tf.matmul(tf.matmul(X, W), W))
    step = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
    with tf.Session() as sess:
        sess.run(W.initializer)
        sess.run(step, {X: x})
        got = sess.run(W)
    assert not [line for line in _kernels(capfd) if "gemm_update" in line]
    w, xd = w0.astype(np.float64), x.astype(np.float64)
    ones = np.ones((6, 4))
    grad = xd.T @ ones @ w.T + (xd @ w).T @ ones
    np.testing.assert_allclose(got, w - 0.05 * grad, rtol=1e-5, atol=1e-5)


def test_zero_learning_rate_still_propagates_non_finite_gradients():
    """var - 0 * inf is NaN in TF and numpy; BLAS would skip the product when alpha is 0."""
    X = tf.placeholder(tf.float32, (None, 2))
    rate = tf.placeholder(tf.float32, ())
    W = tf.Variable(np.ones((2, 2), np.float32))
    step = tf.train.GradientDescentOptimizer(rate).minimize(tf.reduce_sum(tf.matmul(X, W)))
    with tf.Session() as sess:
        sess.run(W.initializer)
        sess.run(step, {X: np.array([[np.inf, 1.0]], np.float32), rate: 0.0})
        got = sess.run(W)
    np.testing.assert_array_equal(np.isnan(got), [[True, True], [False, False]])
    np.testing.assert_array_equal(got[1], [1.0, 1.0])
