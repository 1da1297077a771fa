"""tf.while_loop: TF1's graph (Enter/Merge/LoopCond/Switch/Identity/NextIteration/Exit under `while/`),
lowered to a C++ `for` around the loop's kernels; values against Python loops, nesting with tf.cond and
other loops, state updated once per iteration, and the errors for what TF refuses or pygraph lacks."""

from __future__ import annotations

import numpy as np
import pytest

import pygraph as tf


def test_tf1_names_and_counter_loop():
    n = tf.placeholder(tf.int32, [])
    i, total = tf.while_loop(lambda i, s: i < n, lambda i, s: (i + 1, s + i * i), [0, 0])
    ops = {op.name: op for op in tf.get_default_graph().get_operations()}
    for name, kind in (("while/Enter", "Enter"), ("while/Enter_1", "Enter"), ("while/Merge", "Merge"),
                       ("while/Merge_1", "Merge"), ("while/Less", "Less"), ("while/LoopCond", "LoopCond"),
                       ("while/Switch", "Switch"), ("while/Identity", "Identity"),
                       ("while/NextIteration_1", "NextIteration"), ("while/Exit_1", "Exit")):
        assert ops[name].type == kind
    assert ops["while/Enter"].get_attr("frame_name") == "while/while_context"
    assert not ops["while/Enter"].get_attr("is_constant")
    assert ops["while/Less/Enter"].get_attr("is_constant")  # the outside `n`, brought in once
    assert ops["while/Merge"].inputs[1].op is ops["while/NextIteration"]
    assert [c.name for c in ops["while/add/y"].control_inputs] == ["while/Identity"]  # the body's pivot
    assert (i.name, total.name) == ("while/Exit:0", "while/Exit_1:0")
    with tf.Session() as sess:
        for k in (0, 1, 7):
            assert sess.run([i, total], {n: k}) == [k, sum(j * j for j in range(k))]


def test_tensor_loop_variables_against_numpy():
    x0 = tf.placeholder(tf.float64, [None, 3])
    c = tf.placeholder(tf.float64, [3])

    def body(k, x, hist):  # a nested structure: the body returns the same (tensor, tensor, (tensor,)) shape
        return k + 1, x * c + tf.sin(x), (hist[0] + tf.reduce_sum(x, axis=0),)

    k, x, (hist,) = tf.while_loop(lambda k, x, h: k < 6, body, (0, x0, (tf.zeros([3], tf.float64),)))
    rng = np.random.default_rng(1)
    xv, cv = rng.normal(size=(4, 3)), rng.normal(size=3)
    want_x, want_h = xv.copy(), np.zeros(3)
    for _ in range(6):
        want_x, want_h = want_x * cv + np.sin(want_x), want_h + want_x.sum(0)
    with tf.Session() as sess:
        kv, xr, hr = sess.run([k, x, hist], {x0: xv, c: cv})
    assert kv == 6
    np.testing.assert_allclose(xr, want_x, rtol=1e-12)
    np.testing.assert_allclose(hr, want_h, rtol=1e-12)


def test_data_dependent_trip_count_newton_sqrt():
    a = tf.placeholder(tf.float64, [5])

    def cond(x, steps):
        return tf.logical_and(tf.reduce_max(tf.abs(x * x - a)) > 1e-12, steps < 100)

    x, steps = tf.while_loop(cond, lambda x, s: ((x + a / x) / 2, s + 1), [tf.ones_like(a), 0])
    av = np.array([2.0, 9.0, 0.25, 1e4, 1.0])
    want, s = np.ones(5), 0
    while np.max(np.abs(want * want - av)) > 1e-12 and s < 100:
        want, s = (want + av / want) / 2, s + 1
    with tf.Session() as sess:
        xv, sv = sess.run([x, steps], {a: av})
    np.testing.assert_array_equal(xv, want)
    assert sv == s and 5 < s < 100


def test_single_variable_maximum_iterations_and_structure():
    x = tf.constant(1.0)
    r = tf.while_loop(lambda v: v < 1000.0, lambda v: v * 3.0, [x])
    assert r.name == "while/Exit:0"  # one loop variable comes back bare, as in TF1
    capped = tf.while_loop(lambda v: v < 1000.0, lambda v: v * 3.0, [x], maximum_iterations=2)
    same = tf.while_loop(lambda v: v < 1000.0, lambda v: [v * 3.0], [x], return_same_structure=True)
    assert isinstance(same, list) and len(same) == 1
    pair = tf.while_loop(lambda a, b: a < 10, lambda a, b: [a + 1, b * 2], (0, 1), maximum_iterations=4)
    assert isinstance(pair, list)
    ops = [op.name for op in tf.get_default_graph().get_operations()]
    assert "while_1/iteration_counter" in ops and "while_1/maximum_iterations" in ops
    with tf.Session() as sess:
        assert sess.run([r, capped, same[0], *pair]) == [2187.0, 9.0, 2187.0, 4, 16]


def test_body_state_runs_once_per_iteration_and_random_draws_differ():
    counter = tf.Variable(0.0)
    n = tf.placeholder(tf.int32, [])

    def body(i, acc):
        with tf.control_dependencies([tf.assign_add(counter, 1.0)]):
            return i + 1, acc + tf.random_uniform([2], seed=5)

    i, acc = tf.while_loop(lambda i, a: i < n, body, [0, tf.zeros([2])])
    first = tf.while_loop(lambda i, a: i < 1, body, [0, tf.zeros([2])])[1]
    with tf.Session() as sess:
        sess.run(counter.initializer)
        sess.run(i, {n: 3})
        assert sess.run(counter) == 3.0
        assert sess.run(i, {n: 0}) == 0 and sess.run(counter) == 3.0  # no iteration: the body never runs
        one = sess.run(first)
        total = sess.run(acc, {n: 50})
    assert sess is not None and np.all(one > 0) and np.all(one < 1)
    assert np.all(np.abs(total / 50 - 0.5) < 0.2)  # fifty different draws, not one draw fifty times
    assert not np.allclose(total, 50 * one)


def test_nested_loops_and_cond_inside():
    n = tf.placeholder(tf.int32, [])

    def outer_body(i, total):
        def inner_body(j, t):
            return j + 1, t + tf.cond(tf.equal(j % 2, 0), lambda: i * j, lambda: -j)
        _, t = tf.while_loop(lambda j, t: j < i, inner_body, [0, total])
        return i + 1, t

    _, total = tf.while_loop(lambda i, t: i < n, outer_body, [0, 0])
    want = sum((i * j if j % 2 == 0 else -j) for i in range(6) for j in range(i))
    with tf.Session() as sess:
        assert sess.run(total, {n: 6}) == want
        assert sess.run(total, {n: 0}) == 0


def test_loop_inside_cond_branch_runs_only_when_taken():
    p = tf.placeholder(tf.bool, [])
    counter = tf.Variable(0)

    def looping():
        def body(i):
            with tf.control_dependencies([tf.assign_add(counter, 1)]):
                return i + 1
        return tf.while_loop(lambda i: i < 4, body, [0])

    r = tf.cond(p, looping, lambda: tf.constant(-1))
    with tf.Session() as sess:
        sess.run(counter.initializer)
        assert sess.run(r, {p: False}) == -1 and sess.run(counter) == 0
        assert sess.run(r, {p: True}) == 4 and sess.run(counter) == 4


def test_errors_tf_gives_at_construction():
    x = tf.constant([1.0, 2.0])
    with pytest.raises(ValueError, match="enters the loop with shape \\(2,\\), but has shape \\(4,\\)"):
        tf.while_loop(lambda v: True, lambda v: tf.concat([v, v], 0), [x])
    with pytest.raises(TypeError, match="enters the loop with type float32, but has type int32"):
        tf.while_loop(lambda v: True, lambda v: tf.constant([1, 2]), [x])
    with pytest.raises(ValueError, match="same nested structure"):
        tf.while_loop(lambda a, b: True, lambda a, b: [a], [x, x])
    with pytest.raises(TypeError, match="must return a bool"):
        tf.while_loop(lambda v: tf.reduce_sum(v), lambda v: v, [x])
    with pytest.raises(ValueError, match="must be a scalar"):
        tf.while_loop(lambda v: v > 0, lambda v: v, [x])
    with pytest.raises(ValueError, match="shape invariant specified"):
        tf.while_loop(lambda v: True, lambda v: v, [x], shape_invariants=[tf.TensorShape([3])])
    with pytest.raises(ValueError, match="No loop variables"):
        tf.while_loop(lambda: True, lambda: [], [])
    with pytest.raises(TypeError, match="cond must be callable"):
        tf.while_loop(True, lambda v: v, [x])


def test_varying_shape_with_invariant_is_refused_when_it_runs():
    x = tf.placeholder(tf.float32, [None])
    grow = tf.while_loop(lambda v: tf.size(v) < 8, lambda v: tf.concat([v, v], 0), [x],
                         shape_invariants=[tf.TensorShape([None])])
    keep = tf.while_loop(lambda v: tf.reduce_sum(v) < 100.0, lambda v: v * 2.0, [x],
                         shape_invariants=[tf.TensorShape([None])])
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(keep, {x: [1.0, 2.0]}), [64.0, 128.0])  # 3 -> 6 -> ... -> 192
        with pytest.raises(tf.errors.UnimplementedError, match="keeps each loop variable's shape"):
            sess.run(grow, {x: [1.0, 2.0]})


def test_gradients_flow_through_a_loop_and_back_prop_false_stops_them():
    w = tf.Variable(2.0)
    y = tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * w), [0, tf.constant(1.0)])[1]
    (dw,) = tf.gradients(y, [w])  # y = w**3 (tests/test_while_grad.py checks gradients numerically)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(dw) == pytest.approx(3 * 2.0**2)
    z = tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * w), [0, tf.constant(1.0)],
                      back_prop=False)[1]
    assert tf.gradients(z + w, [w])[0] is not None
    assert tf.gradients(z, [w]) == [None]


def test_a_value_inside_the_loop_cannot_be_fetched():
    seen = []
    r = tf.while_loop(lambda v: v < 3, lambda v: seen.append(v * 2) or v + 1, [0])
    with tf.Session() as sess:
        assert sess.run(r) == 3
        with pytest.raises(tf.errors.InvalidArgumentError, match="inside tf.while_loop 'while/while_context'"):
            sess.run(seen[0])
