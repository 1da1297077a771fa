"""tf.nn / tf.* composites (reductions, normalisation, clipping, in_top_k, the sigmoid cross-entropies,
dropout, embedding_lookup) against numpy, with gradients against finite differences."""

import numpy as np
import pytest
from gradcheck import check_gradient

import pygraph as tf

RNG = np.random.default_rng(11)


def test_boolean_reductions_and_count_nonzero():
    b = np.array([[True, False, True], [False, False, False]])
    f = np.array([[0.0, 1.5, -2.0], [0.0, 0.0, 3.0]])
    pb, pf = tf.placeholder(tf.bool, (None, 3)), tf.placeholder(tf.float64, (None, 3))
    outs = [tf.reduce_any(pb), tf.reduce_any(pb, axis=1), tf.reduce_all(pb, 0), tf.reduce_all(pb, 1, keepdims=True),
            tf.count_nonzero(pf), tf.count_nonzero(pf, axis=0), tf.count_nonzero(pb, 1, dtype=tf.int32),
            tf.reduce_any(pb, axis=0), tf.reduce_all(pb)]
    with tf.Session() as sess:
        got = sess.run(outs, {pb: b, pf: f})
        empty = sess.run([tf.reduce_any(pb, 0), tf.reduce_all(pb, 0)], {pb: np.zeros((0, 3), bool)})
    want = [b.any(), b.any(1), b.all(0), b.all(1, keepdims=True), np.count_nonzero(f), np.count_nonzero(f, 0),
            np.count_nonzero(b, 1), b.any(0), b.all()]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert got[4].dtype == np.int64 and got[6].dtype == np.int32 and got[0].dtype == np.bool_
    np.testing.assert_array_equal(empty[0], [False] * 3)  # or over nothing
    np.testing.assert_array_equal(empty[1], [True] * 3)  # and over nothing


def np_logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):  # log(0) = -inf for an all -inf row, as wanted
        r = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return r if keepdims else np.squeeze(r, axis=axis)


def test_logsumexp_l2_and_moments_match_numpy():
    x = RNG.normal(size=(4, 5)) * 300  # exp() of these overflows without the shift
    x[3] = -np.inf
    p = tf.placeholder(tf.float64, (None, 5))
    outs = [tf.reduce_logsumexp(p, 1), tf.reduce_logsumexp(p[:3]), tf.reduce_logsumexp(p, 0, keepdims=True),
            tf.nn.l2_loss(p[:3]), tf.nn.l2_normalize(p[:3], axis=1), tf.nn.l2_normalize(p[:3] * 0.0, 0),
            *tf.nn.moments(p[:3], axes=[0]), *tf.nn.moments(p[:3], [0, 1], keep_dims=True)]
    with tf.Session() as sess:
        got = sess.run(outs, {p: x})
    f = x[:3]
    want = [np_logsumexp(x, 1), np_logsumexp(f), np_logsumexp(x, 0, True), np.sum(f ** 2) / 2,
            f / np.sqrt(np.sum(f ** 2, 1, keepdims=True)), np.zeros_like(f), f.mean(0), f.var(0),
            f.mean(keepdims=True), f.var(keepdims=True)]
    for k, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, rtol=1e-12, err_msg=str(k))
    assert got[0][3] == -np.inf
    assert outs[6].op.name == "moments/Squeeze" and outs[6].shape.as_list() == [5]


def test_batch_normalization_matches_numpy():
    x, mean, var = RNG.normal(size=(6, 3)), RNG.normal(size=3), RNG.uniform(0.5, 2, 3)
    offset, scale = RNG.normal(size=3), RNG.normal(size=3)
    with tf.Session() as sess:
        got = sess.run([tf.nn.batch_normalization(x, mean, var, offset, scale, 1e-3),
                        tf.nn.batch_normalization(x, mean, var, None, None, 1e-3)])
    np.testing.assert_allclose(got[0], (x - mean) / np.sqrt(var + 1e-3) * scale + offset, rtol=1e-12)
    np.testing.assert_allclose(got[1], (x - mean) / np.sqrt(var + 1e-3), rtol=1e-12)


def test_clip_by_norm_and_global_norm():
    a, b = RNG.normal(size=(3, 4)), RNG.normal(size=(5,))
    pa, pb = tf.placeholder(tf.float64, (3, 4)), tf.placeholder(tf.float64, (5,))
    clipped, norm = tf.clip_by_global_norm([pa, None, pb], 2.0)
    outs = [tf.clip_by_norm(pa, 1.0), tf.clip_by_norm(pa, 100.0), tf.clip_by_norm(pa, 0.5, axes=[1]),
            tf.clip_by_norm(pa * 0.0, 1.0), tf.global_norm([pa, pb]), norm, clipped[0], clipped[2]]
    with tf.Session() as sess:
        got = sess.run(outs, {pa: a, pb: b})
        huge = sess.run(clipped[0], {pa: a * np.inf, pb: b})
    n = np.sqrt(np.sum(a ** 2))
    rows = np.sqrt(np.sum(a ** 2, 1, keepdims=True))
    g = np.sqrt(np.sum(a ** 2) + np.sum(b ** 2))
    want = [a / n, a, a * 0.5 / np.maximum(rows, 0.5), np.zeros_like(a), g, g, a * 2 / max(g, 2), b * 2 / max(g, 2)]
    for k, (x, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(x, w, rtol=1e-12, err_msg=str(k))
    assert clipped[1] is None and np.isnan(huge).all()  # an infinite norm poisons every output, as TF
    assert clipped[0].op.name == "clip_by_global_norm/clip_by_global_norm/_0"
    assert norm.op.name == "global_norm/global_norm"
    with pytest.raises(TypeError, match="t_list should be a sequence"):
        tf.clip_by_global_norm(pa, 1.0)


def np_in_top_k(preds, targets, k):
    out = []
    for row, t in zip(preds, targets):
        if not (0 <= t < len(row)) or not np.isfinite(row).all():
            out.append(False)
        else:
            out.append(int(np.sum(row > row[t])) < k)
    return np.array(out)


def test_in_top_k_ties_nonfinite_and_range():
    preds = RNG.integers(0, 4, (40, 6)).astype(np.float32)  # many ties
    preds[3, 2] = np.nan
    preds[5, 0] = np.inf
    targets = RNG.integers(0, 6, 40).astype(np.int64)
    targets[7] = 6  # out of range
    p, t = tf.placeholder(tf.float32, (None, 6)), tf.placeholder(tf.int64, None)  # the book's unknown-rank labels
    k = tf.placeholder(tf.int32, ())
    ops = [tf.nn.in_top_k(p, t, 1), tf.nn.in_top_k(p, t, 3), tf.nn.in_top_k(p, t, k)]
    with tf.Session() as sess:
        got = sess.run(ops, {p: preds, t: targets, k: 2})
    for g, kk in zip(got, (1, 3, 2)):
        np.testing.assert_array_equal(g, np_in_top_k(preds, targets, kk))
    assert not got[1][[3, 5, 7]].any()
    assert ops[0].op.name == "in_top_k"


def test_labels_of_unknown_rank_take_their_shape_from_the_logits():
    logits = tf.placeholder(tf.float32, (None, 4))
    labels = tf.placeholder(tf.int64, shape=(None))  # the book's style: shape None, rank unknown
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    x = RNG.normal(size=(3, 4)).astype(np.float32)
    with tf.Session() as sess:
        got = sess.run(loss, {logits: x, labels: [3, 0, 1]})
    want = -np_log_softmax(x)[np.arange(3), [3, 0, 1]]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert loss.shape.as_list() == [None]


def np_log_softmax(x):
    x = x.astype(np.float64)
    return x - x.max(-1, keepdims=True) - np.log(np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True))


def test_sigmoid_cross_entropies_match_numpy_and_are_stable():
    x = np.concatenate([RNG.normal(size=8) * 3, [800.0, -800.0]])
    z = RNG.uniform(0, 1, 10)
    with tf.Session() as sess:
        s, w = sess.run([tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x),
                         tf.nn.weighted_cross_entropy_with_logits(targets=z, logits=x, pos_weight=3.0)])
        w2 = sess.run(tf.nn.weighted_cross_entropy_with_logits(labels=z, logits=x, pos_weight=3.0))
    np.testing.assert_array_equal(w2, w)
    sig = 1 / (1 + np.exp(-x[:8]))
    np.testing.assert_allclose(s[:8], -z[:8] * np.log(sig) - (1 - z[:8]) * np.log(1 - sig), rtol=1e-10)
    np.testing.assert_allclose(w[:8], -3 * z[:8] * np.log(sig) - (1 - z[:8]) * np.log(1 - sig), rtol=1e-10)
    np.testing.assert_allclose(s[8:], [800 * (1 - z[8]), 800 * z[9]], rtol=1e-12)  # finite far out
    with pytest.raises(ValueError, match="named arguments"):
        tf.nn.sigmoid_cross_entropy_with_logits(z, x)


def test_gradients_match_finite_differences():
    def build(a, b, c, d, e, mean, var, offset, scale):
        z = tf.constant(RNG.uniform(0, 1, (2, 3)))
        return [tf.reduce_logsumexp(a, 1), tf.nn.l2_loss(b), tf.nn.l2_normalize(c, 1), tf.nn.moments(d, [0])[1],
                tf.clip_by_norm(e, 1.0), tf.nn.batch_normalization(a, mean, var, offset, scale, 1e-3),
                tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=b),
                tf.nn.weighted_cross_entropy_with_logits(z, c, 2.0),
                tf.clip_by_global_norm([d, e], 1.5)[0][0]]

    mats = [RNG.normal(size=(2, 3)) for _ in range(5)]
    vecs = [RNG.normal(size=3), RNG.uniform(0.5, 2, 3), RNG.normal(size=3), RNG.normal(size=3)]
    check_gradient(build, mats + vecs, rtol=1e-5, atol=1e-6)


def test_dropout_keeps_the_rate_and_scales():
    x = tf.ones([200, 100], dtype=tf.float32)
    keep = tf.placeholder(tf.float32, ())
    outs = [tf.nn.dropout(x, keep_prob=0.7, seed=3), tf.nn.dropout(x, rate=0.2, seed=4), tf.nn.dropout(x, keep)]
    with tf.Session() as sess:
        a, b, c = sess.run(outs, {keep: 0.5})
        a2 = sess.run(outs[0], {keep: 0.5})
    for v, p in ((a, 0.7), (b, 0.8), (c, 0.5)):
        kept = v != 0
        np.testing.assert_allclose(v[kept], 1 / p, rtol=1e-6)
        assert abs(kept.mean() - p) < 4 * np.sqrt(p * (1 - p) / v.size)  # 4 sigma
    assert not np.array_equal(a, a2)  # new draws every run
    assert tf.nn.dropout(x, rate=0.0) is x and tf.nn.dropout(x, keep_prob=1.0) is x
    with pytest.raises(ValueError, match="Cannot specify both"):
        tf.nn.dropout(x, keep_prob=0.5, rate=0.5)
    with pytest.raises(ValueError, match=r"range \[0, 1\)"):
        tf.nn.dropout(x, rate=1.0)
    with pytest.raises(ValueError, match="floating point tensor"):
        tf.nn.dropout(tf.ones([2], tf.int32), rate=0.5)


def test_embedding_lookup_and_its_gradient():
    table = RNG.normal(size=(6, 3))
    emb = tf.Variable(table, name="emb")
    ids = tf.placeholder(tf.int32, (None, 2))
    looked = tf.nn.embedding_lookup(emb, ids)
    clipped = tf.nn.embedding_lookup([emb], ids, max_norm=0.5)
    (grad,) = tf.gradients(tf.reduce_sum(looked * 2.0), emb)
    idx = np.array([[1, 4], [1, 0]])
    with tf.Session() as sess:
        sess.run(emb.initializer)
        got, cl, g = sess.run([looked, clipped, grad], {ids: idx})
    np.testing.assert_array_equal(got, table[idx])
    norms = np.linalg.norm(table[idx], axis=-1, keepdims=True)
    np.testing.assert_allclose(cl, table[idx] * 0.5 / np.maximum(norms, 0.5), rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(g), 2.0 * np.bincount(idx.ravel(), minlength=6)[:, None] * np.ones(3))
    assert looked.op.name == "embedding_lookup/Identity"
