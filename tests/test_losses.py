"""tf.losses against numpy: every loss's elementwise formula, every Reduction with scalar, per-row and
per-element weights (zeros included), the LOSSES collection, regularization and total losses, names."""

import numpy as np
import pytest

import pygraph as tf

RNG = np.random.default_rng(5)
R = tf.losses.Reduction


def np_reduce(losses, weights, reduction):
    weighted = losses * weights
    full_w = np.broadcast_to(weights, losses.shape)
    if reduction == R.NONE:
        return weighted
    total = weighted.sum()
    denominator = {R.SUM: 1.0, R.MEAN: full_w.sum(), R.SUM_OVER_BATCH_SIZE: losses.size,
                   R.SUM_BY_NONZERO_WEIGHTS: np.count_nonzero(full_w)}[reduction]
    return total / denominator if denominator else 0.0


def np_log_softmax(x):
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def test_every_loss_and_reduction_matches_numpy():
    labels = RNG.uniform(0, 1, (6, 3)).astype(np.float32)
    preds = RNG.uniform(0.05, 0.95, (6, 3)).astype(np.float32) * 3 - 1
    probs = RNG.uniform(0.05, 0.95, (6, 3)).astype(np.float32)
    classes = RNG.integers(0, 3, 6)
    onehot = np.eye(3, dtype=np.float32)[classes]
    err = preds - labels
    sig = 1 / (1 + np.exp(-preds.astype(np.float64)))
    eps = 1e-7
    elementwise = {
        "mse": (lambda **kw: tf.losses.mean_squared_error(labels, preds, **kw), err ** 2),
        "abs": (lambda **kw: tf.losses.absolute_difference(labels, preds, **kw), np.abs(err)),
        "huber": (lambda **kw: tf.losses.huber_loss(labels, preds, delta=0.3, **kw),
                  np.where(np.abs(err) <= 0.3, 0.5 * err ** 2, 0.5 * 0.09 + 0.3 * (np.abs(err) - 0.3))),
        "log": (lambda **kw: tf.losses.log_loss(labels, probs, **kw),
                -labels * np.log(probs + eps) - (1 - labels) * np.log(1 - probs + eps)),
        "hinge": (lambda **kw: tf.losses.hinge_loss(np.round(labels), preds, **kw),
                  np.maximum(0, 1 - (2 * np.round(labels) - 1) * preds)),
        "sigmoid": (lambda **kw: tf.losses.sigmoid_cross_entropy(labels, preds, **kw),
                    -labels * np.log(sig) - (1 - labels) * np.log(1 - sig)),
    }
    rowwise = {
        "softmax": (lambda **kw: tf.losses.softmax_cross_entropy(onehot, preds, **kw),
                    -np_log_softmax(preds.astype(np.float64))[np.arange(6), classes]),
        "sparse": (lambda **kw: tf.losses.sparse_softmax_cross_entropy(classes, preds, **kw),
                   -np_log_softmax(preds.astype(np.float64))[np.arange(6), classes]),
    }
    unit_l, unit_p = (a / np.linalg.norm(a, axis=1, keepdims=True) for a in (labels, preds))
    unit_l, unit_p = (a / np.linalg.norm(a, axis=1, keepdims=True) for a in (labels, preds))
    w_elem = RNG.uniform(0, 2, (6, 3)).astype(np.float32)
    w_elem[0, 1] = w_elem[4, :] = 0.0
    w_row = np.array([[1.0], [0.0], [2.0], [0.5], [0.0], [3.0]], np.float32)
    reductions = sorted(set(R.all()))
    cases = []  # the reduction is loss-independent: every reduction and weighting for one loss, then each
    for weights in (1.0, 2.5, w_row, w_elem):  # loss's own formula unreduced, and by the default reduction
        build, want = elementwise["mse"]
        cases += [(f"mse-{r}-{np.shape(weights)}", build(weights=weights, reduction=r), np_reduce(want, weights, r))
                  for r in reductions]
    for name, (build, want) in elementwise.items():
        cases += [(f"{name}-none", build(weights=w_elem, reduction=R.NONE), want * w_elem),
                  (f"{name}-default", build(weights=w_row), np_reduce(want, w_row, R.SUM_BY_NONZERO_WEIGHTS))]
    w_vec = w_row[:, 0]
    for name, (build, want) in rowwise.items():
        cases += [(f"{name}-none", build(reduction=R.NONE), want),
                  (f"{name}-default", build(weights=w_vec), np_reduce(want, w_vec, R.SUM_BY_NONZERO_WEIGHTS))]
    cosine = 1 - np.sum(unit_l * unit_p, axis=1, keepdims=True)  # per row, the reduced axis kept
    cases += [("cosine-none", tf.losses.cosine_distance(unit_l, unit_p, axis=1, reduction=R.NONE), cosine),
              ("cosine-default", tf.losses.cosine_distance(unit_l, unit_p, axis=1, weights=w_row),
               np_reduce(cosine, w_row, R.SUM_BY_NONZERO_WEIGHTS))]
    with tf.Session() as sess:
        got = sess.run([t for _, t, _ in cases])
    for (label, _, want), value in zip(cases, got):
        np.testing.assert_allclose(value, want, rtol=2e-5, atol=1e-6, err_msg=label)
    assert len(tf.get_collection(tf.GraphKeys.LOSSES)) == len(cases)


def test_zero_weights_give_zero_not_nan_and_gradients_are_finite():
    x = tf.placeholder(tf.float32, (None, 2))
    loss = tf.losses.mean_squared_error(tf.zeros_like(x), x, weights=tf.zeros_like(x))
    (g,) = tf.gradients(loss, x)
    mean = tf.losses.mean_squared_error(tf.zeros_like(x), x)
    (gm,) = tf.gradients(mean, x)
    v = np.array([[1.0, -2.0], [3.0, 0.5]], np.float32)
    with tf.Session() as sess:
        lv, gv, gmv = sess.run([loss, g, gm], {x: v})
    assert lv == 0.0 and np.array_equal(gv, np.zeros_like(v))
    np.testing.assert_allclose(gmv, 2 * v / v.size, rtol=1e-6)


def test_names_collections_total_loss_and_errors():
    preds = tf.placeholder(tf.float32, (None, 3), name="preds")
    mse = tf.losses.mean_squared_error(tf.ones_like(preds), preds)
    assert mse.op.name == "mean_squared_error/value"
    sparse = tf.losses.sparse_softmax_cross_entropy(tf.placeholder(tf.int64, (None, 1)), preds, scope="xent")
    assert sparse.op.name.startswith("xent/") and sparse.shape.ndims == 0
    unlisted = tf.losses.absolute_difference(tf.ones_like(preds), preds, loss_collection=None)
    assert tf.losses.get_losses() == [mse, sparse] and unlisted not in tf.get_collection(tf.GraphKeys.LOSSES)
    assert tf.losses.get_regularization_loss().op.type == "Const"
    reg = tf.reduce_sum(tf.square(preds)) * 0.1
    tf.add_to_collection(tf.GraphKeys.REGULARIZATION_LOSSES, reg)
    total = tf.losses.get_total_loss()
    assert total.op.name == "total_loss"
    feed = {preds: np.array([[0.5, 1.0, 2.0]], np.float32), "Placeholder:0": [[2]]}
    with tf.Session() as sess:
        t, parts = sess.run(total, feed), sess.run([mse, sparse, reg], feed)
        assert sess.run(tf.losses.get_regularization_loss(), feed) == pytest.approx(parts[2])
    assert t == pytest.approx(sum(parts), rel=1e-6)
    with pytest.raises(ValueError, match="weights can not be broadcast"):
        tf.losses.mean_squared_error(tf.ones([4, 3]), tf.ones([4, 3]), weights=tf.ones([4]))
    with pytest.raises(ValueError, match="Invalid Reduction Key"):
        tf.losses.mean_squared_error(tf.ones([4]), tf.ones([4]), reduction="mean")
    with pytest.raises(ValueError, match="labels must not be None"):
        tf.losses.log_loss(None, preds)


def test_label_smoothing():
    logits = RNG.normal(size=(4, 5)).astype(np.float32)
    onehot = np.eye(5, dtype=np.float32)[[0, 3, 1, 1]]
    binary = RNG.integers(0, 2, (4, 5)).astype(np.float32)
    with tf.Session() as sess:
        soft, sig = sess.run([tf.losses.softmax_cross_entropy(onehot, logits, label_smoothing=0.2, reduction=R.NONE),
                              tf.losses.sigmoid_cross_entropy(binary, logits, label_smoothing=0.2)])
    smooth = onehot * 0.8 + 0.2 / 5
    np.testing.assert_allclose(soft, -(smooth * np_log_softmax(logits.astype(np.float64))).sum(-1), rtol=1e-5)
    z = binary * 0.8 + 0.1
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    np.testing.assert_allclose(sig, np.mean(-z * np.log(p) - (1 - z) * np.log(1 - p)), rtol=1e-5)
