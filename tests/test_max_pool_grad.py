"""MaxPoolGrad against a numpy loop of its rule: each window's gradient goes to the first cell (row-major)
holding the window's maximum (ties: the first). Windows that tile the image take a one-pass path (no
zeroing, no scatter); the others keep the general one, and cells outside every window get 0."""

import numpy as np
import pytest

import pygraph as tf


def _oracle(x, dy, k, s, padding):
    n, h, w, c = x.shape
    oh, ow = dy.shape[1:3]
    pt = max((oh - 1) * s[0] + k[0] - h, 0) // 2 if padding == "SAME" else 0
    pl = max((ow - 1) * s[1] + k[1] - w, 0) // 2 if padding == "SAME" else 0
    dx = np.zeros_like(x)
    for b in range(n):
        for y in range(oh):
            for z in range(ow):
                cells = [(y * s[0] - pt + i, z * s[1] - pl + j) for i in range(k[0]) for j in range(k[1])
                         if 0 <= y * s[0] - pt + i < h and 0 <= z * s[1] - pl + j < w]
                for ch in range(c):
                    best, at = x[(b, *cells[0], ch)], cells[0]
                    for cell in cells[1:]:
                        if x[(b, *cell, ch)] > best:
                            best, at = x[(b, *cell, ch)], cell
                    dx[(b, *at, ch)] += dy[b, y, z, ch]
    return dx


@pytest.mark.parametrize("shape, k, s, padding", [
    ((2, 6, 8, 1), (2, 2), (2, 2), "VALID"),    # tiled, one channel
    ((2, 6, 8, 3), (2, 2), (2, 2), "SAME"),     # tiled: even sizes pad nothing
    ((1, 9, 6, 33), (3, 3), (3, 3), "VALID"),   # tiled, 3x3 windows, a tail of 33 channels
    ((1, 4, 4, 70), (2, 2), (2, 2), "VALID"),   # tiled, channels in two blocks of at most 64
    ((2, 7, 7, 3), (2, 2), (2, 2), "VALID"),    # the last row and column are in no window: 0
    ((1, 5, 5, 2), (2, 2), (2, 2), "SAME"),     # padded: the general path
])
def test_max_pool_grad_routes_to_the_first_maximum(shape, k, s, padding):
    rng = np.random.default_rng(sum(shape))
    x = rng.integers(0, 3, shape).astype(np.float32)  # many ties
    px = tf.placeholder(tf.float32, shape)
    y = tf.nn.max_pool(px, [1, *k, 1], [1, *s, 1], padding)
    pdy = tf.placeholder(tf.float32, y.shape)
    (dx,) = tf.gradients(y, [px], grad_ys=[pdy])
    dy = rng.standard_normal(tuple(y.shape.as_list())).astype(np.float32)
    with tf.Session() as sess:
        got = sess.run(dx, {px: x, pdy: dy})
    np.testing.assert_array_equal(got, _oracle(x, dy, k, s, padding))
