"""tf.layers (dense, dropout, flatten) with TF1's variable and op names, reuse, initializers and
regularizers; the learning-rate schedules of tf.train against TF1's formulas."""

import numpy as np
import pytest

import pygraph as tf

RNG = np.random.default_rng(2)


def names(variables):
    return [v.name for v in variables]


def test_dense_names_values_initializer_and_regularizer():
    x = tf.placeholder(tf.float32, (None, 4), name="x")
    reg = lambda w: tf.reduce_sum(tf.abs(w)) * 0.01  # noqa: E731
    h1 = tf.layers.dense(x, 5, activation=tf.nn.elu, name="hidden1", kernel_regularizer=reg)
    h2 = tf.layers.dense(h1, 3)
    h3 = tf.layers.dense(h2, 2, use_bias=False, kernel_initializer=tf.constant_initializer(0.5))
    assert names(tf.trainable_variables()) == ["hidden1/kernel:0", "hidden1/bias:0", "dense/kernel:0",
                                               "dense/bias:0", "dense_1/kernel:0"]
    assert [h1.op.name, h1.op.inputs[0].op.name, h1.op.inputs[0].op.inputs[0].op.name] == [
        "hidden1/Elu", "hidden1/BiasAdd", "hidden1/MatMul"]
    assert h2.op.name == "dense/BiasAdd" and h3.op.name == "dense_1/MatMul"
    (loss,) = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    assert loss.op.name.startswith("hidden1/kernel/Regularizer/")
    xs = RNG.normal(size=(6, 4)).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        k1, b1, k2, b2, k3 = sess.run(tf.trainable_variables())
        v1, v2, v3, lv = sess.run([h1, h2, h3, loss], {x: xs})
    z = xs @ k1 + b1
    np.testing.assert_allclose(v1, np.where(z > 0, z, np.expm1(z)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(v2, v1 @ k2 + b2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(v3, v2 @ k3, rtol=1e-5, atol=1e-6)
    assert (k3 == 0.5).all() and (b1 == 0).all()
    limit = np.sqrt(6 / (4 + 5))  # glorot_uniform
    assert np.abs(k1).max() <= limit and np.abs(k1).max() > limit / 2 and len(np.unique(k1)) == k1.size
    assert lv == pytest.approx(0.01 * np.abs(k1).sum(), rel=1e-5)


def test_dense_reuse_shares_variables():
    x = tf.placeholder(tf.float64, (None, 3))
    reg = lambda w: tf.nn.l2_loss(w)  # noqa: E731
    a = tf.layers.dense(x, 2, name="shared", kernel_regularizer=reg)
    b = tf.layers.dense(x * 2.0, 2, name="shared", reuse=True, kernel_regularizer=reg)
    with tf.variable_scope("outer"):
        c = tf.layers.dense(x, 2, name="d")
    with tf.variable_scope("outer", reuse=True):
        d = tf.layers.dense(x, 2, name="d")
    assert names(tf.global_variables()) == ["shared/kernel:0", "shared/bias:0", "outer/d/kernel:0", "outer/d/bias:0"]
    assert tf.global_variables()[0].dtype is tf.float64  # the inputs' dtype, as TF's layers infer it
    assert len(tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)) == 1  # not again on reuse
    assert b.op.name == "shared_1/BiasAdd" and d.op.name == "outer_1/d/BiasAdd"
    xs = RNG.normal(size=(2, 3))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        va, vb, vc, vd = sess.run([a, b, c, d], {x: xs})
    np.testing.assert_allclose(vb, 2 * va, rtol=1e-12)  # a zero bias: the shared linear layer is linear
    np.testing.assert_array_equal(vc, vd)
    with pytest.raises(ValueError, match="already exists"):
        tf.layers.dense(x, 2, name="shared")
    with pytest.raises(ValueError, match="does not exist"):
        tf.layers.dense(x, 2, name="missing", reuse=True)
    seq = tf.placeholder(tf.float64, (None, 4, 3))
    e = tf.layers.dense(seq, 2, name="shared", reuse=True)  # rank 3: applied to the last axis
    assert e.shape.as_list() == [None, 4, 2]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        seqs = RNG.normal(size=(2, 4, 3))
        ve, va2 = sess.run([e, a], {seq: seqs, x: seqs[1]})
    np.testing.assert_allclose(ve[1], va2, rtol=1e-12)
    with pytest.raises(ValueError, match="should be defined"):
        tf.layers.dense(tf.placeholder(tf.float32, (None, None)), 2)


def test_dropout_layer_and_flatten():
    x = tf.ones([100, 50])
    training = tf.placeholder(tf.bool, ())
    off = tf.layers.dropout(x, rate=0.3)
    on = tf.layers.dropout(x, rate=0.3, training=True, seed=1)
    fed = tf.layers.dropout(x, rate=0.3, training=training, seed=2)
    assert off.op.name == "dropout/Identity" and on.op.name.startswith("dropout_1/dropout/")
    images = tf.placeholder(tf.float32, (None, 2, 3, 4))
    flat, first = tf.layers.flatten(images), tf.layers.flatten(images, data_format="channels_first")
    assert flat.shape.as_list() == [None, 24] and flat.op.name == "flatten/Reshape"
    xs = RNG.normal(size=(5, 2, 3, 4)).astype(np.float32)
    with tf.Session() as sess:
        v_off, v_on, v_false, vf, vfirst = sess.run([off, on, fed, flat, first], {training: False, images: xs})
        v_true = sess.run(fed, {training: True})
    np.testing.assert_array_equal(v_off, np.ones((100, 50)))
    np.testing.assert_array_equal(v_false, np.ones((100, 50)))
    for v in (v_on, v_true):
        kept = v != 0
        np.testing.assert_allclose(v[kept], 1 / 0.7, rtol=1e-6)
        assert abs(kept.mean() - 0.7) < 4 * np.sqrt(0.21 / v.size)
    np.testing.assert_array_equal(vf, xs.reshape(5, 24))
    np.testing.assert_array_equal(vfirst, xs.transpose(0, 2, 3, 1).reshape(5, 24))


def test_dropout_layer_draws_nothing_when_not_training():
    # a tf.cond (TF's smart_cond): runs with training=False leave the op's random stream where it was
    x = tf.ones([64, 32])
    training = tf.placeholder(tf.bool, ())
    y = tf.layers.dropout(x, rate=0.5, training=training, seed=3)
    assert any(op.type == "Switch" for op in tf.get_default_graph().get_operations())
    with tf.Session() as sess:
        first = sess.run(y, {training: True})
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {training: False}), np.ones((64, 32)))
        sess.run(y, {training: False})
        after = sess.run(y, {training: True})
    np.testing.assert_array_equal(first, after)
    assert 0 < (first == 0).mean() < 1


def test_small_mlp_trains():
    xs = RNG.normal(size=(64, 3)).astype(np.float32)
    ys = (np.sin(xs[:, :1] * 2) + xs[:, 1:2] * xs[:, 2:]).astype(np.float32)
    x, y = tf.placeholder(tf.float32, (None, 3)), tf.placeholder(tf.float32, (None, 1))
    tf.set_random_seed(0)
    hidden = tf.layers.dense(x, 32, activation=tf.nn.relu, name="hidden1")
    out = tf.layers.dense(hidden, 1, name="outputs")
    loss = tf.losses.mean_squared_error(y, out)
    step = tf.train.get_or_create_global_step()
    lr = tf.train.exponential_decay(0.05, step, 100, 0.5)
    train = tf.train.AdamOptimizer(lr).minimize(loss, global_step=step)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss, {x: xs, y: ys})
        for _ in range(150):
            sess.run(train, {x: xs, y: ys})
        last, lr_now = sess.run([loss, lr], {x: xs, y: ys})
    assert last < first / 5
    assert lr_now == pytest.approx(0.05 * 0.5 ** 1.5, rel=1e-5)


def test_chapter_11_gradient_clipping_and_max_norm():
    tf.set_random_seed(1)
    x, y = tf.placeholder(tf.float32, (None, 4)), tf.placeholder(tf.int64, shape=(None))
    hidden = tf.layers.dense(x, 8, activation=tf.nn.elu, kernel_initializer=tf.variance_scaling_initializer(),
                             name="hidden1")
    logits = tf.layers.dense(hidden, 3, name="outputs")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    optimizer = tf.train.GradientDescentOptimizer(0.5)
    capped = [(tf.clip_by_value(g, -0.01, 0.01), v) for g, v in optimizer.compute_gradients(loss)]
    train = optimizer.apply_gradients(capped)
    weights = tf.get_default_graph().get_tensor_by_name("hidden1/kernel:0")
    clip_weights = tf.assign(weights, tf.clip_by_norm(weights, clip_norm=0.1, axes=1))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        before = sess.run(weights)
        sess.run(train, {x: RNG.normal(size=(5, 4)), y: [0, 1, 2, 0, 1]})
        after = sess.run(weights)
        sess.run(clip_weights)
        norms = np.linalg.norm(sess.run(weights), axis=1)
    step = np.abs(after - before)
    assert step.max() == pytest.approx(0.005, rel=1e-5)  # learning rate x the clipped gradient
    assert (step <= 0.005 * (1 + 1e-5)).all()
    np.testing.assert_allclose(norms, np.minimum(np.linalg.norm(after, axis=1), 0.1), rtol=1e-5)


def test_learning_rate_schedules_match_tf1_formulas():
    step = tf.placeholder(tf.int64, ())
    lr = 0.1
    scheds = {
        "exp": tf.train.exponential_decay(lr, step, 10, 0.5),
        "exp_stair": tf.train.exponential_decay(lr, step, 10, 0.5, staircase=True),
        "natural": tf.train.natural_exp_decay(lr, step, 10, 0.3),
        "natural_stair": tf.train.natural_exp_decay(lr, step, 10, 0.3, staircase=True),
        "inverse": tf.train.inverse_time_decay(lr, step, 10, 0.5),
        "inverse_stair": tf.train.inverse_time_decay(lr, step, 10, 0.5, staircase=True),
        "poly": tf.train.polynomial_decay(lr, step, 20, 0.01, power=2.0),
        "poly_cycle": tf.train.polynomial_decay(lr, step, 20, 0.01, power=0.5, cycle=True),
        "piecewise": tf.train.piecewise_constant(step, [10, 25], [1.0, 0.5, 0.1]),
    }
    assert scheds["exp"].op.name == "ExponentialDecay" and scheds["piecewise"].op.name == "PiecewiseConstant"

    def want(s):
        p, stair = s / 10, np.floor(s / 10)
        capped = min(s, 20) / 20
        cycle_steps = 20 * (1.0 if s == 0 else np.ceil(s / 20))
        return {"exp": lr * 0.5 ** p, "exp_stair": lr * 0.5 ** stair, "natural": lr * np.exp(-0.3 * p),
                "natural_stair": lr * np.exp(-0.3 * stair), "inverse": lr / (1 + 0.5 * p),
                "inverse_stair": lr / (1 + 0.5 * stair), "poly": (lr - 0.01) * (1 - capped) ** 2 + 0.01,
                "poly_cycle": (lr - 0.01) * (1 - s / cycle_steps) ** 0.5 + 0.01,
                "piecewise": 1.0 if s <= 10 else (0.5 if s <= 25 else 0.1)}

    with tf.Session() as sess:
        for s in (0, 7, 10, 15, 25, 26, 47):
            got = sess.run(scheds, {step: s})
            for k, v in want(s).items():
                assert got[k] == pytest.approx(v, rel=1e-6), (k, s)
    with pytest.raises(ValueError, match="global_step is required"):
        tf.train.exponential_decay(0.1, None, 10, 0.5)
    with pytest.raises(ValueError, match="1 less than"):
        tf.train.piecewise_constant(step, [1, 2], [1.0])
