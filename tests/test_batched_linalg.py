"""tf.matmul on rank > 2 (TF1's BatchMatMul, every adjoint flag) and batched tf.matrix_inverse against numpy,
with gradients against finite differences."""

import numpy as np
import pytest
from gradcheck import check_gradient

import pygraph as tf

RNG = np.random.default_rng(23)


def test_batch_matmul_and_inverse_match_numpy():
    a = RNG.standard_normal((2, 3, 4, 5))
    b = RNG.standard_normal((2, 3, 5, 2))
    sq = RNG.standard_normal((3, 4, 4)) + 4 * np.eye(4)
    pa, pb = tf.placeholder(tf.float64, (None, 3, 4, 5)), tf.placeholder(tf.float64, (None, 3, 5, 2))
    ps = tf.placeholder(tf.float64, (None, 4, 4))
    ia, ib = tf.constant(RNG.integers(-5, 5, (2, 2, 3)).astype(np.int32)), tf.constant(
        RNG.integers(-5, 5, (2, 3, 4)).astype(np.int32))
    outs = [tf.matmul(pa, pb), tf.matmul(pb, pa, transpose_a=True, transpose_b=True),
            tf.matmul(pa, pa, adjoint_b=True), tf.matmul(pa, pa, adjoint_a=True), tf.matmul(ia, ib),
            tf.matrix_inverse(ps), tf.matrix_inverse(ps, adjoint=True), pa @ pb]
    assert outs[0].op.type == "BatchMatMul" and outs[0].shape.as_list() == [None, 3, 4, 2]
    with tf.Session() as sess:
        got = sess.run(outs, {pa: a, pb: b, ps: sq})
    t = lambda x: np.swapaxes(x, -1, -2)  # noqa: E731
    want = [a @ b, t(b) @ t(a), a @ t(a), t(a) @ a, sess_free_int(ia, ib), np.linalg.inv(sq),
            np.linalg.inv(t(sq)), a @ b]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-10)


def sess_free_int(ia, ib):
    return ia.op.attrs["value"] @ ib.op.attrs["value"]


def test_batch_matmul_errors():
    with pytest.raises(ValueError, match="Dimensions must be equal, but are 5 and 4"):
        tf.matmul(tf.zeros((2, 3, 5)), tf.zeros((2, 4, 2)))
    with pytest.raises(ValueError, match="Dimensions must be equal, but are 2 and 3"):
        tf.matmul(tf.zeros((2, 3, 5)), tf.zeros((3, 5, 2)))
    x, y = tf.placeholder(tf.float32, (None, 2, 2)), tf.placeholder(tf.float32, (None, 2, 2))
    with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError):
        sess.run(tf.matmul(x, y), {x: np.ones((2, 2, 2), np.float32), y: np.ones((3, 2, 2), np.float32)})


@pytest.mark.parametrize("adj", [(False, False), (True, False), (False, True), (True, True)])
def test_batch_matmul_gradients(adj):
    a = RNG.standard_normal((2, 3, 2) if not adj[0] else (2, 2, 3))
    b = RNG.standard_normal((2, 2, 4) if not adj[1] else (2, 4, 2))
    check_gradient(lambda x, y: tf.matmul(x, y, adjoint_a=adj[0], adjoint_b=adj[1]), [a, b])


def test_batched_inverse_gradient():
    sq = RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3)
    check_gradient(lambda x: [tf.matrix_inverse(x), tf.matrix_inverse(x, adjoint=True)], [sq], rtol=1e-5)
