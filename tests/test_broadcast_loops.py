"""Fused elementwise loops whose inputs broadcast along outer dims (a bias over NHWC channels, a mask with one
channel): the loop runs rows of the innermost dim with each input's step known at build time, in chunks on
the thread pool that start mid-row-sequence. bool values are loaded and stored in the same loops. Oracles:
numpy in float32 (the ops here are exactly rounded, so results must agree bit for bit)."""

import numpy as np
import pytest

import pygraph as tf


def _run(build, feeds):
    g = tf.Graph()
    with g.as_default():
        placeholders, outputs = build()
    with tf.Session(graph=g) as sess:
        return sess.run(outputs, {placeholders[k]: v for k, v in feeds.items()})


@pytest.mark.parametrize("channels", [1, 3, 32, 33])
@pytest.mark.parametrize("batch", [2, 41])  # 41 * 20 * 20 rows: several thread-pool chunks
def test_bias_relu_and_relu_mask_over_nhwc_channels(channels, batch):
    def build():
        x = tf.placeholder(tf.float32, (None, 20, 20, channels), name="x")
        b = tf.placeholder(tf.float32, (channels,), name="b")
        g = tf.placeholder(tf.float32, (None, 20, 20, channels), name="g")
        z = tf.nn.bias_add(x, b)
        act = tf.nn.relu(z)
        mask = tf.greater(act, 0.0)
        return {"x": x, "b": b, "g": g}, [act, mask, tf.where(mask, g, tf.zeros_like(g)), z * b - x]

    rng = np.random.default_rng(channels * 100 + batch)
    x = rng.standard_normal((batch, 20, 20, channels)).astype(np.float32)
    b = rng.standard_normal(channels).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    act, mask, routed, other = _run(build, {"x": x, "b": b, "g": g})
    want = np.maximum(x + b, np.float32(0))
    np.testing.assert_array_equal(act, want)
    assert mask.dtype == np.bool_
    np.testing.assert_array_equal(mask, want > 0)
    np.testing.assert_array_equal(routed, np.where(want > 0, g, np.float32(0)))
    np.testing.assert_array_equal(other, (x + b) * b - x)


@pytest.mark.parametrize("shape_a, shape_b", [
    ((37, 5, 7, 1), (37, 5, 7, 33)),   # a single channel against 33: step 0 along the inner dim
    ((37, 1, 7, 33), (37, 5, 7, 33)),  # broadcast in a middle dim: the row offsets rewind each image
    ((1, 5, 1, 3), (300, 5, 7, 3)),    # outer dims 0 and 2 broadcast, inner tail of 3
    ((5, 1, 1), (300, 1, 7, 1)),       # both inputs broadcast, rank 3 against rank 4
])
def test_outer_dim_broadcasts_against_numpy(shape_a, shape_b):
    def build():
        a = tf.placeholder(tf.float32, (None,) + shape_a[1:], name="a")
        b = tf.placeholder(tf.float32, (None,) + shape_b[1:], name="b")
        return {"a": a, "b": b}, [a * b + a, tf.where(a > b, a, b), tf.logical_and(a > 0, b < 0)]

    rng = np.random.default_rng(len(shape_a) + shape_b[0])
    a = rng.standard_normal(shape_a).astype(np.float32)
    b = rng.standard_normal(shape_b).astype(np.float32)
    got = _run(build, {"a": a, "b": b})
    want = [a * b + a, np.where(a > b, a, b), np.logical_and(a > 0, b < 0)]
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


def test_bias_relu_gradients_match_numpy():
    """The fused ReLU mask and its Select in the backward pass, against the hand-derived gradient."""
    def build():
        x = tf.placeholder(tf.float32, (None, 6, 6, 33), name="x")
        w = tf.placeholder(tf.float32, (None, 6, 6, 33), name="w")
        b = tf.Variable(np.linspace(-1, 1, 33).astype(np.float32), name="b")
        loss = tf.reduce_sum(tf.nn.relu(tf.nn.bias_add(x, b)) * w)
        gx, gb = tf.gradients(loss, [x, b])
        return {"x": x, "w": w, "b": b, "init": b.initializer}, [gx, gb]

    rng = np.random.default_rng(3)
    x = rng.standard_normal((9, 6, 6, 33)).astype(np.float32)
    w = rng.standard_normal(x.shape).astype(np.float32)
    b = np.linspace(-1, 1, 33).astype(np.float32)
    g = tf.Graph()
    with g.as_default():
        ph, outs = build()
    with tf.Session(graph=g) as sess:
        sess.run(ph["init"])
        gx, gb = sess.run(outs, {ph["x"]: x, ph["w"]: w})
    on = (x + b) > 0
    np.testing.assert_array_equal(gx, np.where(on, w, np.float32(0)))
    np.testing.assert_allclose(gb, np.where(on, w, 0).astype(np.float64).sum(axis=(0, 1, 2)), rtol=1e-5,
                               atol=1e-5)
