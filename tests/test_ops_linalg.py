"""matmul, transpose and matrix_inverse against numpy; the lecture's normal equation on the real data."""

from __future__ import annotations

import housing
import numpy as np
import pytest
from pygraph.codegen import toolchain

import pygraph as tf

rng = np.random.default_rng(3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
def test_matmul_all_transposes_and_vector_shapes(dtype):
    a = tf.placeholder(dtype, [None, None])
    b = tf.placeholder(dtype, [None, None])
    outs = [tf.matmul(a, b), tf.matmul(a, b, transpose_a=True), tf.matmul(a, b, transpose_b=True),
            tf.matmul(a, b, transpose_a=True, transpose_b=True)]
    with tf.Session() as sess:
        compiles = None
        # (m, k, n) with vector sides (n == 1, m == 1, k == 1) and empty ones
        for m, k, n in [(5, 4, 3), (1, 7, 6), (6, 7, 1), (3, 1, 2), (1, 1, 1), (0, 3, 2), (2, 0, 3), (64, 33, 17)]:
            def make(shape):
                if np.issubdtype(dtype, np.integer):
                    return rng.integers(-9, 10, size=shape).astype(dtype)
                return rng.standard_normal(shape).astype(dtype)
            av, bv = make((m, k)), make((k, n))
            feeds = [(av, bv), (np.ascontiguousarray(av.T), bv), (av, np.ascontiguousarray(bv.T)),
                     (np.ascontiguousarray(av.T), np.ascontiguousarray(bv.T))]
            want = av.astype(np.float64) @ bv.astype(np.float64)
            for out, (x, y) in zip(outs, feeds):
                got = sess.run(out, {a: x, b: y})
                assert got.dtype == dtype and got.shape == (m, n)
                tol = {np.float32: 1e-5, np.float64: 1e-12}.get(dtype, 0)
                np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 10)
            if compiles is None:
                compiles = toolchain.stats["compiles"]
        assert toolchain.stats["compiles"] == compiles


def test_matmul_shape_errors_and_operator():
    a = tf.placeholder(tf.float32, [2, 3])
    b = tf.placeholder(tf.float32, [4, 5])
    with pytest.raises(ValueError) as e:
        tf.matmul(a, b)
    assert str(e.value) == ("Dimensions must be equal, but are 3 and 4 for 'MatMul' (op: 'MatMul') with input "
                            "shapes: [2,3], [4,5].")
    with pytest.raises(ValueError, match="same rank.*broadcasting batch dimensions is not supported"):
        tf.matmul(tf.placeholder(tf.float32, [2, 3, 4]), a)
    with pytest.raises(TypeError, match="float64 that does not match type float32"):
        tf.matmul(a, tf.placeholder(tf.float64, [3, 2]))
    with pytest.raises(TypeError, match="bool"):
        tf.matmul(tf.constant([[True]]), tf.constant([[True]]))
    c = a @ tf.placeholder(tf.float32, [3, None])
    assert c.op.type == "MatMul" and c.shape.as_list() == [2, None]
    x = tf.placeholder(tf.float32, [None, None])
    y = tf.matmul(x, x)
    with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError, match=r"Matrix size-incompatible: "
                                                                                   r"In\[0\]: \[2,3\], In\[1\]"):
        sess.run(y, {x: np.zeros((2, 3), np.float32)})


def test_transpose():
    x = tf.placeholder(tf.float64, [None, 3, 4])
    outs = [tf.transpose(x), tf.transpose(x, [0, 2, 1]), tf.transpose(x, [1, 0, 2]), tf.transpose(x, [0, 1, 2])]
    assert outs[0].op.name == "transpose" and outs[0].op.type == "Transpose"
    assert outs[0].shape.as_list() == [4, 3, None]
    m = tf.placeholder(tf.float32, [None, None])
    mt = tf.transpose(m)
    with tf.Session() as sess:
        xv = rng.standard_normal((5, 3, 4))
        for got, perm in zip(sess.run(outs, {x: xv}), [(2, 1, 0), (0, 2, 1), (1, 0, 2), (0, 1, 2)]):
            np.testing.assert_array_equal(got, np.transpose(xv, perm))
        for shape in [(20640, 9), (1, 5), (33, 70)]:
            mv = rng.standard_normal(shape).astype(np.float32)
            np.testing.assert_array_equal(sess.run(mt, {m: mv}), mv.T)
    with pytest.raises(ValueError, match="not a valid permutation"):
        tf.transpose(x, [0, 0, 1])


def test_matrix_inverse_and_singular_error():
    x = tf.placeholder(tf.float64, [None, None])
    inv, adj = tf.matrix_inverse(x), tf.matrix_inverse(x, adjoint=True)
    assert inv.op.type == "MatrixInverse" and inv.op.name == "MatrixInverse"
    with tf.Session() as sess:
        for n in (1, 3, 40):
            xv = rng.standard_normal((n, n)) + n * np.eye(n)
            got, got_adj = sess.run([inv, adj], {x: xv})
            np.testing.assert_allclose(got, np.linalg.inv(xv), rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(got_adj, np.linalg.inv(xv.T), rtol=1e-10, atol=1e-12)
        with pytest.raises(tf.errors.InvalidArgumentError, match="Input is not invertible") as e:
            sess.run(inv, {x: np.array([[1.0, 2.0], [2.0, 4.0]])})
        assert "MatrixInverse" in str(e.value) and "test_ops_linalg.py" in str(e.value)
        with pytest.raises(tf.errors.InvalidArgumentError, match="must be square"):
            sess.run(inv, {x: np.zeros((2, 3))})
    with pytest.raises(ValueError, match="Dimensions must be equal, but are 2 and 3 for 'MatrixInverse_2'"):
        tf.matrix_inverse(tf.placeholder(tf.float32, [2, 3]))


def test_normal_equation_random_data_float32():
    X = tf.placeholder(tf.float32, [None, 9])
    y = tf.placeholder(tf.float32, [None, 1])
    XT = tf.transpose(X)
    theta = tf.matmul(tf.matmul(tf.matrix_inverse(tf.matmul(XT, X)), XT), y)
    Xv = rng.standard_normal((20640, 9)).astype(np.float32)
    yv = (Xv @ np.arange(1, 10, dtype=np.float32)[:, None] + 0.1 * rng.standard_normal((20640, 1))).astype(np.float32)
    with tf.Session() as sess:
        got = sess.run(theta, {X: Xv, y: yv})
    want = np.linalg.lstsq(Xv.astype(np.float64), yv.astype(np.float64), rcond=None)[0]
    np.testing.assert_allclose(got, want, rtol=1e-4)


def test_normal_equation_on_california_housing():
    data, target = housing.load()
    m = len(data)
    housing_plus_bias = np.c_[np.ones((m, 1)), data]
    # the lecture's program, unchanged
    X = tf.constant(housing_plus_bias, dtype=tf.float32, name="X")
    y = tf.constant(target.reshape(-1, 1), dtype=tf.float32, name="y")
    XT = tf.transpose(X)
    theta = tf.matmul(tf.matmul(tf.matrix_inverse(tf.matmul(XT, X)), XT), y)
    with tf.Session() as sess:
        theta_value = sess.run(theta)
    ref = np.linalg.lstsq(housing_plus_bias, target, rcond=None)[0]

    def mse(t):
        return np.mean((housing_plus_bias @ np.asarray(t, np.float64).ravel() - target) ** 2)

    assert abs(mse(theta_value) - mse(ref)) < 1e-4
    # within 2% (the population coefficient is ~4e-6: judged against the size of theta instead)
    np.testing.assert_allclose(theta_value.ravel(), ref, rtol=0.02, atol=1e-4)


def test_gram_matrices_use_the_symmetric_product():
    x = tf.placeholder(tf.float64, [None, None])
    outs = [tf.matmul(x, x, transpose_a=True), tf.matmul(x, x, transpose_b=True), tf.matmul(tf.transpose(x), x)]
    xv = rng.standard_normal((50, 7))
    with tf.Session() as sess:
        ata, aat, ata2 = sess.run(outs, {x: xv})
    np.testing.assert_allclose(ata, xv.T @ xv, rtol=1e-12)
    np.testing.assert_allclose(aat, xv @ xv.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(ata, ata.T)  # exactly symmetric, as numpy's syrk result
    np.testing.assert_array_equal(ata2, ata)
