"""pygraph's own float32 GEMM (codegen/templates/sgemm.h.j2), through Session.run's MatMul.

Oracles: numpy's float64 product of the same float32 inputs (an error bound of k roundings), and the
scalar path (one std::fma chain per element, written independently of the tiles) that the AVX-512 and AVX2
paths must match bit for bit, as must every thread count."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import pygraph as tf

# (m, k, n, transpose_a, transpose_b): tails around the tile (8 x 48, 16-wide vectors; 4- and 8-wide xmm/ymm tiles
# for a last panel of at most 8 columns), the KC block (1024), the row block (96), vector-shaped and empty
# products, every transpose pair.
SHAPES = [
    (1, 1, 1, False, False), (2, 1, 2, False, False), (7, 5, 47, False, False), (8, 17, 48, False, False),
    (9, 33, 49, False, False), (13, 1023, 15, False, False), (17, 1024, 16, False, False),
    (24, 1025, 17, False, False), (95, 2049, 31, False, False), (97, 20, 33, False, False),
    (5, 9, 1, False, False), (1, 64, 70, False, False), (0, 4, 5, False, False), (6, 0, 5, False, False),
    (64, 256, 64, False, False), (19, 70, 4, False, False), (9, 31, 52, False, False),
    (16, 300, 56, False, False), (33, 100, 5, False, False),
    (10, 1030, 50, True, False), (11, 30, 97, False, True), (9, 400, 47, True, True), (3, 2, 65, True, True),
]
rng = np.random.default_rng(5)
INPUTS = [((rng.standard_normal((k, m) if ta else (m, k))).astype(np.float32),
           (rng.standard_normal((n, k) if tb else (k, n))).astype(np.float32)) for m, k, n, ta, tb in SHAPES]


def _products(inputs=INPUTS, shapes=SHAPES):
    """Every product of `shapes` in one program (one compile), fed through placeholders (run-time dims)."""
    g = tf.Graph()
    with g.as_default():
        feeds, outs = {}, []
        for (a, b), (_, _, _, ta, tb) in zip(inputs, shapes):
            pa, pb = tf.placeholder(tf.float32, (None, None)), tf.placeholder(tf.float32, (None, None))
            feeds[pa], feeds[pb] = a, b
            outs.append(tf.matmul(pa, pb, transpose_a=ta, transpose_b=tb))
    with tf.Session(graph=g) as sess:
        return sess.run(outs, feeds)


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":")[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return []


def _paths():
    flags = _cpu_flags()
    return ["scalar"] + (["avx2"] if {"avx2", "fma"} <= set(flags) else []) + (
        ["avx512"] if "avx512f" in flags else [])


def test_every_path_is_within_k_roundings_of_numpys_float64_product(monkeypatch):
    eps = np.finfo(np.float32).eps
    for path in ["auto", *_paths()]:
        monkeypatch.setenv("PYGRAPH_SGEMM", path)
        for got, (a, b), (m, k, n, ta, tb) in zip(_products(), INPUTS, SHAPES):
            a64, b64 = (a.T if ta else a).astype(np.float64), (b.T if tb else b).astype(np.float64)
            want, scale = a64 @ b64, np.abs(a64) @ np.abs(b64)
            assert got.shape == (m, n) and got.dtype == np.float32
            assert np.all(np.abs(got - want) <= (k + 1) * eps * scale + 1e-30), (path, m, k, n, ta, tb)


def test_avx512_avx2_and_scalar_paths_give_the_same_bits(monkeypatch):
    paths = _paths()
    if len(paths) < 2:
        pytest.skip("this CPU has only the scalar path")
    results = {}
    for path in paths:
        monkeypatch.setenv("PYGRAPH_SGEMM", path)
        results[path] = _products()
    for path in paths[1:]:
        for got, want, shape in zip(results[path], results["scalar"], SHAPES):
            assert got.tobytes() == want.tobytes(), (path, shape)
    if "avx512" in paths:  # auto's rule sends products of >= 2^20 multiply-adds with a row-major B here
        monkeypatch.setenv("PYGRAPH_SGEMM", "auto")
        ours = [(got, want) for got, want, (m, k, n, _, tb) in zip(_products(), results["scalar"], SHAPES)
                if m * k * n >= 1 << 20 and not tb]
        assert len(ours) == 2 and all(got.tobytes() == want.tobytes() for got, want in ours)


def test_an_unknown_sgemm_setting_is_refused(monkeypatch):
    monkeypatch.setenv("PYGRAPH_SGEMM", "avx1024")
    with pytest.raises(ValueError, match="PYGRAPH_SGEMM must be one of"):
        _products(INPUTS[:1], SHAPES[:1])


_CHILD = """
import hashlib, json
import numpy as np
import pygraph as tf
rng = np.random.default_rng(9)
a = rng.standard_normal((256, 784)).astype(np.float32)
b = rng.standard_normal((784, 300)).astype(np.float32)
c = rng.standard_normal((300, 7)).astype(np.float32)
x, w = tf.placeholder(tf.float32, (None, 784)), tf.placeholder(tf.float32, (784, None))
wt = tf.placeholder(tf.float32, (None, None))
w2, bias = tf.placeholder(tf.float32, (784, 300)), tf.placeholder(tf.float32, (300,))
layer = tf.nn.relu(tf.matmul(x, w2) + bias)  # the bias + Relu epilogue in the tiles (codegen/bias_epilogue.py)
with tf.Session() as sess:
    out = sess.run([tf.matmul(x, w), tf.matmul(w, wt, transpose_b=True), layer],
                   {x: a, w: b, wt: c.T, w2: b[::-1].copy(), bias: c[:, 0]})
print(json.dumps([hashlib.sha256(o.tobytes()).hexdigest() for o in out]))
"""


def test_results_do_not_depend_on_the_thread_count():
    """Threads split M and N, never K (OpenBLAS's sgemm does not promise this). Work above the threading
    threshold (a row-major and a transposed B), each thread count in its own process (the pool's size is
    fixed per process)."""
    digests = []
    for threads in ("1", "2", "3"):
        env = {**os.environ, "PYGRAPH_NUM_THREADS": threads, "PYGRAPH_SGEMM": "avx512"}  # or the best below
        out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        digests.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert digests[0] == digests[1] == digests[2]
