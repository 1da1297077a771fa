"""Constant folding: subgraphs of constants are evaluated once per session, never stateful ones."""

import numpy as np
import pytest
from pygraph.codegen import toolchain

import pygraph as tf


def test_constant_subgraph_is_folded_once_per_session():
    a = tf.constant(np.arange(6, dtype=np.float32).reshape(2, 3))
    b = a * 2 + 1
    p = tf.placeholder(tf.float32, (None, 3))
    c = b + p
    with tf.Session() as sess:
        out = sess.run(c, {p: np.ones((2, 3))})
        np.testing.assert_array_equal(out, np.arange(6).reshape(2, 3) * 2 + 2)
        assert b in sess._folded  # the frontier of the constant subgraph
        np.testing.assert_array_equal(sess._folded[b], np.arange(6).reshape(2, 3) * 2 + 1)
        compiles, plans = toolchain.stats["compiles"], len(sess._plans)
        for batch in (1, 2):  # (1, 3) broadcasts against the folded (2, 3) constant
            sess.run(c, {p: np.zeros((batch, 3))})
        assert toolchain.stats["compiles"] == compiles and len(sess._plans) == plans


def test_fetched_constant_expression_keeps_dtype_and_rank():
    w = tf.constant(3)
    x = w + 2
    with tf.Session():
        value = x.eval()
    assert value == 5 and isinstance(value, np.int32)


def test_stateful_and_placeholder_paths_are_not_folded():
    v = tf.Variable(1.0)
    inc = tf.assign_add(v, 1.0)
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert [sess.run(inc) for _ in range(3)] == [2.0, 3.0, 4.0]
        assert not sess._folded


def test_placeholder_with_default_is_not_folded_and_can_be_fed():
    d = tf.placeholder_with_default(tf.constant([1.0, 2.0]), shape=(2,))
    y = d * 10
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y), [10.0, 20.0])
        np.testing.assert_array_equal(sess.run(y, {d: [3.0, 4.0]}), [30.0, 40.0])
        np.testing.assert_array_equal(sess.run(y), [10.0, 20.0])


def test_ops_behind_a_folded_value_are_not_recomputed():
    a = tf.constant(np.arange(6, dtype=np.float32).reshape(2, 3))
    doubled = a * 2
    b = doubled + 1
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(b), np.arange(6).reshape(2, 3) * 2 + 1)
        plan, _ = sess._plans[(b,)]
        assert a.op not in plan.node_ops and doubled.op not in plan.node_ops  # only the folded value is read


def test_tall_constant_matrix_vector_products_match_numpy():
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((400, 5)).astype(np.float32)
    X = tf.constant(xv)
    v = tf.placeholder(tf.float32, (5, 1))
    e = tf.placeholder(tf.float32, (400, 1))
    forward = tf.matmul(X, v)  # X is stored transposed for these two products
    backward = tf.matmul(X, e, transpose_a=True)
    vv = rng.standard_normal((5, 1)).astype(np.float32)
    ev = rng.standard_normal((400, 1)).astype(np.float32)
    with tf.Session() as sess:
        f, b = sess.run([forward, backward], {v: vv, e: ev})
        assert any(isinstance(k, tuple) and k[0] == "transposed" for k in sess._folded)
    np.testing.assert_allclose(f, xv.astype(np.float64) @ vv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b, xv.T.astype(np.float64) @ ev, rtol=1e-5, atol=1e-4)


def test_strided_feed_is_copied_by_the_runtime_and_bad_shapes_still_get_tf_errors():
    A = tf.placeholder(tf.float32, (None, 3))
    B = A + 5
    strided = np.arange(12, dtype=np.float32).reshape(3, 4)[:, :3]  # right dtype, not contiguous
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(B, {A: strided}), strided + 5)
        with pytest.raises(ValueError, match=r"Cannot feed value of shape \(2, 4\) for Tensor 'Placeholder:0'"):
            sess.run(B, {A: np.ones((2, 4), np.float32)})  # right dtype: rejected by the compiled program
