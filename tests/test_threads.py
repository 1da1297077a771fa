"""One Session used from many threads at once, as TF1 allows: shared callables, shared sess.run, mixed
fetch sets compiled lazily, big parallel loops, kernel errors, random ops and use_locking variable updates.

Each scenario runs in a child process with a timeout: a deadlock (a thread waiting for a kernel while
holding the GIL) would otherwise hang the whole test run instead of failing it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

THREADS = 16
TIMEOUT_S = 120


def _in_threads(n, body):
    """Runs body(thread_index) on n threads started together; re-raises the first failure."""
    start, failures = threading.Barrier(n), []

    def run(i):
        try:
            start.wait()
            body(i)
        except BaseException as e:  # noqa: B036 (reported to the main thread)
            failures.append(e)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT_S)
        assert not t.is_alive(), "a thread is still running (deadlock?)"
    if failures:
        raise failures[0]


def _row_model(tf):
    """y = sum(2x + 1, axis 1) (a reduction) and z = x @ W (BLAS), for x of shape (batch, 4)."""
    w = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    y = tf.reduce_sum(x * 2.0 + 1.0, axis=1)
    z = tf.matmul(x, tf.constant(w))
    return x, y, z, lambda v: ((v * 2 + 1).sum(axis=1), v @ w)


def scenario_shared_callable(tf):
    x, y, z, ref = _row_model(tf)
    sess = tf.Session()
    call = sess.make_callable([y, z], feed_list=[x])

    def body(i):
        rng = np.random.default_rng(i)
        kept = None
        for _ in range(200):
            v = rng.standard_normal((int(rng.integers(1, 40)), 4)).astype(np.float32)
            got_y, got_z = call(v)
            want_y, want_z = ref(v)
            np.testing.assert_allclose(got_y, want_y, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(got_z, want_z, rtol=1e-5, atol=1e-5)
            if kept is not None:  # a result we hold is never overwritten by a later call, ours or not
                np.testing.assert_array_equal(kept[0], kept[1])
            kept = (got_y, got_y.copy())

    _in_threads(THREADS, body)


def scenario_shared_run(tf):
    x, y, z, ref = _row_model(tf)
    sess = tf.Session()

    def body(i):
        rng = np.random.default_rng(100 + i)
        for _ in range(200):
            v = rng.standard_normal((int(rng.integers(1, 40)), 4)).astype(np.float32)
            np.testing.assert_allclose(sess.run(y, {x: v}), ref(v)[0], rtol=1e-5, atol=1e-5)

    _in_threads(THREADS, body)


def scenario_mixed_fetch_sets(tf):
    """Threads race to run fetch structures nobody compiled yet: each plan is built once, all results right."""
    from pygraph import session as session_module

    x, y, z, ref = _row_model(tf)
    s = tf.reduce_max(z, axis=0)
    sess = tf.Session()
    builds, real_build = [], session_module.build_plan

    def counting_build(*args, **kwargs):
        builds.append(args[1])
        return real_build(*args, **kwargs)

    session_module.build_plan = counting_build
    fetch_sets = [y, z, [y, z], {"z": z, "s": s}, (s, y), [z, y, s]]

    def check(which, got, v):
        want_y, want_z = ref(v)
        want = {id(y): want_y, id(z): want_z, id(s): want_z.max(axis=0)}
        fetched = fetch_sets[which]
        pairs = (zip(fetched.values(), got.values()) if isinstance(fetched, dict)
                 else zip(fetched, got) if isinstance(fetched, (list, tuple)) else [(fetched, got)])
        for tensor, value in pairs:
            np.testing.assert_allclose(value, want[id(tensor)], rtol=1e-5, atol=1e-5)

    def body(i):
        rng = np.random.default_rng(200 + i)
        for k in range(60):
            which = (i + k) % len(fetch_sets)
            v = rng.standard_normal((int(rng.integers(1, 20)), 4)).astype(np.float32)
            check(which, sess.run(fetch_sets[which], {x: v}), v)

    _in_threads(THREADS, body)
    assert len(builds) == len(fetch_sets), f"{len(builds)} plans built for {len(fetch_sets)} fetch structures"


def scenario_big_parallel_loops(tf):
    """Loops big enough for the thread pool (elementwise and a reduction), submitted from many threads."""
    p = tf.placeholder(tf.float32, [None])
    w7 = tf.maximum(p * 1.5 + 0.5, 0.0) * 2.0 - p
    total = tf.reduce_sum(p * p)
    sess = tf.Session()
    call = sess.make_callable([w7, total], feed_list=[p])

    def body(i):
        v = np.random.default_rng(300 + i).random(1 << 19, dtype=np.float32)
        want = np.maximum(v * 1.5 + 0.5, 0) * 2 - v
        for _ in range(8):
            got, got_total = call(v)
            np.testing.assert_allclose(got, want, rtol=1e-6)
            np.testing.assert_allclose(got_total, np.sum(v.astype(np.float64) ** 2), rtol=1e-4)

    _in_threads(THREADS, body)


def scenario_errors_stay_with_their_call(tf):
    """Calls failing inside the kernel (reshape) while others succeed: each gets its own result or error."""
    x = tf.placeholder(tf.float32, [None], name="x")
    y = tf.reshape(x, [-1, 3], name="rows") * 2
    sess = tf.Session()

    def body(i):
        for k in range(100):
            if (i + k) % 3 == 0:
                with np.testing.assert_raises(tf.errors.InvalidArgumentError) as caught:
                    sess.run(y, {x: np.ones(4 + i % 2 * 3, np.float32)})
                message = str(caught.exception)
                assert f"tensor with {4 + i % 2 * 3} values" in message and "node rows" in message, message
            else:
                v = np.arange(3 * (1 + i), dtype=np.float32)
                np.testing.assert_array_equal(sess.run(y, {x: v}), v.reshape(-1, 3) * 2)

    _in_threads(THREADS, body)


def scenario_random_draws_differ(tf):
    """Every run of a random op draws new numbers, also when runs overlap (TF reserves samples atomically)."""
    r = tf.random_uniform([4], seed=7)
    sess = tf.Session()
    draws = []

    def body(i):
        for _ in range(50):
            draws.append(tuple(sess.run(r)))

    _in_threads(THREADS, body)
    assert len(set(draws)) == len(draws) == THREADS * 50, "two runs drew the same numbers"


def scenario_assign_add_use_locking(tf):
    """8 threads x N locked increments lose none (TF holds the variable's mutex around the update)."""
    n = 300
    counter = tf.Variable(0, name="counter")
    vector = tf.Variable(tf.zeros([4096]), name="vector")
    step = tf.group(tf.assign_add(counter, 1, use_locking=True), vector.assign_add(tf.ones([4096]), use_locking=True))
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    by_callable = sess.make_callable(step)

    def body(i):
        for k in range(n):
            sess.run(step) if k % 2 else by_callable()

    _in_threads(8, body)
    assert sess.run(counter) == 8 * n
    np.testing.assert_array_equal(sess.run(vector), np.full(4096, 8 * n, np.float32))


def scenario_optimizer_use_locking(tf):
    """An optimizer built with use_locking=True: 8 threads x N steps of var += 1 (loss -var, lr 1) all land."""
    n = 200
    v = tf.Variable(tf.zeros([1024]), name="v")
    step = tf.train.GradientDescentOptimizer(1.0, use_locking=True).minimize(-tf.reduce_sum(v))
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())

    def body(i):
        for _ in range(n):
            sess.run(step)

    _in_threads(8, body)
    np.testing.assert_array_equal(sess.run(v), np.full(1024, 8 * n, np.float32))


def scenario_assign_add_unlocked(tf):
    """Without use_locking, concurrent updates race as in TF: some may be lost, nothing crashes or hangs."""
    n = 300
    counter = tf.Variable(0, name="counter")
    inc = tf.assign_add(counter, 1)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())

    def body(i):
        for _ in range(n):
            sess.run(inc)

    _in_threads(8, body)
    assert n <= sess.run(counter) <= 8 * n


def test_use_locking_defaults_are_tfs():
    """TF's op defaults: Assign locks unless told not to, AssignAdd/AssignSub and Variable methods do not."""
    import pygraph as tf

    v = tf.Variable(1.0)
    assert v.initializer.get_attr("use_locking") is True
    assert tf.assign(v, 2.0).op.get_attr("use_locking") is True
    assert tf.assign(v, 2.0, use_locking=False).op.get_attr("use_locking") is False
    assert tf.assign_add(v, 1.0).op.get_attr("use_locking") is False
    assert tf.assign_sub(v, 1.0, use_locking=True).op.get_attr("use_locking") is True
    assert v.assign(3.0).op.get_attr("use_locking") is False
    assert v.assign_add(3.0, use_locking=True).op.get_attr("use_locking") is True
    node = next(n for n in tf.get_default_graph().as_graph_def().node if n.name == v.initializer.name)
    assert node.attr["use_locking"].b is True


SCENARIOS = {name[len("scenario_"):]: fn for name, fn in globals().items() if name.startswith("scenario_")}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_concurrent_session_use(name):
    env = dict(os.environ, PYGRAPH_NUM_THREADS="4")  # a pool with workers even on a 1-core runner
    try:
        proc = subprocess.run([sys.executable, __file__, name], capture_output=True, text=True, timeout=TIMEOUT_S,
                              env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"scenario {name} did not finish in {TIMEOUT_S} s: threads deadlocked")
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), (
        f"scenario {name} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


if __name__ == "__main__":
    import pygraph

    SCENARIOS[sys.argv[1]](pygraph)
    print("ok")
