"""tf.is_variable_initialized, tf.report_uninitialized_variables and tf.assert_variables_initialized (TF1)."""

import numpy as np
import pytest

import pygraph as tf


def test_queries_follow_initialization_without_reading_the_variables():
    with tf.variable_scope("hidden1"):
        kernel = tf.get_variable("kernel", [2, 3], initializer=tf.zeros_initializer())
    bias = tf.Variable(1.0, name="bias")
    local = tf.Variable(2, name="counter", collections=[tf.GraphKeys.LOCAL_VARIABLES])
    report = tf.report_uninitialized_variables()
    report_some = tf.report_uninitialized_variables([bias])
    flags = [tf.is_variable_initialized(v) for v in (kernel, bias, local)]
    assert report.dtype is tf.string and report.op.name == "report_uninitialized_variables"
    assert flags[0].dtype is tf.bool and flags[0].shape.ndims == 0
    with tf.Session() as sess:
        names, some, *init = sess.run([report, report_some] + flags)
        assert list(names) == [b"hidden1/kernel", b"bias", b"counter"]
        assert list(some) == [b"bias"] and init == [False, False, False]
        sess.run(kernel.initializer)
        names, *init = sess.run([report] + flags)
        assert list(names) == [b"bias", b"counter"] and init == [True, False, False]
        sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
        names, some, *init = sess.run([report, report_some] + flags)
        assert names.shape == (0,) and some.shape == (0,) and init == [True, True, True]
    with tf.Session() as fresh:  # a new session holds no values
        assert not fresh.run(flags[1])


def test_report_of_no_variables_is_empty():
    with tf.Session() as sess:
        assert sess.run(tf.report_uninitialized_variables()).shape == (0,)
        assert sess.run(tf.report_uninitialized_variables([])).shape == (0,)
    assert tf.assert_variables_initialized() is None


def test_assert_variables_initialized_fails_until_initialized():
    a = tf.Variable(tf.zeros([2, 3]), name="a")
    b = tf.Variable(1.0, name="b")
    check = tf.assert_variables_initialized()
    with tf.Session() as sess:
        sess.run(a.initializer)
        with pytest.raises(tf.errors.FailedPreconditionError, match="Attempting to use uninitialized value b"):
            sess.run(check)
        sess.run(b.initializer)
        np.testing.assert_array_equal(sess.run(check), [2, 0])  # the variables' ranks, as TF returns


def test_queries_reject_non_variables():
    with pytest.raises(TypeError, match="expects a variable"):
        tf.is_variable_initialized(tf.constant(1.0))
