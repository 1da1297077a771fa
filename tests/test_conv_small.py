"""Short-window convolutions (templates/conv_small.h.j2: windows of at most 32 values run direct loops instead
of im2col + GEMM), the max-pool loops for windows that tile the image, and a convolution's bias add and Relu
in its epilogue (codegen/conv_epilogue.py).

Oracles: numpy's float64 convolution from TF's documented padding rule (test_conv.naive's rule, vectorised),
the filter gradient as the column matrix's product with dy, a max pool written as TF's row-major window scan,
and, for the epilogue, the same program lowered without the fold (bit for bit)."""

from __future__ import annotations

import numpy as np
import pytest
from pygraph.codegen import conv_epilogue, pool_epilogue

import pygraph as tf


def _pads(size, k, s, padding):
    if padding == "SAME":
        out = -(-size // s)
        return out, max((out - 1) * s + k - size, 0) // 2
    return -(-(size - k + 1) // s), 0


def _columns(x, kh, kw, strides, padding):
    """float64 column matrix [n, oh, ow, kh*kw*c] (padded cells 0), in the (i, j, channel) order of TF's filter."""
    n, h, w, c = x.shape
    oh, pt = _pads(h, kh, strides[0], padding)
    ow, pl = _pads(w, kw, strides[1], padding)
    xp = np.zeros((n, h + kh + oh * strides[0], w + kw + ow * strides[1], c))
    xp[:, pt:pt + h, pl:pl + w] = x
    cells = [xp[:, i:i + oh * strides[0]:strides[0], j:j + ow * strides[1]:strides[1]][:, :oh, :ow]
             for i in range(kh) for j in range(kw)]
    return np.concatenate(cells, axis=3)


def _conv(x, f, strides, padding):
    kh, kw, c, o = f.shape
    return _columns(x.astype(np.float64), kh, kw, strides, padding) @ f.astype(np.float64).reshape(-1, o)


def _filter_grad(x, dy, kh, kw, strides, padding):
    cols = _columns(x.astype(np.float64), kh, kw, strides, padding)
    return np.einsum("nyxk,nyxo->ko", cols, dy.astype(np.float64)).reshape(kh, kw, x.shape[3], dy.shape[3])


# (image h, w, channels), (filter kh, kw), strides, padding; every window holds at most 32 values
GEOMETRIES = [
    ((28, 28, 1), (3, 3), (1, 1), "SAME"),   # W10's layer
    ((9, 11, 3), (3, 3), (1, 1), "SAME"),    # RGB: 27 values, 3 channels per cell
    ((7, 9, 2), (2, 4), (2, 3), "SAME"),     # strides: padded right edge, odd pad split
    ((8, 7, 1), (5, 5), (1, 1), "VALID"),    # 25 values, no padding
    ((5, 4, 1), (3, 5), (1, 1), "SAME"),     # filter wider than the image: no window is inside
    ((10, 6, 4), (1, 3), (3, 1), "SAME"),    # a one-row filter, stride above its height
]
DEPTHS = [1, 5, 16, 32, 33, 48, 70]  # vector tails: 16 floats or 8 doubles per vector, two vectors a block


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_direct_conv_and_filter_gradient_match_numpy(dtype):
    rng = np.random.default_rng(7)
    outs, want, feeds = [], [], {}
    for k, ((h, w, c), (kh, kw), strides, padding) in enumerate(GEOMETRIES):
        depth = DEPTHS[k % len(DEPTHS)] if k else 32
        for o in {depth, DEPTHS[(k + 3) % len(DEPTHS)]}:
            n = 19 if k == 0 else 3  # 19 images: more than the filter gradient's 16 fixed parts
            x = rng.standard_normal((n, h, w, c)).astype(dtype)
            f = rng.standard_normal((kh, kw, c, o)).astype(dtype)
            px = tf.placeholder(dtype, (None, h, w, c))
            pf = tf.placeholder(dtype, (kh, kw, c, o))
            y = tf.nn.conv2d(px, pf, [1, *strides, 1], padding)
            dy = rng.standard_normal((n, *y.shape.as_list()[1:])).astype(dtype)
            pdy = tf.placeholder(dtype, dy.shape)
            (df,) = tf.gradients(y, [pf], grad_ys=[pdy])
            feeds.update({px: x, pf: f, pdy: dy})
            outs += [y, df]
            want += [_conv(x, f, strides, padding), _filter_grad(x, dy, kh, kw, strides, padding)]
    with tf.Session() as sess:
        got = sess.run(outs, feeds)
    eps = np.finfo(dtype).eps
    for g, w in zip(got, want):
        assert g.dtype == dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=0, atol=64 * eps * max(1.0, np.abs(w).max()))


def _max_pool(x, k, s):
    """VALID windows scanned row-major, `v > m ? v : m` from the first cell: a NaN first cell stays, a later one
    is passed over (pygraph's rule for every max pool)."""
    n, h, w, c = x.shape
    oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
    out = x[:, :oh * s[0]:s[0], :ow * s[1]:s[1]].copy()[:, :oh, :ow]
    for i in range(k[0]):
        for j in range(k[1]):
            v = x[:, i:i + oh * s[0]:s[0], j:j + ow * s[1]:s[1]][:, :oh, :ow]
            out = np.where(v > out, v, out)
    return out


@pytest.mark.parametrize("shape,k", [((2, 6, 8, 1), (2, 2)), ((3, 8, 4, 33), (2, 2)), ((1, 9, 6, 70), (3, 3)),
                                     ((2, 4, 6, 16), (2, 3))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tiled_max_pool_matches_the_row_major_scan(shape, k, dtype):
    rng = np.random.default_rng(shape[3])
    x = rng.integers(-3, 3, shape).astype(dtype)  # ties
    x.flat[::7] = np.nan  # first cells and later cells of some windows
    px = tf.placeholder(dtype, (None, *shape[1:]))
    y = tf.nn.max_pool(px, [1, *k, 1], [1, *k, 1], "VALID")
    with tf.Session() as sess:
        got = sess.run(y, {px: x})
    np.testing.assert_array_equal(got, _max_pool(x, k, k))


def _kernels(capfd):
    return [line for line in capfd.readouterr().err.splitlines() if line.startswith("[pygraph]   k")]


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("channels", [1, 8])  # 9 values per window (direct loops), 72 (im2col + GEMM)
def test_conv_bias_relu_epilogue_gives_the_unfused_bits(monkeypatch, capfd, relu, channels):
    """The layer of a training step: conv -> bias_add -> relu -> max_pool, with the Relu gradient's mask
    beside the Relu (it stays behind as its own loop). A NaN input and biases that cancel sums to -0."""
    monkeypatch.setenv("PYGRAPH_DEBUG", "1")
    rng = np.random.default_rng(channels)
    x = rng.standard_normal((5, 10, 12, channels)).astype(np.float32)
    x[1, 4, 5, 0] = np.nan
    f = rng.standard_normal((3, 3, channels, 40)).astype(np.float32)
    bias = rng.standard_normal(40).astype(np.float32)
    g = tf.Graph()
    with g.as_default():
        px = tf.placeholder(tf.float32, (None, 10, 12, channels))
        kernel, b = tf.Variable(f), tf.Variable(bias)
        z = tf.nn.bias_add(tf.nn.conv2d(px, kernel, [1, 1, 1, 1], "SAME"), b)
        act = tf.nn.relu(z) if relu else z
        loss = tf.reduce_sum(tf.nn.max_pool(act, [1, 2, 2, 1], [1, 2, 2, 1], "VALID") ** 2)
        grads = tf.gradients(loss, [kernel, b])
        init = tf.global_variables_initializer()
    runs = []
    for fold in (True, False):
        with tf.Session(graph=g) as sess:  # a new session: its own plan, lowered with or without the fold
            sess.run(init)
            capfd.readouterr()
            if fold:
                runs.append(sess.run([act, loss, *grads], {px: x}))
            else:
                with conv_epilogue.disabled():
                    runs.append(sess.run([act, loss, *grads], {px: x}))
            assert sum("conv_bias" in line for line in _kernels(capfd)) == (1 if fold else 0)
    fused, plain = runs
    for got, want in zip(fused, plain):
        assert got.tobytes() == want.tobytes()
    want = _conv(x, f, (1, 1), "SAME") + bias
    if relu:
        want = np.maximum(want, 0)
        assert not np.signbit(fused[0][~np.isnan(fused[0])]).any()  # Relu's zeros are +0
    nan = np.isnan(want)
    assert (np.isnan(fused[0]) == nan).all()
    np.testing.assert_allclose(fused[0][~nan], want[~nan], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("window,strides,padding", [((2, 2), (2, 2), "VALID"),   # windows tile the image
                                                    ((3, 3), (2, 2), "SAME")])   # overlapping: the general loop
def test_relu_mask_in_max_pool_grad_gives_the_unfused_bits(monkeypatch, capfd, window, strides, padding):
    """relu -> max_pool differentiated: MaxPoolGrad writes the Relu gradient's Select itself. Ties, negative
    windows (their maximum gets the gradient, the mask drops it), zeros, a NaN; checked against the unfused
    program and against numpy (the first maximum of each window takes the gradient, kept where x > 0)."""
    monkeypatch.setenv("PYGRAPH_DEBUG", "1")
    rng = np.random.default_rng(sum(window) + len(padding))
    x = rng.integers(-2, 3, (3, 8, 10, 20)).astype(np.float32)
    x[0, 1, 1, 3] = np.nan
    px = tf.placeholder(tf.float32, (None, 8, 10, 20))
    act = tf.nn.relu(px)
    y = tf.nn.max_pool(act, [1, *window, 1], [1, *strides, 1], padding)
    dy = rng.standard_normal((3, *y.shape.as_list()[1:])).astype(np.float32)
    (dx,) = tf.gradients(y, [px], grad_ys=[tf.constant(dy)])
    runs = []
    for fold in (True, False):
        with tf.Session() as sess:  # a new session: its own plan, lowered with or without the fold
            capfd.readouterr()
            if fold:
                runs.append(sess.run(dx, {px: x}))
            else:
                with pool_epilogue.disabled():
                    runs.append(sess.run(dx, {px: x}))
            assert sum("max_pool_grad_relu" in line for line in _kernels(capfd)) == (1 if fold else 0)
    fused, plain = runs
    assert fused.tobytes() == plain.tobytes()
    a = np.where(np.isnan(x), x, np.maximum(x, 0))
    n, h, w, c = x.shape
    oh, ow = dy.shape[1:3]
    pt = max((oh - 1) * strides[0] + window[0] - h, 0) // 2 if padding == "SAME" else 0
    pl = max((ow - 1) * strides[1] + window[1] - w, 0) // 2 if padding == "SAME" else 0
    want = np.zeros_like(x)
    for b in range(n):
        for yy in range(oh):
            for xx in range(ow):
                rows = range(max(0, yy * strides[0] - pt), min(h, yy * strides[0] - pt + window[0]))
                cols = range(max(0, xx * strides[1] - pl), min(w, xx * strides[1] - pl + window[1]))
                cells = [(i, j) for i in rows for j in cols]
                for ch in range(c):
                    best, at = a[b, cells[0][0], cells[0][1], ch], cells[0]
                    for i, j in cells[1:]:
                        if a[b, i, j, ch] > best:
                            best, at = a[b, i, j, ch], (i, j)
                    want[b, at[0], at[1], ch] += dy[b, yy, xx, ch]
    want = np.where(a > 0, want, 0)
    np.testing.assert_allclose(fused, want, rtol=1e-6, atol=1e-6)
