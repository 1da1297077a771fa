"""MatMul chains (codegen/chain.py): `(A @ B) @ C` computed a tile of the intermediate at a time.

Oracles: the same program lowered without the chain, and numpy in float64."""

import numpy as np
import pytest
from pygraph.codegen import chain

import pygraph as tf

rng = np.random.default_rng(5)


def _kernels(capfd):
    return [line for line in capfd.readouterr().err.splitlines() if line.startswith("[pygraph]   k")]


def _run(build, feeds, fused):
    """Build a fresh graph with `build(placeholders...)`, run it once fused or plain."""
    g = tf.Graph()
    with g.as_default():
        holders = [tf.placeholder(v.dtype, (None,) * v.ndim) for v in feeds]
        out = build(*holders)
    with tf.Session(graph=g) as sess:
        feed = dict(zip(holders, feeds))
        if fused:
            return sess.run(out, feed)
        with chain.disabled():
            return sess.run(out, feed)


CASES = [  # (A, B, C shapes as stored, transpose_a and transpose_b of the inner, transpose_b of the outer)
    ((9, 9), (20641, 9), (20641, 1), False, True, False),  # the normal equation: (inv @ X^T) @ y
    ((4, 6), (4, 999), (999, 1), True, False, False),  # small left factor, B not transposed
    ((2, 6), (70, 6), (1, 70), False, True, True),
    ((20, 5), (5, 3000), (3000, 1), False, False, False),  # m > 16: BLAS on cache-sized tiles
    ((5, 17), (17, 2000), (2000, 1), False, False, False),  # k > 16
    ((3, 5), (5, 1000), (1000, 4), False, False, False),  # several output columns
    ((7, 4), (4, 3001), (2, 3001), False, False, True),
    ((3, 1), (3, 5000), (5000, 2), True, False, False),
    ((4, 0), (0, 9), (9, 3), False, False, False),  # empty inner sum: zeros, then times C
    ((4, 0), (0, 9), (9, 1), False, False, False),
    ((4, 3), (3, 0), (0, 2), False, False, False),  # empty outer sum
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sa,sb,sc,ta,tb,tc", CASES)
def test_chain_matches_the_unfused_program_and_numpy(monkeypatch, capfd, dtype, sa, sb, sc, ta, tb, tc):
    a, b, c = (rng.standard_normal(s).astype(dtype) for s in (sa, sb, sc))

    def build(pa, pb, pc):
        return tf.matmul(tf.matmul(pa, pb, transpose_a=ta, transpose_b=tb), pc, transpose_b=tc)

    monkeypatch.setenv("PYGRAPH_DEBUG", "1")
    got = _run(build, [a, b, c], True)
    assert any("gemm_chain" in line for line in _kernels(capfd))
    plain = _run(build, [a, b, c], False)
    assert not any("gemm_chain" in line for line in _kernels(capfd))
    at = a.T if ta else a
    bt = b.T if tb else b
    ct = c.T if tc else c
    want = (at.astype(np.float64) @ bt.astype(np.float64)) @ ct.astype(np.float64)
    assert got.dtype == dtype and got.shape == want.shape
    rtol = 1e-4 if dtype == np.float32 else 1e-11
    scale = (np.abs(at) @ np.abs(bt) @ np.abs(ct)).astype(np.float64) if want.size else want
    np.testing.assert_array_less(np.abs(got - want), rtol * scale + 1e-30)
    np.testing.assert_array_less(np.abs(got - plain), rtol * scale + 1e-30)


def test_normal_equation_reads_x_transposed_in_place(monkeypatch, capfd):
    """The lecture's graph: X^T is a gemm flag (no 20640 x 9 copy) and the inv @ X^T product is chained."""
    X = np.c_[np.ones(20640), rng.standard_normal((20640, 8))].astype(np.float32)
    y = rng.standard_normal((20640, 1)).astype(np.float32)

    def build(px, py):
        xt = tf.transpose(px)
        return tf.matmul(tf.matmul(tf.matrix_inverse(tf.matmul(xt, px)), xt), py)

    monkeypatch.setenv("PYGRAPH_DEBUG", "1")
    theta = _run(build, [X, y], True)
    lines = _kernels(capfd)
    assert any("gemm_chain" in line for line in lines)
    plain = _run(build, [X, y], False)
    want = np.linalg.solve(X.T.astype(np.float64) @ X, X.T.astype(np.float64) @ y)
    np.testing.assert_allclose(theta, want, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(theta, plain, rtol=1e-4, atol=1e-5)


def test_a_fetched_or_shared_intermediate_is_not_chained(monkeypatch, capfd):
    a, b, c = (rng.standard_normal(s).astype(np.float32) for s in ((3, 4), (4, 50), (50, 2)))
    g = tf.Graph()
    with g.as_default():
        pa, pb, pc = (tf.placeholder(tf.float32, v.shape) for v in (a, b, c))
        mid = tf.matmul(pa, pb)
        out = tf.matmul(mid, pc)
        shared = tf.matmul(pa, pb)
        other = tf.matmul(shared, pc) + tf.reduce_sum(shared)
    monkeypatch.setenv("PYGRAPH_DEBUG", "1")
    with tf.Session(graph=g) as sess:
        feed = {pa: a, pb: b, pc: c}
        got_mid, got = sess.run([mid, out], feed)
        assert not any("gemm_chain" in line for line in _kernels(capfd))
        np.testing.assert_allclose(got, got_mid @ c, rtol=1e-5)
        np.testing.assert_allclose(sess.run(other, feed), (a @ b) @ c + (a @ b).sum(), rtol=1e-4)
        assert not any("gemm_chain" in line for line in _kernels(capfd))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows,cols", [(20640, 9), (1000, 16), (3, 5), (1, 1), (257, 2), (0, 4), (300, 17)])
def test_gram_of_a_tall_matrix_matches_numpy(dtype, rows, cols):
    """X^T X (X tall, up to 16 columns: a small vectorised kernel; wider: syrk) is exactly symmetric."""
    x = rng.standard_normal((rows, cols)).astype(dtype)
    g = tf.Graph()
    with g.as_default():
        px = tf.placeholder(dtype, (None, None))
        gram = tf.matmul(tf.transpose(px), px)
    with tf.Session(graph=g) as sess:
        got = sess.run(gram, {px: x})
    want = x.T.astype(np.float64) @ x
    rtol = 1e-4 if dtype == np.float32 else 1e-11
    np.testing.assert_array_less(np.abs(got - want), rtol * (np.abs(x).T @ np.abs(x)) + 1e-30)
    np.testing.assert_array_equal(got, got.T)
