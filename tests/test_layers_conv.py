"""tf.layers.conv2d, max_pooling2d, average_pooling2d and batch_normalization: TF1's variable and op names,
reuse, outputs against numpy, batch-norm moving statistics over steps, and the training flag as a bool
or a boolean placeholder."""

import numpy as np
import pytest
from test_conv import naive

import pygraph as tf

RNG = np.random.default_rng(17)


def _names(variables):
    return [v.name for v in variables]


def test_conv_and_pooling_layers_names_reuse_and_values():
    x = tf.placeholder(tf.float64, (None, 6, 6, 2))
    init = tf.constant_initializer(RNG.standard_normal((3, 3, 2, 4)))
    c = tf.layers.conv2d(x, 4, 3, padding="same", activation=tf.nn.relu, kernel_initializer=init,
                         bias_initializer=tf.constant_initializer(0.25))
    c2 = tf.layers.conv2d(x, 4, (3, 3), padding="same", name="conv2d", reuse=True)  # shares conv2d/*
    other = tf.layers.conv2d(c, 3, 2, strides=2, padding="valid")
    p = tf.layers.max_pooling2d(c, pool_size=2, strides=2)
    a = tf.layers.average_pooling2d(c, 3, 2, padding="same")
    assert _names(tf.trainable_variables()) == ["conv2d/kernel:0", "conv2d/bias:0", "conv2d_1/kernel:0",
                                                "conv2d_1/bias:0"]
    assert tf.trainable_variables()[2].shape.as_list() == [2, 2, 4, 3]
    assert (p.op.name, a.op.name) == ("max_pooling2d/MaxPool", "average_pooling2d/AvgPool")
    assert other.shape.as_list() == [None, 3, 3, 3] and a.shape.as_list() == [None, 3, 3, 4]
    xv = RNG.standard_normal((2, 6, 6, 2))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got_c, got_c2, got_p, got_a = sess.run([c, c2, p, a], {x: xv})
        kernel = sess.run(tf.trainable_variables()[0])
    want_c = np.maximum(naive("conv", xv, kernel, (1, 1), "SAME") + 0.25, 0)
    np.testing.assert_allclose(got_c, want_c, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_c2, naive("conv", xv, kernel, (1, 1), "SAME") + 0.25, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_p, naive("max", want_c, (2, 2), (2, 2), "VALID"), rtol=1e-12)
    np.testing.assert_allclose(got_a, naive("avg", want_c, (3, 3), (2, 2), "SAME"), rtol=1e-12)
    with pytest.raises(ValueError, match="padding"):
        tf.layers.conv2d(x, 4, 3, padding="full")
    with pytest.raises(NotImplementedError, match="channels_last"):
        tf.layers.max_pooling2d(x, 2, 2, data_format="channels_first")


def _bn_reference(x, gamma, beta, mean, var, eps):
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


@pytest.mark.parametrize("shape", [(8, 3), (2, 3, 2, 3)])
def test_batch_normalization_statistics_over_steps(shape):
    x = tf.placeholder(tf.float64, (None,) + shape[1:])
    flag = tf.placeholder(tf.bool, ())
    y_train = tf.layers.batch_normalization(x, training=True, momentum=0.8, epsilon=1e-3, name="bn")
    y_eval = tf.layers.batch_normalization(x, training=False, name="bn", reuse=True)
    y_flag = tf.layers.batch_normalization(x, training=flag, momentum=0.8, name="bn", reuse=True)
    assert _names(tf.global_variables()) == ["bn/gamma:0", "bn/beta:0", "bn/moving_mean:0", "bn/moving_variance:0"]
    assert _names(tf.trainable_variables()) == ["bn/gamma:0", "bn/beta:0"]
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert len(updates) == 4 and updates[0].op.name == "bn/AssignMovingAvg"
    gamma, beta, mm, mv = tf.global_variables()
    axes = tuple(range(len(shape) - 1))
    n = int(np.prod(shape[:-1]))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run([tf.assign(gamma, [1.5, 0.5, 2.0]), tf.assign(beta, [0.1, -0.2, 0.3])])
        want_mm, want_mv = np.zeros(3), np.ones(3)
        with tf.control_dependencies(updates[:2]):
            step = tf.identity(y_train)
        for _ in range(3):
            xv = RNG.standard_normal(shape) * 3 + 1
            got = sess.run(step, {x: xv})
            mean, var = xv.mean(axes), xv.var(axes)
            np.testing.assert_allclose(got, _bn_reference(xv, [1.5, 0.5, 2.0], [0.1, -0.2, 0.3], mean, var, 1e-3),
                                       rtol=1e-10, atol=1e-10)
            moving_var = var * n / (n - 1) if len(shape) == 4 else var  # TF's fused kernel: unbiased
            want_mm += (mean - want_mm) * 0.2
            want_mv += (moving_var - want_mv) * 0.2
            np.testing.assert_allclose(sess.run([mm, mv]), [want_mm, want_mv], rtol=1e-10)
        xv = RNG.standard_normal(shape)
        want_eval = _bn_reference(xv, [1.5, 0.5, 2.0], [0.1, -0.2, 0.3], want_mm, want_mv, 1e-3)
        np.testing.assert_allclose(sess.run(y_eval, {x: xv}), want_eval, rtol=1e-10)
        # a boolean placeholder: False is inference and leaves the moving statistics where they are
        got, _ = sess.run([y_flag, updates[2:]], {x: xv, flag: False})
        np.testing.assert_allclose(got, want_eval, rtol=1e-10)
        np.testing.assert_allclose(sess.run([mm, mv]), [want_mm, want_mv], rtol=1e-12)
        got, _ = sess.run([y_flag, updates[2:]], {x: xv, flag: True})
        np.testing.assert_allclose(got, _bn_reference(xv, [1.5, 0.5, 2.0], [0.1, -0.2, 0.3], xv.mean(axes),
                                                      xv.var(axes), 1e-3), rtol=1e-10, atol=1e-10)
        assert not np.allclose(sess.run(mm), want_mm)


def test_batch_normalization_with_a_tensor_flag_runs_the_statistics_in_conds():
    """TF's smart_cond: the batch statistics and the moving-average updates are built inside cond branches, so
    a run with training=False computes neither (the branch is skipped), and updates only move when True."""
    x = tf.placeholder(tf.float64, (None, 3))
    flag = tf.placeholder(tf.bool, ())
    y = tf.layers.batch_normalization(x, training=flag, momentum=0.5, name="bn")
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert [u.op.type for u in updates] == ["Merge", "Merge"]
    ops = tf.get_default_graph().get_operations()
    stats = [op for op in ops if op.type in ("Mean", "SquaredDifference", "AssignSub")]
    assert len(stats) >= 4 and all(getattr(op, "_cond_context", None) is not None for op in stats)
    mm = tf.global_variables()[2]
    xv = RNG.standard_normal((6, 3)) + 2
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out, _ = sess.run([y, updates], {x: xv, flag: False})
        np.testing.assert_allclose(out, _bn_reference(xv, np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), 1e-3),
                                   rtol=1e-12)
        np.testing.assert_array_equal(sess.run(mm), np.zeros(3))
        sess.run(updates, {x: xv, flag: True})
        np.testing.assert_allclose(sess.run(mm), xv.mean(0) * 0.5, rtol=1e-12)
        # gradients through the conds equal the static training=True layer's
        y_static = tf.layers.batch_normalization(x, training=True, name="bn", reuse=True)
        grads = [tf.gradients(tf.reduce_sum(v * tf.sin(v)), x)[0] for v in (y, y_static)]
        got, want = sess.run(grads, {x: xv, flag: True})
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        assert np.abs(want).max() > 1e-3
