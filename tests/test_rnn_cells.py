"""tf.nn.rnn_cell's BasicLSTMCell, LSTMCell, GRUCell and MultiRNNCell in tf.nn.dynamic_rnn, against numpy
cells written from TF1's rnn_cell_impl (gate order i, j, f, o; forget_bias on f; GRU's r, u and candidate):
outputs and final states on the same weights, sequence_length masking (outputs zero past a sequence's end,
the state of its last step), gradients against finite differences of the numpy model (float64), and a few
Adam steps against the losses TensorFlow wrote (tests/fixtures/tf_rnn.npz, make_tf_rnn.py)."""

import os

import numpy as np
import pytest

import pygraph as tf

B, T, D, H = 3, 5, 4, 3
FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "tf_rnn.npz")


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _lstm(w, x, state, forget_bias=1.0):
    (K, b), (c, h) = w, state
    i, j, f, o = np.split(np.concatenate([x, h], 1) @ K + b, 4, axis=1)
    c = c * _sigmoid(f + forget_bias) + _sigmoid(i) * np.tanh(j)
    h = np.tanh(c) * _sigmoid(o)
    return h, (c, h)


def _gru(w, x, h):
    Kg, bg, Kc, bc = w
    r, u = np.split(_sigmoid(np.concatenate([x, h], 1) @ Kg + bg), 2, axis=1)
    c = np.tanh(np.concatenate([x, r * h], 1) @ Kc + bc)
    h = u * h + (1 - u) * c
    return h, h


def _multi(cells):
    def step(w, x, state):
        news = []
        for (fn, k), s in zip(cells, state):
            x, s = fn(w[k], x, s)
            news.append(s)
        return x, tuple(news)
    return step


def _numpy_rnn(cell, w, xs, state, lengths=None):
    """(outputs [batch, time, units], final state) of the numpy `cell`, masked as TF's _rnn_step."""
    outs = []
    for t in range(xs.shape[1]):
        out, new = cell(w, xs[:, t], state)
        if lengths is not None:
            done = (t >= lengths)[:, None]
            out = np.where(done, 0, out)
            new = _mask_state(new, state, done)
        outs.append(out)
        state = new
    return np.stack(outs, 1), state


def _mask_state(new, old, done):
    if isinstance(new, tuple):
        return tuple(_mask_state(n, o, done) for n, o in zip(new, old))
    return np.where(done, old, new)


def _leaves(state):
    if isinstance(state, tuple):
        return [leaf for s in state for leaf in _leaves(s)]
    return [state]


def _zero_state(kind):
    z = np.zeros((B, H))
    return {"lstm": (z, z), "gru": z, "multi": ((z, z), z)}[kind]


CASES = {  # kind -> (cell factory, numpy cell, how the flat variables split into the numpy cell's weights)
    "lstm": (lambda: tf.nn.rnn_cell.BasicLSTMCell(H), _lstm, lambda v: (v[0], v[1])),
    "lstm_cell": (lambda: tf.nn.rnn_cell.LSTMCell(H, forget_bias=0.5),
                  lambda w, x, s: _lstm(w, x, s, forget_bias=0.5), lambda v: (v[0], v[1])),
    "gru": (lambda: tf.nn.rnn_cell.GRUCell(H), _gru, lambda v: tuple(v)),
    "multi": (lambda: tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.BasicLSTMCell(H), tf.nn.rnn_cell.GRUCell(H)]),
              _multi([(_lstm, 0), (_gru, 1)]), lambda v: ((v[0], v[1]), tuple(v[2:]))),
}
NAMES = {
    "lstm": [("rnn/basic_lstm_cell/kernel", [D + H, 4 * H]), ("rnn/basic_lstm_cell/bias", [4 * H])],
    "lstm_cell": [("rnn/lstm_cell/kernel", [D + H, 4 * H]), ("rnn/lstm_cell/bias", [4 * H])],
    "gru": [("rnn/gru_cell/gates/kernel", [D + H, 2 * H]), ("rnn/gru_cell/gates/bias", [2 * H]),
            ("rnn/gru_cell/candidate/kernel", [D + H, H]), ("rnn/gru_cell/candidate/bias", [H])],
    "multi": [("rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel", [D + H, 4 * H]),
              ("rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias", [4 * H]),
              ("rnn/multi_rnn_cell/cell_1/gru_cell/gates/kernel", [2 * H, 2 * H]),
              ("rnn/multi_rnn_cell/cell_1/gru_cell/gates/bias", [2 * H]),
              ("rnn/multi_rnn_cell/cell_1/gru_cell/candidate/kernel", [2 * H, H]),
              ("rnn/multi_rnn_cell/cell_1/gru_cell/candidate/bias", [H])],
}


def _build(kind, lengths=None, time_major=False):
    make, _, _ = CASES[kind]
    X = tf.placeholder(tf.float64, [T, None, D] if time_major else [None, T, D])
    L = tf.placeholder(tf.int32, [None]) if lengths is not None else None
    outputs, state = tf.nn.dynamic_rnn(make(), X, sequence_length=L, dtype=tf.float64, time_major=time_major)
    return X, L, outputs, state


def _weights(sess, rng):
    values = []
    for v in tf.trainable_variables():  # every bias too: TF initializes them to constants
        sess.run(v.assign(rng.uniform(-0.8, 0.8, v.shape.as_list())))
        values.append(sess.run(v))
    return values


@pytest.mark.parametrize("kind", ["lstm", "lstm_cell", "gru", "multi"])
def test_cells_in_dynamic_rnn_match_numpy(kind):
    rng = np.random.default_rng(len(kind))
    xs, lengths = rng.normal(size=(B, T, D)), np.array([T, 2, 0])
    X, L, outputs, state = _build(kind, lengths)
    assert [(v.op.name, v.shape.as_list()) for v in tf.trainable_variables()] == NAMES[kind]
    assert outputs.shape.as_list() == [None, T, H]
    if kind.startswith("lstm"):
        assert isinstance(state, tf.nn.rnn_cell.LSTMStateTuple) and state.c.shape.as_list() == [None, H]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w = CASES[kind][2](_weights(sess, rng))
        got_full = sess.run([outputs] + _leaves(state), {X: xs, L: np.full(B, T)})
        got = sess.run([outputs] + _leaves(state), {X: xs, L: lengths})
    for lens, values in ((None, got_full), (lengths, got)):
        want_out, want_state = _numpy_rnn(CASES[kind][1], w, xs, _zero_state(kind.split("_")[0]), lens)
        np.testing.assert_allclose(values[0], want_out, rtol=1e-10, atol=1e-12)
        for g, s in zip(values[1:], _leaves(want_state)):
            np.testing.assert_allclose(g, s, rtol=1e-10, atol=1e-12)
    assert not got[0][1, 2:].any() and not got[0][2].any()  # past each sequence's length: zeros
    assert not any(leaf[2].any() for leaf in got[1:])  # length 0: the (zero) initial state


def test_sequence_length_keeps_the_last_valid_state_time_major_and_an_initial_state():
    rng = np.random.default_rng(3)
    xs, lengths = rng.normal(size=(T, B, D)), np.array([1, 4, 3])
    c0, h0 = rng.normal(size=(B, H)), rng.normal(size=(B, H))
    X = tf.placeholder(tf.float64, [T, None, D])
    init = tf.nn.rnn_cell.LSTMStateTuple(tf.constant(c0), tf.constant(h0))
    outputs, state = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(H), X, sequence_length=lengths,
                                       initial_state=init, time_major=True, swap_memory=True)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w = _weights(sess, rng)
        out, c, h = sess.run([outputs, state.c, state.h], {X: xs})
    full, _ = _numpy_rnn(_lstm, w, xs.transpose(1, 0, 2), (c0, h0))
    for b, n in enumerate(lengths):  # the unmasked run's step n-1, then zeros
        np.testing.assert_allclose(out[:n, b], full[b, :n], rtol=1e-10)
        assert not out[n:, b].any()
        np.testing.assert_allclose(h[b], full[b, n - 1], rtol=1e-10)
    _, (want_c, _) = _numpy_rnn(_lstm, w, xs.transpose(1, 0, 2), (c0, h0), lengths)
    np.testing.assert_allclose(c, want_c, rtol=1e-10)


def _numeric_grad(f, arrays, eps=1e-6):
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            keep = a[i]
            a[i] = keep + eps
            up = f()
            a[i] = keep - eps
            down = f()
            a[i] = keep
            g[i] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize("kind", ["lstm", "gru", "multi"])
def test_gradients_through_dynamic_rnn_match_finite_differences(kind):
    rng = np.random.default_rng(10 + len(kind))
    xs, lengths = rng.normal(size=(B, T, D)), np.array([T, 3, 1])
    G = rng.normal(size=(B, T, H))
    X, L, outputs, state = _build(kind, lengths)
    Gs = [rng.normal(size=(B, H)) for _ in _leaves(state)]
    loss = tf.reduce_sum(outputs * G) + tf.add_n([tf.reduce_sum(s * g) for s, g in zip(_leaves(state), Gs)])
    variables = tf.trainable_variables()
    grads = tf.gradients(loss, variables + [X])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        flat = _weights(sess, rng)
        got = sess.run(grads, {X: xs, L: lengths})
    cell, split = CASES[kind][1], CASES[kind][2]

    def f():
        out, s = _numpy_rnn(cell, split(flat), xs, _zero_state(kind), lengths)
        return np.sum(out * G) + sum(np.sum(a * g) for a, g in zip(_leaves(s), Gs))

    for g, want in zip(got, _numeric_grad(f, flat + [xs])):
        np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-8)
    assert np.abs(got[-1][2, 1:]).max() == 0  # inputs past a sequence's end get no gradient


@pytest.mark.parametrize("case", ["lstm", "gru", "multi"])
def test_training_steps_match_tensorflow(case):
    data = np.load(FIXTURE)
    xs, lengths = data[f"{case}/x"], data[f"{case}/lengths"]
    units, steps, depth = data[f"{case}/outputs"].shape[2], xs.shape[1], xs.shape[2]
    X = tf.placeholder(tf.float32, [None, steps, depth])
    L = tf.placeholder(tf.int32, [None])
    cell = {"lstm": lambda: tf.nn.rnn_cell.BasicLSTMCell(units), "gru": lambda: tf.nn.rnn_cell.GRUCell(units),
            "multi": lambda: tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.BasicLSTMCell(units),
                                                          tf.nn.rnn_cell.GRUCell(units)])}[case]()
    outputs, state = tf.nn.dynamic_rnn(cell, X, sequence_length=L, dtype=tf.float32)
    h = state[-1] if case == "multi" else state
    h = h.h if case == "lstm" else h
    logits = tf.layers.dense(h, 3)
    loss = tf.reduce_mean(tf.square(outputs)) + tf.reduce_mean(tf.square(logits - 0.5))
    train = tf.train.AdamOptimizer(0.05).minimize(loss)
    variables = tf.trainable_variables()
    assert [v.op.name for v in variables] == list(data[f"{case}/names"])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for k, v in enumerate(variables):
            sess.run(v.assign(data[f"{case}/w{k}"]))
        feed = {X: xs, L: lengths}
        out, got_h = sess.run([outputs, h], feed)
        losses = []
        for _ in range(4):
            sess.run(train, feed)
            losses.append(sess.run(loss, feed))
    np.testing.assert_allclose(out, data[f"{case}/outputs"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_h, data[f"{case}/h"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(losses, data[f"{case}/losses"], rtol=1e-5)


def test_cell_called_directly_and_refusals():
    rng = np.random.default_rng(5)
    x, h0 = rng.normal(size=(B, D)), rng.normal(size=(B, H))
    cell = tf.nn.rnn_cell.GRUCell(H)
    out, state = cell(tf.constant(x), tf.constant(h0))
    assert cell.state_size == H and cell.output_size == H
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w = _weights(sess, rng)
        got = sess.run(out)
    np.testing.assert_allclose(got, _gru(w, x, h0)[0], rtol=1e-10)
    assert tf.nn.rnn_cell.BasicLSTMCell(H).state_size == (H, H)
    with pytest.raises(NotImplementedError, match="peepholes"):
        tf.nn.rnn_cell.LSTMCell(H, use_peepholes=True)
    with pytest.raises(ValueError, match="sequence_length must be a vector"):
        tf.nn.dynamic_rnn(tf.nn.rnn_cell.GRUCell(H), tf.zeros([B, T, D]), sequence_length=3, dtype=tf.float32)


def test_a_user_cell_subclassing_rnn_cell():
    class RunningSum(tf.nn.rnn_cell.RNNCell):
        @property
        def state_size(self):
            return D

        @property
        def output_size(self):
            return D

        def call(self, inputs, state):
            total = state + inputs
            return total * 2.0, total

    xs = np.random.default_rng(9).normal(size=(B, T, D))
    X = tf.placeholder(tf.float64, [None, T, D])
    outputs, state = tf.nn.dynamic_rnn(RunningSum(), X, sequence_length=[T, 2, 4], dtype=tf.float64)
    with tf.Session() as sess:
        out, s = sess.run([outputs, state], {X: xs})
    sums = np.cumsum(xs, 1)
    mask = np.arange(T)[None, :] < np.array([T, 2, 4])[:, None]
    np.testing.assert_allclose(out, 2 * sums * mask[..., None], rtol=1e-12)
    np.testing.assert_allclose(s, sums[np.arange(B), [T - 1, 1, 3]], rtol=1e-12)
