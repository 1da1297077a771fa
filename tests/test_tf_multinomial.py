"""tf.multinomial / tf.random.categorical draw TensorFlow's numbers, bit for bit (tests/fixtures/tf_random.npz,
written by tests/fixtures/make_tf_random.py under TensorFlow 2.21), and their distribution is the softmax.

TF's CPU kernel splits the batch over its threads only when Eigen's cost model says it pays; each split
starts its rows at a counter offset of its own, so a large batch's numbers in TF depend on TF's thread
count. The fixtures hold the single-split stream, which TF draws for small problems on any thread count
and for large ones with one intra-op thread; pygraph always draws that stream (README)."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.random_cases import multinomial, multinomial_large
from test_tf_random import FIXTURE, check_case

import pygraph as tf


@pytest.fixture(scope="module")
def tf_values():
    with np.load(FIXTURE) as data:
        return {k: data[k] for k in data.files}


def test_tf_numbers_names_and_repeated_runs(tf_values):
    check_case(tf_values, "multinomial", multinomial)


def test_large_batch_matches_tf_single_threaded(tf_values):
    check_case(tf_values, "multinomial_large", multinomial_large)


def test_frequencies_follow_the_softmax_and_fed_sample_counts():
    logits = tf.placeholder(tf.float64, [None, 3])
    n = tf.placeholder(tf.int32, [])
    draws = tf.multinomial(logits, n, seed=11)
    p = np.array([[0.2, 0.5, 0.3], [0.9, 0.05, 0.05]])
    with tf.Session() as sess:
        out = sess.run(draws, {logits: np.log(p) + 3.0, n: 20000})
        assert out.shape == (2, 20000) and out.dtype == np.int64
        freq = np.stack([np.bincount(row, minlength=3) / 20000 for row in out])
        np.testing.assert_allclose(freq, p, atol=0.015)
        assert sess.run(draws, {logits: np.log(p), n: 0}).shape == (2, 0)
        with pytest.raises(tf.errors.InvalidArgumentError, match="num_samples should be non-negative, got -2"):
            sess.run(draws, {logits: np.log(p), n: -2})


def test_construction_errors():
    with pytest.raises(ValueError, match="logits should be a matrix"):
        tf.multinomial([1.0, 2.0], 3)
    # TF 2.21's random_ops.multinomial_categorical_impl, word for word (a ValueError, not the op def's TypeError)
    for call in (lambda: tf.multinomial([[1.0, 2.0]], 3, output_dtype=tf.float32),
                 lambda: tf.random.categorical([[1.0, 2.0]], 3, dtype="float32")):
        with pytest.raises(ValueError) as e:
            call()
        assert str(e.value) == ("Argument `dtype` got invalid value <dtype: 'float32'>. Accepted dtypes are "
                                "(tf.int32, tf.int64).")
    with pytest.raises(ValueError, match="num_samples should be non-negative"):
        tf.random.categorical([[1.0, 2.0]], -1)
    assert tf.gradients(tf.cast(tf.multinomial(tf.constant([[1.0, 2.0]]), 2), tf.float32), []) == []
