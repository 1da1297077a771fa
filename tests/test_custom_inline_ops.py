"""Fused inline ops: elementwise ops declared in Python with a C++ expression per dtype, fused into the
surrounding generated loop (no kernel of their own), differentiable through a gradient in pygraph ops."""

import numpy as np
import pytest

import pygraph as tf
from pygraph import errors

rng = np.random.default_rng(7)


def _softplus_grad(op, grad):
    return [grad * tf.sigmoid(op.inputs[0])]


@pytest.fixture(scope="module")
def my_softplus():
    # softplus written so that it neither overflows (large x) nor loses precision (very negative x)
    return tf.inline_op(
        "MySoftplusInline", ["x"],
        {tf.float32: "x > 15.0f ? x : std::log1p(std::exp(x))", tf.float64: "x > 30.0 ? x : std::log1p(std::exp(x))"},
        gradient=_softplus_grad)


@pytest.fixture(scope="module")
def hinge():
    return tf.inline_op("HingeMaxInline", ["a", "b"], {tf.float32: "a > b ? a : b", tf.int32: "a > b ? a : b"})


def _kernel_lines(capfd):
    return [line for line in capfd.readouterr().err.splitlines() if line.startswith("[pygraph]   k")]


def test_inline_op_fuses_into_the_chain(my_softplus, hinge, monkeypatch, capfd):
    monkeypatch.setenv("PYGRAPH_DEBUG", "1")
    x = tf.placeholder(tf.float32, [None])
    y = hinge(my_softplus(x * 1.5 + 0.5), tf.constant(1.0)) * 2.0 - x
    v = rng.standard_normal(1000).astype(np.float32) * 20
    capfd.readouterr()
    with tf.Session() as sess:
        got = sess.run(y, {x: v})
    lines = _kernel_lines(capfd)
    assert len(lines) == 1 and "elementwise" in lines[0], lines
    assert "MySoftplusInline" in lines[0] and "HingeMaxInline" in lines[0]
    t = v * np.float32(1.5) + np.float32(0.5)
    want = np.maximum(np.logaddexp(np.float32(0), t), 1.0) * 2 - v
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_inline_op_broadcasts_and_picks_the_dtype_expression(hinge):
    a = tf.placeholder(tf.int32, [None, 1])
    b = tf.placeholder(tf.int32, [3])
    y = hinge(a, b)
    assert y.shape.as_list() == [None, 3] and y.dtype is tf.int32
    av, bv = np.array([[1], [5]], np.int32), np.array([0, 3, 9], np.int32)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {a: av, b: bv}), np.maximum(av, bv))
    with pytest.raises(errors.InvalidArgumentError, match="has expressions for float32, int32"):
        hinge(tf.constant([1.0], tf.float64), tf.constant([2.0], tf.float64))


def test_inline_op_gradient_against_finite_differences(my_softplus):
    x = tf.placeholder(tf.float64, [5])
    loss = tf.reduce_sum(my_softplus(x) * tf.constant([1.0, -2.0, 0.5, 3.0, 1.0], tf.float64))
    (g,) = tf.gradients(loss, [x])
    v = np.array([-3.0, -0.2, 0.0, 0.7, 40.0])
    with tf.Session() as sess:
        got = sess.run(g, {x: v})
        eps = 1e-6
        fd = np.array([(sess.run(loss, {x: v + eps * e}) - sess.run(loss, {x: v - eps * e})) / (2 * eps)
                       for e in np.eye(5)])
    np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-8)


def test_declaration_errors(my_softplus):
    with pytest.raises(errors.AlreadyExistsError):
        tf.inline_op("MySoftplusInline", ["x"], {tf.float32: "x"})
    with pytest.raises(errors.AlreadyExistsError):
        tf.inline_op("Add", ["x"], {tf.float32: "x"})
    with pytest.raises(ValueError, match="identifiers"):
        tf.inline_op("BadArgsInline", ["x y"], {tf.float32: "x"})
    with pytest.raises(ValueError, match="expression"):
        tf.inline_op("BadExprInline", ["x"], {tf.float32: ""})
