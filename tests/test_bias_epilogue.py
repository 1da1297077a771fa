"""A dense layer's bias add and Relu in its GEMM's epilogue (codegen/bias_epilogue.py, sgemm.h.j2's tiles).

Oracles: the same program lowered without the fold (bit for bit, on every GEMM path), and numpy's float64
relu(a @ b + bias)."""

from __future__ import annotations

import numpy as np
import pytest
from pygraph.codegen import bias_epilogue

import pygraph as tf


def _paths():
    """The GEMM paths this CPU runs (PYGRAPH_SGEMM values), as tests/test_sgemm.py picks them."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(next((line.split(":")[1].split() for line in f if line.startswith("flags")), []))
    except OSError:
        flags = set()
    return ["scalar"] + (["avx2"] if {"avx2", "fma"} <= flags else []) + (["avx512"] if "avx512f" in flags else [])

# (m, k, n): gemv rows and columns, row tails around the 8-row tile, column tails around 16/32/48 and the 4- and
# 8-wide xmm/ymm tiles, a KC split (k > 1024), the MLP's layer shapes (n = 300: 6 x 48 + 12 columns, n = 100:
# 2 x 48 + 4), and an output big enough for the threaded row pass (pg_bias_pass) where the product runs in OpenBLAS.
SHAPES = [(1, 20, 33), (7, 5, 1), (9, 33, 17), (13, 50, 49), (17, 1030, 100), (31, 16, 300), (256, 300, 100),
          (300, 8, 256), (11, 40, 56), (9, 33, 6)]


def _kernels(capfd):
    return [line for line in capfd.readouterr().err.splitlines() if line.startswith("[pygraph]   k")]


def _layers(relu, op):
    """Every shape's layer in one program, operands fed (run-time dims); inputs hold a NaN and biases that
    cancel some sums to -0 (Relu must give +0 there, and keep the NaN)."""
    rng = np.random.default_rng(3)
    g = tf.Graph()
    feeds, outs = {}, []
    with g.as_default():
        for m, k, n in SHAPES:
            a = rng.standard_normal((m, k)).astype(np.float32)
            b = rng.standard_normal((k, n)).astype(np.float32)
            a[m // 2, k // 2] = np.nan
            bias = rng.standard_normal(n).astype(np.float32)
            bias[0] = -np.float32(a[0].astype(np.float64) @ b[:, 0].astype(np.float64))  # near-cancellation
            pa, pb = tf.placeholder(tf.float32, (None, k)), tf.placeholder(tf.float32, (k, n))
            pbias = tf.placeholder(tf.float32, (n,))
            feeds.update({pa: a, pb: b, pbias: bias})
            product = tf.matmul(pa, pb)
            if op == "radd":
                total = pbias + product
            elif op == "bias_add":
                total = tf.nn.bias_add(product, pbias)
            else:
                total = product + pbias if op == "add" else tf.identity(product + pbias)
            outs.append(tf.nn.relu(total) if relu else total)
    return g, feeds, outs


def _run(g, feeds, outs, fold):
    with tf.Session(graph=g) as sess:
        if fold:
            return sess.run(outs, feeds)
        with bias_epilogue.disabled():
            return sess.run(outs, feeds)


@pytest.mark.parametrize("relu,op", [(True, "add"), (False, "add_identity"), (True, "radd"), (True, "bias_add")])
def test_the_fold_gives_the_unfused_programs_bits_on_every_path(monkeypatch, capfd, relu, op):
    monkeypatch.setenv("PYGRAPH_DEBUG", "1")
    g, feeds, outs = _layers(relu, op)
    # every path for the MLP's form; the others on auto (AVX-512 tiles for the large shape) and OpenBLAS's pass
    paths = ["auto", "openblas", *_paths()] if (relu, op) == (True, "add") else ["auto"] if op == "radd" else [
        "auto", "openblas"]
    for path in paths:
        monkeypatch.setenv("PYGRAPH_SGEMM", path)
        capfd.readouterr()
        fused = _run(g, feeds, outs, True)
        # bias + product is left alone: its NaN + NaN keeps the bias's NaN, the tiles' sum the product's
        assert sum("gemm_bias" in line for line in _kernels(capfd)) == (0 if op == "radd" else len(SHAPES)), path
        plain = _run(g, feeds, outs, False)
        assert not any("gemm_bias" in line for line in _kernels(capfd)), path
        for got, want, shape in zip(fused, plain, SHAPES):
            assert got.tobytes() == want.tobytes(), (path, shape)


def test_the_fold_matches_numpys_float64_layer():
    eps = np.finfo(np.float32).eps
    g, feeds, outs = _layers(True, "add")
    got = _run(g, feeds, outs, True)
    values = list(feeds.values())
    for i, (m, k, n) in enumerate(SHAPES):
        a, b, bias = (v.astype(np.float64) for v in values[3 * i:3 * i + 3])
        want = np.maximum(a @ b + bias, 0)
        scale = np.abs(a) @ np.abs(b) + np.abs(bias)
        nan_row = m // 2
        assert np.isnan(got[i][nan_row]).all(), (m, k, n)  # NaN reaches the whole row through the product
        rows = np.arange(m) != nan_row
        assert np.all(np.abs(got[i][rows] - want[rows]) <= (k + 2) * eps * scale[rows] + 1e-30), (m, k, n)
        assert not np.signbit(got[i][rows]).any()  # Relu's zeros are +0


def test_a_product_read_elsewhere_is_not_folded(monkeypatch, capfd):
    monkeypatch.setenv("PYGRAPH_DEBUG", "1")
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((9, 6)).astype(np.float32), rng.standard_normal((6, 5)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    g = tf.Graph()
    with g.as_default():
        product = tf.matmul(tf.constant(a), tf.constant(b))
        out = tf.nn.relu(product + tf.Variable(bias))
        init = tf.global_variables_initializer()
    with tf.Session(graph=g) as sess:
        sess.run(init)
        capfd.readouterr()
        got_product, got = sess.run([product, out])
    assert not any("gemm_bias" in line for line in _kernels(capfd))
    np.testing.assert_allclose(got, np.maximum(got_product + bias, 0), rtol=0, atol=0)
