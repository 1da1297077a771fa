"""The C path of Session.run and make_callable (runtime/src/fast_run.cc): it answers exactly what the Python
path answers, takes only the calls it can take whole (every other feed falls back, with today's errors), sees
a plan's new callee after a tier swap, and serves many threads at once.

Whether a call ran in C is observed from outside: the Python path always goes through Plan._call.
"""

from __future__ import annotations

import gc
import threading
import weakref

import numpy as np
import pytest
from pygraph.codegen import tiers, toolchain

import pygraph as tf
from pygraph import errors, session
from pygraph.plan import Plan


@pytest.fixture
def python_calls(monkeypatch):
    """A list that gets one entry per call the Python path runs (Plan._call)."""
    seen, original = [], Plan._call

    def counted(plan, args):
        seen.append(plan)
        return original(plan, args)

    monkeypatch.setattr(Plan, "_call", counted)
    return seen


def _both(fn):
    """fn() on the C path, then with it forced off: (fast result, slow result)."""
    fast = fn()
    with session.fast_path_disabled():
        slow = fn()
    return fast, slow


def _error_of(fn):
    with pytest.raises(Exception) as info:
        fn()
    return type(info.value), str(info.value)


def test_variables_graph_runs_in_c_and_matches_the_python_path(python_calls):
    x = tf.Variable(3.0, name="x")
    y = tf.Variable(4.0, name="y")
    f = x * x * y + y + 2
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        call = sess.make_callable(f)
        first = [sess.run(f), call()]  # the Python path arms the plans
        del python_calls[:]
        fast, slow = _both(lambda: (sess.run(f), call(), f.eval(), sess.run(fetches=f)))
        assert len(python_calls) == 1 + 4  # C ran run(f), the callable and eval; run(fetches=f) is Python's
        assert first == [42.0, 42.0]
        for a, b in zip(fast, slow):
            assert type(a) is type(b) is np.float32 and a == b == 42.0


def test_fed_graph_matches_the_python_path_and_returns_fresh_results(python_calls):
    a = tf.placeholder(tf.float32, (None, 3), name="a")
    b = a + 5
    v1 = np.arange(300, dtype=np.float32).reshape(100, 3)
    v2 = -v1[:7].copy()
    with tf.Session() as sess:
        call = sess.make_callable(b, feed_list=[a])
        sess.run(b, {a: v1}), call(v1)
        del python_calls[:]
        r1 = sess.run(b, feed_dict={a: v1})
        r2 = sess.run(b, {a: v2})  # another batch size: the same plan
        c1, c2 = call(v1), call(v2)
        assert not python_calls
        np.testing.assert_array_equal(r1, v1 + 5)  # r1 is not overwritten by the next call
        np.testing.assert_array_equal(r2, v2 + 5)
        np.testing.assert_array_equal(c1, v1 + 5)
        np.testing.assert_array_equal(c2, v2 + 5)
        with session.fast_path_disabled():
            np.testing.assert_array_equal(sess.run(b, {a: v1}), r1)
            np.testing.assert_array_equal(call(v2), c2)
        assert len(python_calls) == 2


def test_training_steps_are_the_same_on_both_paths(python_calls):
    """A fed optimizer step updates the session's variable buffers in C exactly as in Python."""
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((6, 20, 3)).astype(np.float32)
    ys = (xs @ np.array([[1.0], [-2.0], [0.5]], np.float32)) + 0.25
    x = tf.placeholder(tf.float32, (None, 3))
    y = tf.placeholder(tf.float32, (None, 1))
    w = tf.Variable(np.zeros((3, 1), np.float32))
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)

    def trajectory():
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            out = []
            for xb, yb in zip(xs, ys):
                assert sess.run(train, feed_dict={x: xb, y: yb}) is None
                out.append(sess.run(w).copy())
            return out

    del python_calls[:]
    fast, slow = _both(trajectory)
    assert len(python_calls) < len(fast) * 2 * 2  # the C path took most of the first trajectory's calls
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(fast[0], fast[-1])


def test_flat_lists_and_tuples_of_fetches(python_calls):
    """`_, l = sess.run([train, loss], feed)`: a flat list or tuple runs in C and comes back as that type; a
    nested structure, a namedtuple or a dict (even one object reused) is rebuilt by the Python path."""
    import collections

    x = tf.placeholder(tf.float32, (None, 2), name="x")
    w = tf.Variable(np.ones((2, 1), np.float32))
    steps = tf.Variable(0.0)
    loss = tf.reduce_sum(tf.matmul(x, w))
    train = tf.assign_add(steps, 1.0).op
    v = np.array([[1.0, 2.0]], np.float32)
    pair = collections.namedtuple("pair", "a b")
    nested = [loss, [w]]  # one object, reused on every call
    with tf.Session() as sess:
        sess.run([w.initializer, steps.initializer])
        call = sess.make_callable((loss, loss, w), [x])
        for _ in range(2):
            sess.run([train, loss], {x: v}), sess.run((loss, w), {x: v}), call(v), sess.run(nested, {x: v})
        del python_calls[:]
        got = sess.run([train, loss], {x: v})
        both = sess.run((loss, w), {x: v})
        c = call(v)
        assert len(python_calls) == 0
        assert type(got) is list and got[0] is None and got[1] == np.float32(3.0)
        assert type(both) is tuple and both[0] == 3.0 and both[1].tolist() == [[1.0], [1.0]]
        assert type(c) is tuple and c[0] == c[1] == 3.0 and type(c[0]) is np.float32
        np.testing.assert_array_equal(c[2], both[1])
        fast = sess.run(nested, {x: v})
        assert len(python_calls) == 1 and fast[0] == 3.0 and type(fast[1]) is list
        np.testing.assert_array_equal(fast[1][0], both[1])
        assert sess.run(pair(loss, w), {x: v}).a == 3.0 and sess.run({"l": loss}, {x: v}) == {"l": 3.0}
        assert len(python_calls) == 3
        one_dict, one_pair = {"l": loss}, pair(loss, w)  # the same objects again and again: still rebuilt
        for _ in range(3):
            assert sess.run(one_dict, {x: v}) == {"l": 3.0}
            assert type(sess.run(one_pair, {x: v})) is pair
        assert len(python_calls) == 9
        with session.fast_path_disabled():
            assert sess.run([train, loss], {x: v}) == got
        sess.run([train, loss], {x: v})
        assert len(python_calls) == 10 and sess.run(steps) == 5.0  # every train ran once


@pytest.mark.parametrize("kind", ["float64", "int32", "strided", "list", "scalar", "subclass"])
def test_feeds_that_need_converting_fall_back_and_convert(kind, python_calls):
    a = tf.placeholder(tf.float32, (None, 3))
    b = a * 2.0
    base = np.arange(12, dtype=np.float32).reshape(4, 3)
    value = {"float64": base.astype(np.float64), "int32": base.astype(np.int32), "strided": base[::2],
             "list": base.tolist(), "scalar": None, "subclass": base.view(np.matrix)}[kind]
    if kind == "scalar":
        a = tf.placeholder(tf.float32, ())
        b = a * 2.0
        value = 1.5
    with tf.Session() as sess:
        call = sess.make_callable(b, [a])
        ok = base[:1] if kind != "scalar" else np.float32(1)
        sess.run(b, {a: ok}), call(ok)  # armed
        del python_calls[:]
        fast, slow = _both(lambda: (sess.run(b, {a: value}), call(value)))
        assert len(python_calls) == 4  # every call with this value took the Python path
        for got in (*fast, *slow):
            np.testing.assert_array_equal(got, np.asarray(value, np.float32) * 2)


@pytest.mark.parametrize("kind", ["rank", "static_dim", "lossy_dtype", "string", "variable", "tensor"])
def test_feeds_that_must_be_rejected_fall_back_with_todays_error(kind, python_calls):
    a = tf.placeholder(tf.float32, (None, 3), name="a")
    i = tf.placeholder(tf.int32, (2,), name="i")
    v = tf.Variable(1.0, name="v")
    b = a + 1.0
    c = i * 2
    fetch, key, value = {
        "rank": (b, a, np.ones((2, 3, 1), np.float32)),
        "static_dim": (b, a, np.ones((2, 4), np.float32)),
        "lossy_dtype": (c, i, np.array([1.5, 2.5])),
        "string": (b, a, np.array([["x", "y", "z"]])),
        "variable": (b, a, v),
        "tensor": (c, i, c),
    }[kind]
    with tf.Session() as sess:
        good = np.zeros((1, 3), np.float32) if key is a else np.zeros(2, np.int32)
        call = sess.make_callable(fetch, [key])
        sess.run(fetch, {key: good}), call(good)
        del python_calls[:]
        for fn in (lambda: sess.run(fetch, {key: value}), lambda: call(value)):
            fast, slow = _both(lambda fn=fn: _error_of(fn))
            assert fast == slow
            assert fast[0] in (ValueError, TypeError)
        np.testing.assert_array_equal(call(good), sess.run(fetch, {key: good}))  # still fine afterwards


def test_kernel_errors_are_todays_errors():
    """An error the program itself reports (feeds whose unknown dims disagree) names the node, in both paths."""
    a = tf.placeholder(tf.float32, (None, 3), name="a")
    b = tf.placeholder(tf.float32, (None, 3), name="b")
    s = tf.add(a, b, name="sum")
    with tf.Session() as sess:
        call = sess.make_callable(s, [a, b])
        ok = np.ones((2, 3), np.float32)
        sess.run(s, {a: ok, b: ok}), call(ok, ok)
        bad = np.ones((5, 3), np.float32)
        for fn in (lambda: sess.run(s, {a: ok, b: bad}), lambda: call(ok, bad)):
            fast, slow = _both(lambda fn=fn: _error_of(fn))
            assert fast == slow
            assert fast[0] is errors.InvalidArgumentError and "sum" in fast[1]
        np.testing.assert_array_equal(call(ok, ok), 2 * ok)


def test_unknown_rank_uninitialized_variables_closed_sessions():
    p = tf.placeholder(tf.float32, None, name="p")
    q = p * 3.0
    v = tf.Variable(2.0)
    w = v * 1.0
    sess = tf.Session()
    for value in (np.ones(2, np.float32), np.ones((2, 2), np.float32), np.ones(3, np.float32)):
        for _ in range(2):  # a new rank replans; the plan for the old rank stays right for its rank
            np.testing.assert_array_equal(sess.run(q, {p: value}), value * 3)
    call = sess.make_callable(w)
    for fn in (lambda: sess.run(w), call):
        with pytest.raises(errors.FailedPreconditionError, match="uninitialized"):
            fn()
    sess.run(v.initializer)
    assert sess.run(w) == call() == 2.0
    sess.close()
    for fn in (lambda: sess.run(w), call, lambda: sess.run(q, {p: np.ones(2, np.float32)})):
        with pytest.raises(RuntimeError, match="closed Session"):
            fn()


def test_a_new_callee_is_seen_at_once(python_calls):
    """Whatever replaces a plan's kernel (a tier swap, another tier) is what the next call runs."""
    x = tf.placeholder(tf.float32, (None,), name="x")
    double, triple = x * 2.0, x * 3.0
    v = np.arange(4, dtype=np.float32)
    with tf.Session() as sess:
        call = sess.make_callable(double, [x])
        for _ in range(2):
            sess.run(double, {x: v}), sess.run(triple, {x: v}), call(v)
        plan = next(p for key, (p, _) in sess._plans.items() if key[0] is double)
        other = next(p for key, (p, _) in sess._plans.items() if key[0] is triple)
        assert plan.fast.armed
        plan.kernel = other.kernel
        assert not plan.fast.armed
        del python_calls[:]
        np.testing.assert_array_equal(sess.run(double, {x: v}), v * 3)  # the Python path, which arms again
        assert plan.fast.armed and python_calls == [plan]
        np.testing.assert_array_equal(sess.run(double, {x: v}), v * 3)
        assert python_calls == [plan]
        # make_callable built its own plan for `double`: still the original program
        np.testing.assert_array_equal(call(v), v * 2)


def test_tier_swap_then_c_path(monkeypatch, tmp_path, python_calls):
    """With tiers on, calls stay on the Python path (which polls the swap) until the -O3 module is in; the
    C path then runs that module and agrees with the Python path."""
    monkeypatch.setenv("PYGRAPH_OPTIMIZED_ONLY", "0")
    monkeypatch.setenv("PYGRAPH_CACHE_DIR", str(tmp_path / "cache"))
    toolchain.clear_memory_cache()
    tiers.swaps_allowed.clear()
    try:
        x = tf.placeholder(tf.float32, (None, 2), name="x")
        w = tf.Variable(np.ones((2, 1), np.float32))
        out = tf.matmul(x, w) * 0.5
        step = tf.assign_add(w, tf.ones((2, 1)))
        v = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
        with tf.Session() as sess:
            sess.run(w.initializer)
            for _ in range(3):
                sess.run(out, {x: v}), sess.run(step)
            plans = [p for key, (p, _) in sess._plans.items() if key[0] is out or key[0] is step]
            plan = next(p for key, (p, _) in sess._plans.items() if key[0] is out)
            first_tier = plan.kernel  # the interpreter (or the quick build where it cannot run)
            assert len(plans) == 2 and not any(p.fast.armed for p in plans)
            for p in plans:
                assert p.upgrade.job.wait(300) and p.upgrade.job.error is None
            tiers.swaps_allowed.set()
            sess.run(out, {x: v}), sess.run(step)  # swap, then armed with the -O3 module
            assert plan.upgrade is None and plan.kernel is not first_tier
            assert all(p.fast.armed for p in plans)
            del python_calls[:]
            fast = [sess.run(out, {x: v}), sess.run(step).copy(), sess.run(out, {x: v})]
            assert not python_calls
            with session.fast_path_disabled():
                slow_last = sess.run(out, {x: v})
            np.testing.assert_array_equal(fast[2], slow_last)
            np.testing.assert_array_equal(fast[1], np.full((2, 1), 6.0, np.float32))
            np.testing.assert_allclose(fast[2], v @ fast[1] * 0.5)
    finally:
        tiers.swaps_allowed.set()
        toolchain.clear_memory_cache()


def test_many_threads_share_runs_and_callables():
    x = tf.placeholder(tf.float32, (None, 4), name="x")
    y = tf.reduce_sum(x * 2.0 + 1.0, axis=1)
    counter = tf.Variable(0.0)
    bump = tf.assign_add(counter, 1.0, use_locking=True)
    sess = tf.Session()
    sess.run(counter.initializer)
    call = sess.make_callable(y, [x])
    failures, n_threads, n_calls = [], 8, 150
    start = threading.Barrier(n_threads)

    def body(i):
        try:
            rng = np.random.default_rng(i)
            start.wait()
            kept = None
            for k in range(n_calls):
                v = rng.standard_normal((int(rng.integers(1, 30)), 4)).astype(np.float32)
                got = call(v) if k % 2 else sess.run(y, {x: v})
                np.testing.assert_allclose(got, (v * 2 + 1).sum(axis=1), rtol=1e-5, atol=1e-5)
                if kept is not None:  # a result we hold is never overwritten by another call
                    np.testing.assert_array_equal(kept[0], kept[1])
                kept = (got, got.copy())
                sess.run(bump)
        except BaseException as e:  # noqa: B036 (reported to the main thread)
            failures.append(e)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
        assert not t.is_alive(), "a thread is still running (deadlock?)"
    if failures:
        raise failures[0]
    assert sess.run(counter) == n_threads * n_calls  # no lost use_locking update
    sess.close()


def test_run_keeps_its_signature_and_sessions_are_collected():
    import inspect

    assert list(inspect.signature(tf.Session.run).parameters) == ["self", "fetches", "feed_dict", "options",
                                                                  "run_metadata"]
    assert "fetches" in tf.Session.run.__doc__ and tf.Session.run.__name__ == "run"
    x = tf.placeholder(tf.float32, (2,))
    y = x + 1.0
    sess = tf.Session()
    call = sess.make_callable(y, [x])
    call(np.zeros(2, np.float32)), call(np.zeros(2, np.float32))
    assert sess.run(y, {x: np.ones(2, np.float32)}, options=None, run_metadata=None).tolist() == [2.0, 2.0]
    gone = weakref.ref(sess)
    del sess, call
    gc.collect()
    assert gone() is None


def test_the_c_path_keeps_no_references():
    """Results, errors and fallbacks in C leave every object's reference count as they found it."""
    import sys

    a = tf.placeholder(tf.float32, (None, 3), name="a")
    b = tf.placeholder(tf.float32, (None, 3), name="b")
    s = a + b
    ok, bad = np.ones((2, 3), np.float32), np.ones((5, 3), np.float32)
    with tf.Session() as sess:
        call = sess.make_callable([s, s], [a, b])
        for _ in range(2):
            sess.run(s, {a: ok, b: ok}), call(ok, ok)
        before = [sys.getrefcount(o) for o in (ok, bad, a, b, s)]
        for _ in range(50):
            sess.run(s, {a: ok, b: ok})
            call(ok, ok)
            sess.run(s, {a: ok, b: ok.tolist()})  # a fallback
            with pytest.raises(errors.InvalidArgumentError):
                call(ok, bad)
            with pytest.raises(errors.InvalidArgumentError):
                sess.run(s, {a: ok, b: bad})
        assert [sys.getrefcount(o) for o in (ok, bad, a, b, s)] == before
