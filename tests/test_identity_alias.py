"""tf.identity of a computed value shares its input's buffer (no copy kernel, no second store); of a variable
that a later kernel updates it still copies, so its readers see the value from before the update.
Oracles: numpy, and the kernel list PYGRAPH_DEBUG=1 prints."""

import numpy as np

import pygraph as tf


def _kernels(capfd):
    return [line for line in capfd.readouterr().err.splitlines() if line.startswith("[pygraph]   k")]


def test_identity_of_a_matmul_read_by_a_matmul_is_not_copied(monkeypatch, capfd):
    monkeypatch.setenv("PYGRAPH_DEBUG", "1")
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(s).astype(np.float32) for s in ((5, 4), (4, 6), (6, 3)))
    A = tf.placeholder(tf.float32, (None, 4))
    ab = tf.identity(tf.matmul(A, tf.constant(b)), name="ab_alias")
    out = tf.matmul(ab, tf.constant(c))
    with tf.Session() as sess:
        got = sess.run(out, {A: a})
    np.testing.assert_allclose(got, (a @ b) @ c, rtol=1e-5, atol=1e-5)
    assert not [line for line in _kernels(capfd) if "ab_alias" in line]


def test_identities_in_a_fused_loop_read_their_input_and_store_once(monkeypatch, capfd):
    """x*2 is stored (a reduction reads it); its identity (twice over) feeds the same loop and a fetch."""
    monkeypatch.setenv("PYGRAPH_DEBUG", "2")
    x = tf.placeholder(tf.float32, (None, 7), name="x")
    y = x * 2.0
    i2 = tf.identity(tf.identity(y, name="first_id"), name="second_id")
    z = i2 + 1.0
    total = tf.reduce_sum(y, axis=1)
    w = tf.matmul(i2, tf.ones((7, 2)))
    xv = np.arange(21, dtype=np.float32).reshape(3, 7)
    with tf.Session() as sess:
        got_z, got_total, got_w, got_i2 = sess.run([z, total, w, i2], {x: xv})
    np.testing.assert_array_equal(got_z, xv * 2 + 1)
    np.testing.assert_array_equal(got_total, (xv * 2).sum(axis=1))
    np.testing.assert_array_equal(got_w, (xv * 2) @ np.ones((7, 2), np.float32))
    np.testing.assert_array_equal(got_i2, xv * 2)  # a fetched identity keeps its own output buffer
    source = capfd.readouterr().err
    assert "// Identity first_id" not in source  # forwarded: computes nothing


def test_identity_of_a_variable_read_after_its_update_still_copies(monkeypatch, capfd):
    monkeypatch.setenv("PYGRAPH_DEBUG", "1")
    v = tf.Variable(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), name="v")
    snap = tf.identity(v, name="snap")
    with tf.control_dependencies([snap]):
        update = tf.assign(v, v * 10.0)
    with tf.control_dependencies([update]):
        after = tf.matmul(snap, tf.ones((2, 1)))  # runs after the update, reads the snapshot
    with tf.Session() as sess:
        sess.run(v.initializer)
        capfd.readouterr()
        got = sess.run(after)
        np.testing.assert_array_equal(got, [[3.0], [7.0]])
        np.testing.assert_array_equal(sess.run(v), [[10.0, 20.0], [30.0, 40.0]])
    assert [line for line in _kernels(capfd) if "Identity(snap)" in line]
