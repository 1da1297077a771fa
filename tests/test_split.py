"""tf.split (Split for an int, SplitV for sizes): values against numpy's np.split, gradients against finite
differences (one concat of the outputs' gradients, zeros for unused outputs, as TF's _SplitGrad), and TF1's
construction errors."""

from __future__ import annotations

import numpy as np
import pytest

import pygraph as tf
from tests.gradcheck import check_gradient


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


@pytest.mark.parametrize("num_or_sizes, axis", [(4, 1), (2, 0), (3, -1), ([5, 1, 2], 1), ([2, -1, 3], -1),
                                                ([0, 4, 0], 0), ([4, 4], 1), (1, 2)])
def test_split_values_match_numpy(num_or_sizes, axis):
    shape = (4, 8, 6)
    xv = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    x = tf.placeholder(tf.float32, shape)
    parts = tf.split(x, num_or_sizes, axis=axis)
    if isinstance(num_or_sizes, int):
        want = np.split(xv, num_or_sizes, axis)
        assert all(p.op.type == "Split" for p in parts)
    else:
        sizes = list(num_or_sizes)
        if -1 in sizes:
            sizes[sizes.index(-1)] = shape[axis] - (sum(sizes) + 1)
        want = np.split(xv, np.cumsum(sizes)[:-1], axis)
        assert all(p.op.type == "SplitV" for p in parts)
    got = _run(parts, {x: xv})
    assert len(got) == len(want)
    for p, g, w in zip(parts, got, want):
        assert tuple(p.shape.as_list()) == w.shape
        np.testing.assert_array_equal(g, w)


def test_split_gradient_matches_finite_differences():
    xv = np.random.default_rng(1).normal(size=(3, 12))

    def build(x):
        a, b, c, d = tf.split(x, 4, axis=1)
        p, _, q = tf.split(x, [2, -1, 5], 1)  # the middle output unused: zeros in its place
        return [a * b, tf.tanh(d), p * 3.0, q * q, c]

    grads = check_gradient(build, [xv])
    assert grads[0] is not None


def test_split_gradient_is_one_concat():
    x = tf.placeholder(tf.float32, [2, 8])
    a, _, _, d = tf.split(x, 4, axis=1)
    (g,) = tf.gradients(tf.reduce_sum(a) + tf.reduce_sum(d * 2.0), [x])
    assert g.op.type == "ConcatV2"
    got = _run(g, {x: np.zeros((2, 8), np.float32)})
    np.testing.assert_array_equal(got, np.array([[1, 1, 0, 0, 0, 0, 2, 2]] * 2, np.float32))


def test_split_errors_as_tf():
    x = tf.placeholder(tf.float32, [3, 10])
    with pytest.raises(ValueError, match="Dimension size must be evenly divisible by 3 but is 10"):
        tf.split(x, 3, axis=1)
    with pytest.raises(ValueError, match=r"Dimension must be in range \[-2, 2\) but is 2"):
        tf.split(x, 2, axis=2)
    with pytest.raises(ValueError, match="Determined shape must either match input shape along split_dim exactly"):
        tf.split(x, [3, 4], axis=1)
    with pytest.raises(ValueError, match="Determined shape must either match input shape along split_dim exactly"):
        tf.split(x, [8, -1, 4], axis=1)
    with pytest.raises(ValueError, match="Only one dimensions can have a value of -1"):
        tf.split(x, [-1, 4, -1], axis=1)
    with pytest.raises(ValueError, match="Rank-0 tensors are not supported"):
        tf.split(x, np.array(2), axis=1)
    with pytest.raises(ValueError, match="must be at least minimum 1"):
        tf.split(x, 0, axis=1)
