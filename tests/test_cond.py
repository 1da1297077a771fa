"""tf.cond: TF1's graph (Switch/Merge under `cond/`), only the taken branch runs (a C++ `if` around its
kernels), gradients against finite differences, nesting, and what is not supported."""

from __future__ import annotations

import numpy as np
import pytest

import pygraph as tf


def test_tf1_names_and_values():
    p = tf.placeholder(tf.bool, [])
    x = tf.placeholder(tf.float32, [3])
    r = tf.cond(p, lambda: x * 2.0 + 1.0, lambda: tf.exp(x))
    names = [op.name for op in tf.get_default_graph().get_operations()]
    for name in ("cond/Switch", "cond/switch_t", "cond/switch_f", "cond/pred_id", "cond/mul", "cond/add",
                 "cond/Exp", "cond/Merge"):
        assert name in names
    assert r.op.type == "Merge" and r.name == "cond/Merge:0"
    xv = np.array([1.0, -2.0, 0.5], np.float32)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(r, {p: True, x: xv}), xv * 2 + 1)
        np.testing.assert_allclose(sess.run(r, {p: False, x: xv}), np.exp(xv), rtol=1e-6)


def test_only_the_taken_branch_runs():
    p = tf.placeholder(tf.bool, [])
    lo = tf.placeholder(tf.int32, [])
    counter = tf.Variable(0.0)

    def counting():
        with tf.control_dependencies([tf.assign_add(counter, 1.0)]):
            return tf.constant(1.0)

    def failing():  # the int op checks minval < maxval when it runs: never, unless taken
        return tf.cast(tf.random_uniform([], lo, 3, dtype=tf.int32), tf.float32)

    r = tf.cond(p, counting, failing)
    with tf.Session() as sess:
        sess.run(counter.initializer)
        assert sess.run(r, {p: True, lo: 5}) == 1.0
        assert sess.run(r, {p: True, lo: 5}) == 1.0
        assert sess.run(counter) == 2.0
        assert sess.run(r, {p: False, lo: 0}) in (0.0, 1.0, 2.0)
        assert sess.run(counter) == 2.0  # the false runs did not touch it
        with pytest.raises(tf.errors.InvalidArgumentError, match="Need minval < maxval"):
            sess.run(r, {p: False, lo: 5})


def test_untaken_random_branch_does_not_advance_its_stream():
    p = tf.placeholder(tf.bool, [])
    r = tf.cond(p, lambda: tf.random_uniform([4], seed=3), lambda: tf.zeros([4]))
    with tf.Session() as sess:
        first = sess.run(r, {p: True})
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(r, {p: False}), np.zeros(4, np.float32))
        np.testing.assert_array_equal(sess.run(r, {p: True}), first)


def _numeric_grad(f, x, eps=1e-4):
    g = np.zeros_like(x)
    for i in range(x.size):
        d = np.zeros_like(x)
        d.flat[i] = eps
        g.flat[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


def test_gradients_of_nested_cond_match_finite_differences():
    p, q = tf.placeholder(tf.bool, []), tf.placeholder(tf.bool, [])
    x = tf.placeholder(tf.float32, [3])
    w = tf.Variable(np.array([0.5, -1.0, 2.0], np.float32))
    inner = lambda: tf.cond(q, lambda: tf.tanh(x * w), lambda: x * x * w)  # noqa: E731
    r = tf.cond(p, inner, lambda: tf.exp(x) * w + x)
    loss = tf.reduce_sum(r * r)
    gx, gw = tf.gradients(loss, [x, w])
    assert "gradients/" in gx.name

    def f(xv, wv, pv, qv):
        xv, wv = xv.astype(np.float64), wv.astype(np.float64)
        r = (np.tanh(xv * wv) if qv else xv * xv * wv) if pv else np.exp(xv) * wv + xv
        return (r * r).sum()

    xv = np.array([0.3, -0.2, 0.7], np.float32)
    with tf.Session() as sess:
        sess.run(w.initializer)
        wv = sess.run(w)
        for pv, qv in ((True, True), (True, False), (False, True)):
            a, b = sess.run([gx, gw], {p: pv, q: qv, x: xv})
            x64, w64 = xv.astype(np.float64), wv.astype(np.float64)
            num_x = _numeric_grad(lambda v, pv=pv, qv=qv: f(v, wv, pv, qv), x64)
            num_w = _numeric_grad(lambda v, pv=pv, qv=qv: f(xv, v, pv, qv), w64)
            np.testing.assert_allclose(a, num_x, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(b, num_w, rtol=1e-4, atol=1e-5)


def test_gradient_through_a_branch_that_ignores_the_input():
    p = tf.placeholder(tf.bool, [])
    x = tf.placeholder(tf.float32, [2])
    r = tf.cond(p, lambda: 3.0 * x, lambda: tf.ones([2]))
    (g,) = tf.gradients(tf.reduce_sum(r), [x])
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(g, {p: True, x: [1.0, 2.0]}), [3.0, 3.0])
        np.testing.assert_array_equal(sess.run(g, {p: False, x: [1.0, 2.0]}), [0.0, 0.0])


def test_structures_constant_predicates_and_errors():
    x = tf.placeholder(tf.float32, [None])
    pair = tf.cond(tf.constant(False), lambda: (x + 1.0, x * 2.0), lambda: (x - 1.0, x / 2.0))
    single = tf.cond(tf.constant(True), lambda: [x], lambda: [x + 1.0])
    strict = tf.cond(tf.constant(True), lambda: [x], lambda: [x + 1.0], strict=True)
    assert isinstance(pair, tuple) and len(pair) == 2 and isinstance(strict, list)
    p = tf.placeholder(tf.bool, [])
    shorter = tf.cond(p, lambda: x, lambda: x[1:])
    computed = tf.cond(x[0] > 0.0, lambda: x, lambda: x[1:])
    inside = tf.get_default_graph().get_operation_by_name("cond_3/strided_slice").outputs[0]
    with tf.Session() as sess:
        a, b, c = sess.run([pair[0], pair[1], single], {x: [4.0, 6.0]})
        np.testing.assert_array_equal(a, [3.0, 5.0])
        np.testing.assert_array_equal(b, [2.0, 3.0])
        np.testing.assert_array_equal(c, [4.0, 6.0])
        # branches of different sizes, as TF allows: the fed predicate picks the result's shape
        np.testing.assert_array_equal(sess.run(shorter, {p: True, x: [1.0, 2.0]}), [1.0, 2.0])
        np.testing.assert_array_equal(sess.run(shorter, {p: False, x: [1.0, 2.0]}), [2.0])
        # ... a computed one is known only after the result was sized
        for taken in (1.0, -1.0):
            with pytest.raises(tf.errors.UnimplementedError, match=r"same shape: false branch \[1\], true branch"):
                sess.run(computed, {x: [taken, 2.0]})
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"Retval\[0\] does not have value"):
            sess.run(inside, {p: True, x: [1.0, 2.0]})
    with pytest.raises(TypeError, match="must not be a Python bool"):
        tf.cond(True, lambda: x, lambda: x)
    with pytest.raises(TypeError, match="scalar bool"):
        tf.cond(tf.constant(1.0), lambda: x, lambda: x)
    with pytest.raises(ValueError, match="same structure"):
        tf.cond(p, lambda: (x, x), lambda: x)


def test_shape_checks_of_the_untaken_branch_do_not_fire():
    p = tf.placeholder(tf.bool, [])
    x, y = tf.placeholder(tf.float32, [None]), tf.placeholder(tf.float32, [None])
    r = tf.cond(p, lambda: x + y, lambda: x * 2.0)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(r, {p: False, x: [1.0, 2.0], y: [1.0, 2.0, 3.0]}), [2.0, 4.0])
        with pytest.raises(tf.errors.InvalidArgumentError, match="Incompatible shapes"):
            sess.run(r, {p: True, x: [1.0, 2.0], y: [1.0, 2.0, 3.0]})


def test_case_and_smart_cond():
    from pygraph.ops.control_flow import smart_cond

    k = tf.placeholder(tf.int32, [])
    x = tf.placeholder(tf.float32, [2])
    r = tf.case([(tf.equal(k, 0), lambda: x + 10.0), (tf.less(k, 3), lambda: x * 2.0)], default=lambda: -x)
    assert r.name.startswith("case/cond/")
    with tf.Session() as sess:
        for kv, expected in ((0, [11.0, 12.0]), (1, [2.0, 4.0]), (2, [2.0, 4.0]), (7, [-1.0, -2.0])):
            np.testing.assert_array_equal(sess.run(r, {k: kv, x: [1.0, 2.0]}), expected)
    with pytest.raises(NotImplementedError, match="default"):
        tf.case([(tf.equal(k, 0), lambda: x)])
    with pytest.raises(TypeError, match="must be a Tensor"):
        tf.case([(True, lambda: x)], default=lambda: x)
    before = len(tf.get_default_graph().get_operations())
    assert smart_cond(True, lambda: x, lambda: -x) is x  # a Python bool builds no cond
    assert smart_cond(tf.constant(False), lambda: x, lambda: x).op.type != "Merge"
    assert not any(op.type == "Merge" for op in tf.get_default_graph().get_operations()[before:])
    assert smart_cond(tf.equal(k, 1), lambda: x, lambda: -x).op.type == "Merge"


def test_meta_graph_keeps_the_contexts_and_rejects_broken_ones(tmp_path):
    p = tf.placeholder(tf.bool, [], name="p")
    x = tf.placeholder(tf.float32, [2], name="x")
    counter = tf.Variable(0.0, name="counter")

    def counting():
        with tf.control_dependencies([tf.assign_add(counter, 1.0)]):
            return x + 1.0

    r = tf.cond(p, counting, lambda: x * 3.0)
    doc = tf.train.export_meta_graph(str(tmp_path / "g.meta"))
    with tf.Graph().as_default():
        tf.train.import_meta_graph(str(tmp_path / "g.meta"))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            np.testing.assert_array_equal(sess.run(r.name, {"p:0": False, "x:0": [1.0, 2.0]}), [3.0, 6.0])
            assert sess.run("counter:0") == 0.0  # the imported untaken branch did not run either
    broken = dict(doc, cond_contexts=dict(doc["cond_contexts"], contexts=[dict(c, outer=7) for c in
                                                                       doc["cond_contexts"]["contexts"]]))
    with tf.Graph().as_default():
        with pytest.raises(tf.errors.DataLossError, match="cond_contexts"):
            tf.train.import_meta_graph(broken)
        assert tf.get_default_graph().get_operations() == []
