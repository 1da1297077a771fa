"""tf.gradients through tf.while_loop (pygraph/ops/while_grad.py): finite differences in float64 for the
loop variables' initial values and the tensors the body captures, a fed iteration count, several loop
variables, and training through a loop against a numpy backpropagation-through-time reference."""

import numpy as np
import pytest
from gradcheck import check_gradient

import pygraph as tf

T, B, D, H = 5, 2, 3, 4


def test_power_loop_with_a_fed_iteration_count():
    x, x0 = tf.placeholder(tf.float64, []), tf.placeholder(tf.float64, [])
    n = tf.placeholder(tf.int32, [])
    y = tf.while_loop(lambda i, v: i < n, lambda i, v: (i + 1, v * x), [0, x0])[1]  # x0 * x**n
    dx, dx0 = tf.gradients(y, [x, x0])
    with tf.Session() as sess:
        for count in (0, 1, 4, 7):
            got = sess.run([y, dx, dx0], {x: 1.5, x0: 2.0, n: count})
            want = [2.0 * 1.5**count, 2.0 * count * 1.5 ** max(count - 1, 0), 1.5**count]
            np.testing.assert_allclose(got, want, rtol=1e-12)


def test_power_loop_matches_finite_differences():
    def build(x, x0):
        return tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * x + tf.sin(v)), [0, x0])[1]

    check_gradient(build, [np.array([0.7, -1.2]), np.array([0.3, 0.9])])


def test_simple_rnn_with_captured_weights_read_by_gather():
    rng = np.random.default_rng(0)

    def build(xs, h0, W, U, b):
        def body(t, h):
            return t + 1, tf.tanh(tf.matmul(h, W) + tf.matmul(tf.gather(xs, t), U) + b)

        return tf.while_loop(lambda t, h: t < T, body, [0, h0])[1]

    grads = check_gradient(build, [rng.normal(size=(T, B, D)), rng.normal(size=(B, H)),
                                   rng.normal(size=(H, H)) * 0.5, rng.normal(size=(D, H)), rng.normal(size=(H,))])
    assert all(g is not None and np.abs(g).max() > 0 for g in grads)


def test_several_loop_variables_one_of_them_an_accumulator():
    rng = np.random.default_rng(1)

    def build(xs, h0, W, scale):
        steps = tf.shape(xs)[0]

        def body(t, h, acc):
            h = tf.tanh(tf.matmul(h, W) + tf.gather(xs, t) * scale)
            return t + 1, h, acc + tf.reduce_sum(h * h)

        return tf.while_loop(lambda t, h, a: t < steps, body, [0, h0, tf.constant(0.0, tf.float64)])[1:]

    check_gradient(build, [rng.normal(size=(6, B, H)), rng.normal(size=(B, H)), rng.normal(size=(H, H)) * 0.5,
                           np.array(0.8)])


def test_maximum_iterations_and_a_loop_variable_passed_through():
    def build(x, c):
        body = lambda v, k: (v * c + k, k)  # noqa: E731  (k is carried unchanged)
        return tf.while_loop(lambda v, k: tf.reduce_sum(v) < 1e9, body, [x, c * 2.0], maximum_iterations=4)

    check_gradient(build, [np.array([0.5, 1.5]), np.array(1.3)])


def test_two_loops_in_sequence_the_second_capturing_the_first():
    def build(x, w):
        a = tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, tf.tanh(v * w)), [0, x])[1]
        b = tf.while_loop(lambda i, v: i < 2, lambda i, v: (i + 1, v * a + w), [0, a * 0.5])[1]
        return [b, a * a]

    check_gradient(build, [np.array([0.3, -0.8]), np.array([1.1, 0.7])])


def test_two_gradients_of_one_loop_run_together():
    x = tf.placeholder(tf.float64, [])
    y = tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * x), [0, tf.constant(1.0, tf.float64)])[1]
    (g1,) = tf.gradients(y, [x])
    (g2,) = tf.gradients(y * y, [x])  # x**6: a second gradient loop, its own stacks
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run([g1, g2], {x: 1.1}), [3 * 1.1**2, 6 * 1.1**5], rtol=1e-12)


def _numpy_rnn_step(xs, h0, W, U, target, lr):
    """Loss and one gradient descent step of h = tanh(h W + x_t U), loss = sum((h_T - target)^2)."""
    hs = [h0]
    for t in range(len(xs)):
        hs.append(np.tanh(hs[-1] @ W + xs[t] @ U))
    loss = np.sum((hs[-1] - target) ** 2)
    dW, dU, dh = np.zeros_like(W), np.zeros_like(U), 2 * (hs[-1] - target)
    for t in reversed(range(len(xs))):
        da = dh * (1 - hs[t + 1] ** 2)
        dW += hs[t].T @ da
        dU += xs[t].T @ da
        dh = da @ W.T
    return loss, W - lr * dW, U - lr * dU


def test_gradient_descent_through_a_loop_matches_numpy_bptt():
    rng = np.random.default_rng(2)
    xs, h0 = rng.normal(size=(T, B, D)), rng.normal(size=(B, H))
    target = rng.uniform(-0.5, 0.5, size=(B, H))
    W0, U0 = rng.normal(size=(H, H)) * 0.4, rng.normal(size=(D, H)) * 0.4
    W = tf.Variable(W0, name="W")
    U = tf.Variable(U0, name="U")

    def body(t, h):
        return t + 1, tf.tanh(tf.matmul(h, W) + tf.matmul(tf.gather(tf.constant(xs), t), U))

    h_T = tf.while_loop(lambda t, h: t < T, body, [0, tf.constant(h0)])[1]
    loss = tf.reduce_sum(tf.square(h_T - target))
    train = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
    losses, w, u = [], W0, U0
    lr = float(np.float32(0.05))  # TF1 too: the learning rate is a float32 tensor, cast to the variable's dtype
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(5):
            want_loss, w, u = _numpy_rnn_step(xs, h0, w, u, target, lr)
            losses.append(sess.run([loss, train])[0])
            assert losses[-1] == pytest.approx(want_loss, rel=1e-12)
        np.testing.assert_allclose(sess.run(W), w, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(sess.run(U), u, rtol=1e-12, atol=1e-14)
    assert losses[-1] < losses[0]


def test_what_is_not_supported_is_refused_by_name():
    x = tf.placeholder(tf.float32, [])
    with_cond = tf.while_loop(lambda i, v: i < 3,
                              lambda i, v: (i + 1, tf.cond(v > 0, lambda: v * x, lambda: v)), [0, x])[1]
    with pytest.raises(tf.errors.UnimplementedError, match="holds a tf.cond or a nested tf.while_loop"):
        tf.gradients(with_cond, [x])
    inner = lambda v: tf.while_loop(lambda j, w: j < 2, lambda j, w: (j + 1, w * x), [0, v])[1]  # noqa: E731
    nested = tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, inner(v)), [0, x])[1]
    with pytest.raises(tf.errors.UnimplementedError, match="cannot differentiate through tf.while_loop"):
        tf.gradients(nested, [x])
    in_cond = tf.cond(x > 0, lambda: tf.while_loop(lambda v: v < 10.0, lambda v: v * x, [x]), lambda: x)
    with pytest.raises(tf.errors.UnimplementedError, match="inside a tf.cond branch or another tf.while_loop"):
        tf.gradients(in_cond, [x])
    inside = []
    y = tf.while_loop(lambda v: v < 10.0, lambda v: inside.append(v * x) or inside[-1], [x])
    with pytest.raises(tf.errors.UnimplementedError, match="a value inside the loop"):
        tf.gradients(y, [inside[0]])


def test_loop_gradients_on_the_quick_build_then_the_optimized_one(monkeypatch, tmp_path):
    """With tiers on, a loop's gradient starts on the -O1 build (the interpreter runs no loops), then the
    -O3 build is swapped in: every call gives the same numbers."""
    from pygraph.codegen import toolchain

    monkeypatch.setenv("PYGRAPH_OPTIMIZED_ONLY", "0")
    monkeypatch.setenv("PYGRAPH_CACHE_DIR", str(tmp_path / "cache"))  # no -O3 build there yet
    toolchain.clear_memory_cache()
    x = tf.placeholder(tf.float64, [])
    y = tf.while_loop(lambda i, v: i < 5, lambda i, v: (i + 1, tf.sin(v) * x), [0, x])[1]
    (dx,) = tf.gradients(y, [x])
    step = 1e-6
    with tf.Session() as sess:
        numeric = (sess.run(y, {x: 0.9 + step}) - sess.run(y, {x: 0.9 - step})) / (2 * step)
        calls = [sess.run(dx, {x: 0.9}) for _ in range(4)]
        upgrades = [p.upgrade for p, _ in sess._plans.values() if p.upgrade is not None]
        assert upgrades and all(u.job.wait(300) and u.job.error is None for u in upgrades)
        calls.append(sess.run(dx, {x: 0.9}))
    assert calls[0] == pytest.approx(numeric, rel=1e-6)
    assert all(c == calls[0] for c in calls)
    toolchain.clear_memory_cache()


def test_a_training_step_through_a_loop_compiles_ahead_of_time(tmp_path):
    """pygraph.aot builds the same program; its golden test checks the loss and the updated weights against
    Session.run's."""
    import pygraph.aot as aot

    rng = np.random.default_rng(3)
    X = tf.placeholder(tf.float32, [T, B, D], name="X")
    W = tf.Variable(rng.normal(size=(H, H)).astype(np.float32) * 0.4, name="W")
    U = tf.Variable(rng.normal(size=(D, H)).astype(np.float32) * 0.4, name="U")

    def body(t, h):
        return t + 1, tf.tanh(tf.matmul(h, W) + tf.matmul(tf.gather(X, t), U))

    h_T = tf.while_loop(lambda t, h: t < T, body, [0, tf.zeros([B, H])])[1]
    loss = tf.reduce_sum(tf.square(h_T - 0.3))
    train = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        aot.compile(sess, [X], [loss, train], tmp_path / "step", name="step")
    aot.build(tmp_path / "step")  # raises when the golden test fails


def test_a_loop_gradient_survives_a_meta_graph_round_trip(tmp_path):
    x = tf.placeholder(tf.float32, [], name="x")
    y = tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * x), [0, x])[1]  # x**4
    (dx,) = tf.gradients(y, [x])
    tf.train.export_meta_graph(str(tmp_path / "loop.meta"))
    with tf.Graph().as_default() as g:
        tf.train.import_meta_graph(str(tmp_path / "loop.meta"))
        with tf.Session() as sess:
            assert sess.run(g.get_tensor_by_name(dx.name), {"x:0": 2.0}) == 4 * 2.0**3
        with pytest.raises(tf.errors.UnimplementedError, match="imported from a graph file"):
            tf.gradients(g.get_tensor_by_name(y.name), [g.get_tensor_by_name("x:0")])
