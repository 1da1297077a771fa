"""tf.nn.dynamic_rnn with tf.nn.rnn_cell.BasicRNNCell against a numpy RNN: TF1's variable names and shapes,
outputs, final state, and gradients (backpropagation through time by the while loop's gradient) for the
kernel, the bias and the inputs."""

import numpy as np
import pytest

import pygraph as tf

T, D, H = 4, 3, 5


def _numpy_rnn(xs, K, b, G, Gs):
    """Outputs, final state, and gradients of sum(outputs * G) + sum(state * Gs) w.r.t. K, b and xs."""
    hs = [np.zeros((xs.shape[0], H))]
    for t in range(T):
        hs.append(np.tanh(np.concatenate([xs[:, t], hs[-1]], 1) @ K + b))
    dK, db, dx = np.zeros_like(K), np.zeros_like(b), np.zeros_like(xs)
    dh = Gs + G[:, T - 1]
    for t in reversed(range(T)):
        da = dh * (1 - hs[t + 1] ** 2)
        dK += np.concatenate([xs[:, t], hs[t]], 1).T @ da
        db += da.sum(0)
        dxh = da @ K.T
        dx[:, t] = dxh[:, :D]
        dh = dxh[:, D:] + (G[:, t - 1] if t else 0)
    return np.stack(hs[1:], 1), hs[-1], dK, db, dx


def test_basic_rnn_cell_over_time_matches_numpy_with_gradients():
    rng = np.random.default_rng(0)
    xs, G, Gs = rng.normal(size=(2, T, D)), rng.normal(size=(2, T, H)), rng.normal(size=(2, H))
    X = tf.placeholder(tf.float64, [None, T, D])  # batch known only when fed
    outputs, state = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicRNNCell(H), X, dtype=tf.float64)
    kernel, bias = tf.global_variables()
    assert (kernel.name, bias.name) == ("rnn/basic_rnn_cell/kernel:0", "rnn/basic_rnn_cell/bias:0")
    assert kernel.shape.as_list() == [D + H, H] and bias.shape.as_list() == [H]
    assert outputs.shape.as_list() == [None, T, H] and state.shape.as_list() == [None, H]
    loss = tf.reduce_sum(outputs * G) + tf.reduce_sum(state * Gs)
    grads = tf.gradients(loss, [kernel, bias, X])
    saved = [op.inputs[0].shape.as_list() for op in tf.get_default_graph().get_operations()
             if op.type == "PgStackPush" and not op.get_attr("dims_only")]
    assert saved and [T, None, H] not in saved  # the outputs so far are read for their dims only: not saved
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(bias.assign(rng.normal(size=H)))  # TF initializes it to zeros: make it count
        K, b = sess.run([kernel, bias])
        got = sess.run([outputs, state] + grads, {X: xs})
    for g, w in zip(got, _numpy_rnn(xs, K, b, G, Gs)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_time_major_inputs_an_initial_state_and_refusals():
    rng = np.random.default_rng(1)
    xs = rng.normal(size=(T, 2, D))
    X = tf.placeholder(tf.float64, [T, 2, D])
    h0 = tf.constant(rng.normal(size=(2, H)))
    cell = tf.nn.rnn_cell.BasicRNNCell(H, activation=tf.nn.relu)
    outputs, state = tf.nn.dynamic_rnn(cell, X, initial_state=h0, time_major=True, scope="enc")
    kernel, bias = tf.global_variables()
    assert kernel.name == "enc/basic_rnn_cell/kernel:0"
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        K, b, h = *sess.run([kernel, bias]), sess.run(h0)
        got_outputs, got_state = sess.run([outputs, state], {X: xs})
    want = []
    for t in range(T):
        h = np.maximum(np.concatenate([xs[t], h], 1) @ K + b, 0)
        want.append(h)
    np.testing.assert_allclose(got_outputs, np.stack(want), rtol=1e-12)
    np.testing.assert_allclose(got_state, h, rtol=1e-12)
    with pytest.raises(ValueError, match="you must give a dtype"):
        tf.nn.dynamic_rnn(cell, X, time_major=True)
    with pytest.raises(ValueError, match="Dimensions must be equal"):  # 2 lengths for a batch of 4 (time-major)
        tf.nn.dynamic_rnn(cell, X, sequence_length=[T, T], dtype=tf.float64)


def test_two_gradients_of_one_rnn_in_one_run():
    """Each tf.gradients call has its own gradient arrays, also when both are built in one name scope."""
    rng = np.random.default_rng(2)
    xs, Gs = rng.normal(size=(2, T, D)), np.zeros((2, H))
    G1, G2 = rng.normal(size=(2, T, H)), rng.normal(size=(2, T, H))
    X = tf.placeholder(tf.float64, [None, T, D])
    outputs, _ = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicRNNCell(H), X, dtype=tf.float64)
    kernel, bias = tf.global_variables()
    with tf.name_scope("train"):
        d1 = tf.gradients(tf.reduce_sum(outputs * G1), [X, kernel])
        d2 = tf.gradients(tf.reduce_sum(outputs * G2), [X, kernel])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        K, b = sess.run([kernel, bias])
        got = sess.run(d1 + d2, {X: xs})
    for (dx, dK), G in ((got[:2], G1), (got[2:], G2)):
        _, _, want_K, _, want_x = _numpy_rnn(xs, K, b, G, Gs)
        np.testing.assert_allclose(dx, want_x, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dK, want_K, rtol=1e-10, atol=1e-12)
