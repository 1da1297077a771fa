"""tf.nn softmax and cross-entropy losses against numpy, with gradients against finite differences."""

import numpy as np
import pytest
from gradcheck import check_gradient

import pygraph as tf

RNG = np.random.default_rng(3)
LOGITS = (RNG.standard_normal((6, 5)) * 20).astype(np.float32)  # large: a naive exp() would overflow
LABELS = np.array([0, 4, 2, 2, 1, 3], np.int32)


def np_log_softmax(x):
    x = x.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def test_softmax_log_softmax_and_losses_match_numpy():
    logits = tf.placeholder(tf.float32, (None, 5))
    labels = tf.placeholder(tf.int32, (None,))
    dense = tf.placeholder(tf.float32, (None, 5))
    fetches = [tf.nn.softmax(logits), tf.nn.log_softmax(logits),
               tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits),
               tf.nn.softmax_cross_entropy_with_logits_v2(labels=dense, logits=logits)]
    onehot = np.eye(5, dtype=np.float32)[LABELS]
    with tf.Session() as sess:
        sm, lsm, sparse, full = sess.run(fetches, {logits: LOGITS, labels: LABELS, dense: onehot})
    want = np_log_softmax(LOGITS)
    np.testing.assert_allclose(lsm, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(sm, np.exp(want), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(sparse, -want[np.arange(6), LABELS], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(full, -want[np.arange(6), LABELS], rtol=1e-5, atol=1e-5)
    assert fetches[0].op.name == "Softmax" and fetches[2].op.name == (  # TF1 names it so
        "SparseSoftmaxCrossEntropyWithLogits/SparseSoftmaxCrossEntropyWithLogits")


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    onehot = np.eye(5)[LABELS]
    check_gradient(lambda x: tf.nn.softmax_cross_entropy_with_logits_v2(labels=tf.constant(onehot), logits=x),
                   [LOGITS.astype(np.float64) / 10])
    check_gradient(lambda x: tf.nn.softmax(x), [LOGITS.astype(np.float64) / 10])
    check_gradient(lambda x: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant(LABELS), logits=x),
                   [LOGITS.astype(np.float64) / 10], shapes=[(None, 5)])


def test_losses_want_named_arguments_and_known_classes():
    with pytest.raises(ValueError, match="named arguments"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(tf.constant([1]), tf.constant([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="number of classes"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.placeholder(tf.int32, (None,)),
                                                       logits=tf.placeholder(tf.float32, (None, None)))
