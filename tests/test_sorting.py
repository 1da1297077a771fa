"""tf.nn.top_k, tf.sort, tf.argsort against numpy's stable sorts (equal values keep index order, as TF
documents), TopKV2's two outputs, its errors, and its gradient against finite differences."""

import numpy as np
import pytest
from gradcheck import check_gradient

import pygraph as tf

RNG = np.random.default_rng(3)


def test_top_k_sort_argsort_match_numpy():
    xf = np.round(RNG.standard_normal((4, 3, 7)), 1)  # rounded: ties
    xi = RNG.integers(-3, 4, (5, 6)).astype(np.int32)
    pf, pi = tf.placeholder(tf.float64, (None, 3, 7)), tf.placeholder(tf.int32, (None, None))
    vf, if_ = tf.nn.top_k(pf, 4)
    vi, ii = tf.nn.top_k(pi, k=6)
    assert vf.op.type == "TopKV2" and if_.dtype == tf.int32 and vf.shape.as_list() == [None, 3, 4]
    outs = [vf, if_, vi, ii, tf.sort(pf), tf.sort(pf, axis=1, direction="DESCENDING"), tf.argsort(pf),
            tf.argsort(tf.reshape(pf, (4, 3, 7)), axis=0, direction="DESCENDING"), tf.nn.top_k(pi, 0)[0]]
    with tf.Session() as sess:
        got = sess.run(outs, {pf: xf, pi: xi})
    down = np.argsort(-xf, axis=-1, kind="stable")
    down_i = np.argsort(-xi, axis=-1, kind="stable")
    want = [np.take_along_axis(xf, down[..., :4], -1), down[..., :4], np.take_along_axis(xi, down_i, -1), down_i,
            np.sort(xf, -1), -np.sort(-xf, axis=1), np.argsort(xf, -1, kind="stable"),
            np.argsort(-xf, axis=0, kind="stable"), np.zeros((5, 0), np.int32)]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert got[1].dtype == np.int32 and got[2].dtype == np.int32


def test_top_k_errors():
    with pytest.raises(ValueError, match="at least k columns. Had 3, needed 4"):
        tf.nn.top_k(tf.zeros((2, 3)), 4)
    with pytest.raises(TypeError, match="bool"):
        tf.nn.top_k(tf.zeros((2, 3), tf.bool), 1)
    x = tf.placeholder(tf.float32, (None, None))
    v, _ = tf.nn.top_k(x, 2)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="at least k columns"):
            sess.run(v, {x: np.zeros((2, 1), np.float32)})


def test_top_k_gradient_goes_to_the_picked_entries():
    x = RNG.permutation(18).reshape(3, 6) / 5.0  # distinct: the selection is locally constant
    check_gradient(lambda a: tf.nn.top_k(a, 3)[0], [x], shapes=[(None, 6)])
    check_gradient(lambda a: tf.sort(a, direction="ASCENDING"), [x])
