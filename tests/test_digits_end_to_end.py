"""End to end, as chapter 11 writes it: an MLP on scikit-learn's bundled 8x8 digits (no download) with
tf.layers.dense + ELU + batch normalization + dropout, Adam with an exponentially decaying learning rate
and the batch-norm update ops as control dependencies; trained to > 0.9 held-out accuracy, saved with
Saver and restored into a fresh session giving the same predictions."""

import numpy as np
from sklearn.datasets import load_digits

import pygraph as tf


def _build(n_inputs):
    X = tf.placeholder(tf.float32, shape=(None, n_inputs), name="X")
    y = tf.placeholder(tf.int64, shape=(None), name="y")  # the book's unknown-rank labels
    training = tf.placeholder_with_default(False, shape=(), name="training")
    he_init = tf.variance_scaling_initializer(scale=2.0, seed=1)
    h = X
    for k, units in enumerate((64, 32), start=1):
        h = tf.layers.dense(h, units, name=f"hidden{k}", kernel_initializer=he_init)
        h = tf.nn.elu(tf.layers.batch_normalization(h, training=training, momentum=0.9))
        h = tf.layers.dropout(h, rate=0.1, training=training, seed=k)
    logits = tf.layers.dense(h, 10, name="outputs", kernel_initializer=he_init)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    global_step = tf.Variable(0, trainable=False, name="global_step")
    learning_rate = tf.train.exponential_decay(0.01, global_step, 100, 0.9)
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train_op = tf.train.AdamOptimizer(learning_rate).minimize(loss, global_step=global_step)
    correct = tf.nn.in_top_k(logits, y, 1)
    accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
    return X, y, training, logits, train_op, accuracy, global_step


def test_digits_mlp_trains_saves_and_restores(tmp_path):
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    train, test = order[:1400], order[1400:]
    X, y, training, logits, train_op, accuracy, global_step = _build(x.shape[1])
    names = [v.op.name for v in tf.global_variables()]
    assert names[:6] == ["hidden1/kernel", "hidden1/bias", "batch_normalization/gamma", "batch_normalization/beta",
                         "batch_normalization/moving_mean", "batch_normalization/moving_variance"]
    saver = tf.train.Saver()
    rng = np.random.default_rng(1)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        before = sess.run(accuracy, {X: x[test], y: labels[test]})
        for _ in range(300):
            batch = rng.choice(train, 50, replace=False)
            sess.run(train_op, {X: x[batch], y: labels[batch], training: True})
        assert sess.run(global_step) == 300
        acc = sess.run(accuracy, {X: x[test], y: labels[test]})
        assert acc > 0.9, (before, acc)
        moving_mean = sess.run("batch_normalization/moving_mean:0")
        assert np.abs(moving_mean).max() > 0.01  # the update ops ran
        path = saver.save(sess, str(tmp_path / "digits.ckpt"))
        predictions = sess.run(logits, {X: x[test]})
    with tf.Session() as sess:
        saver.restore(sess, path)
        np.testing.assert_array_equal(sess.run(logits, {X: x[test]}), predictions)
        assert sess.run(accuracy, {X: x[test], y: labels[test]}) == acc
