"""SparseSoftmaxCrossEntropyWithLogits as TF's op: values, gradient, names and the out-of-range label error."""

import re

import numpy as np
import pytest
from gradcheck import check_gradient

import pygraph as tf

RNG = np.random.default_rng(3)


def _reference(logits, labels):
    shifted = logits - logits.max(-1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return -np.take_along_axis(log_softmax, labels[..., None], -1)[..., 0]


def test_values_and_gradient_match_numpy_and_finite_differences():
    logits, labels = RNG.normal(size=(5, 4)) * 3, np.array([0, 3, 1, 1, 2])
    check_gradient(lambda x: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=x), [logits])
    x = tf.placeholder(tf.float32, (None, 4))
    y = tf.placeholder(tf.int64, None)  # the book's label placeholder: unknown rank
    xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=x)
    assert xent.op.type == "SparseSoftmaxCrossEntropyWithLogits"
    assert xent.op.name == "SparseSoftmaxCrossEntropyWithLogits/SparseSoftmaxCrossEntropyWithLogits"
    with tf.Session() as sess:
        got = sess.run(xent, {x: logits.astype(np.float32), y: labels})
    np.testing.assert_allclose(got, _reference(logits, labels), rtol=1e-5, atol=1e-6)  # float32 log-sum-exp


def test_higher_rank_logits_are_flattened_and_reshaped_back():
    logits, labels = RNG.normal(size=(2, 3, 4)), RNG.integers(0, 4, (2, 3))
    x = tf.placeholder(tf.float64, (2, None, 4))
    y = tf.placeholder(tf.int32, (2, None))
    xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=x)
    grad = tf.gradients(tf.reduce_sum(xent), x)[0]
    with tf.Session() as sess:
        got, g = sess.run([xent, grad], {x: logits, y: labels})
    np.testing.assert_allclose(got, _reference(logits, labels), rtol=1e-12)
    e = np.exp(logits - logits.max(-1, keepdims=True))
    np.testing.assert_allclose(g, e / e.sum(-1, keepdims=True) - np.eye(4)[labels], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("bad", [10, -1])
def test_out_of_range_label_fails_like_tf(bad):
    x = tf.placeholder(tf.float32, (None, 10))
    y = tf.placeholder(tf.int64, None)
    loss = tf.losses.sparse_softmax_cross_entropy(labels=y, logits=x)
    with tf.Session() as sess:
        sess.run(loss, {x: np.zeros((4, 10), np.float32), y: [1, 2, 9, 3]})
        with pytest.raises(tf.errors.InvalidArgumentError) as e:
            sess.run(loss, {x: np.zeros((4, 10), np.float32), y: [1, 2, bad, 3]})
    text = str(e.value)
    assert text.startswith(f"Received a label value of {bad} which is outside the valid range of [0, 10).  "
                           f"Label values: 1 2 {bad} 3")
    assert re.search(r"node sparse_softmax_cross_entropy_loss/xentropy/xentropy \(defined at .*test_sparse_xent\.py",
                     text), text


def test_second_derivative_is_refused_as_in_tf():
    x = tf.placeholder(tf.float64, (2, 3))
    xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 1], logits=x)
    with pytest.raises(LookupError, match="no way to take the second derivative"):
        tf.gradients(xent.op.outputs[1], x)
