"""Conv2D's column matrix (im2col) across the geometries where a window row is copied whole, partly padded or
entirely outside the image: 1 and 3 channels (the copy is a few elements), filters wider than the image,
strides above the filter size. Oracle: test_conv's naive loops of TF's documented padding rule, in float64;
the filter gradient (which builds the same columns) against finite differences."""

import numpy as np
import pytest
from gradcheck import check_gradient
from test_conv import naive

import pygraph as tf

GEOMETRIES = [  # (image h, w), (filter kh, kw), strides, padding
    ((28, 28), (3, 3), (1, 1), "SAME"),
    ((5, 4), (3, 5), (1, 1), "SAME"),    # filter wider than the image: no column is inside
    ((9, 8), (2, 3), (3, 3), "SAME"),    # stride above the filter
    ((7, 9), (3, 2), (2, 1), "VALID"),
    ((6, 7), (1, 4), (1, 2), "SAME"),
]


@pytest.mark.parametrize("channels", [1, 3])
def test_conv_forward_across_geometries(channels):
    rng = np.random.default_rng(channels)
    outs, want = [], []
    feeds = {}
    for (h, w), (kh, kw), strides, padding in GEOMETRIES:
        x = rng.standard_normal((2, h, w, channels))
        f = rng.standard_normal((kh, kw, channels, 2))
        px = tf.placeholder(tf.float64, (None, h, w, channels))
        feeds[px] = x
        outs.append(tf.nn.conv2d(px, f, [1, *strides, 1], padding))
        want.append(naive("conv", x, f, strides, padding))
    with tf.Session() as sess:
        got = sess.run(outs, feeds)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("geometry", [GEOMETRIES[1], GEOMETRIES[2]])
def test_conv_filter_gradient_across_geometries(geometry):
    (h, w), (kh, kw), strides, padding = geometry
    rng = np.random.default_rng(h * w)
    x = rng.standard_normal((2, h, w, 1))
    f = rng.standard_normal((kh, kw, 1, 2))
    check_gradient(lambda a, b: [tf.nn.conv2d(a, b, [1, *strides, 1], padding)], [x, f], rtol=1e-6, atol=1e-8)


def _filter_gradient(x, dy, kh, kw):
    """SAME, stride 1: df[i, j, c, o] = sum over images and pixels of x_padded[b, y + i, x + j, c] dy[b, y, x, o]."""
    h, w = x.shape[1:3]
    pt, pl = (kh - 1) // 2, (kw - 1) // 2
    xp = np.pad(x, ((0, 0), (pt, kh - 1 - pt), (pl, kw - 1 - pl), (0, 0)))
    return np.stack([np.stack([np.einsum("byxc,byxo->co", xp[:, i:i + h, j:j + w], dy) for j in range(kw)])
                     for i in range(kh)])


@pytest.mark.parametrize("batch", [3, 460])  # 460 images of 8x8x16 overflow one column chunk (4M elements)
def test_filter_gradient_reads_the_forward_columns_or_rebuilds_them(batch):
    """With the Conv2D in the same program, Conv2DBackpropFilter reuses its column matrix when the batch was
    one chunk; either way the gradient is the same as without the forward pass."""
    rng = np.random.default_rng(batch)
    x = rng.standard_normal((batch, 8, 8, 16)).astype(np.float32)
    f = rng.standard_normal((3, 3, 16, 4)).astype(np.float32)
    dy = rng.standard_normal((batch, 8, 8, 4)).astype(np.float32)
    px, pdy = tf.placeholder(tf.float32, (None, 8, 8, 16)), tf.placeholder(tf.float32, (None, 8, 8, 4))
    y = tf.nn.conv2d(px, tf.constant(f), [1, 1, 1, 1], "SAME")
    (df,) = tf.gradients(y, [y.op.inputs[1]], grad_ys=[pdy])
    with tf.Session() as sess:
        got_y, with_forward = sess.run([y, df], {px: x, pdy: dy})
        alone = sess.run(df, {px: x, pdy: dy})
    want = _filter_gradient(x.astype(np.float64), dy.astype(np.float64), 3, 3)
    np.testing.assert_allclose(with_forward, want, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(alone, want, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(got_y[:2], naive("conv", x[:2], f, (1, 1), "SAME"), rtol=1e-4, atol=1e-4)
