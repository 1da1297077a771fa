"""The tiered start (codegen/tiers.py): first calls run in the interpreter (or a quick -O1 build for ops
it lacks), the -O3 build arrives from a background thread and is swapped in at a call boundary,
invisibly (random streams exact, other floats to float32 rounding); failures reach the caller; closing
the session or exiting stops a compile in flight."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from pygraph.codegen import tiers, toolchain

import pygraph as tf
from pygraph import errors
from pygraph.interpreter import Interpreter

STEPS = 8
X = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
Y = np.array([[0.5], [-1.0], [2.0], [0.25]], np.float32)


@pytest.fixture
def tiered(monkeypatch, tmp_path):
    """Tiers on, a cache of this test's own (so -O3 is not found there already), swaps allowed."""
    monkeypatch.setenv("PYGRAPH_OPTIMIZED_ONLY", "0")
    monkeypatch.setenv("PYGRAPH_CACHE_DIR", str(tmp_path / "cache"))
    toolchain.clear_memory_cache()
    yield tmp_path
    tiers.swaps_allowed.set()
    toolchain.clear_memory_cache()


def _wrapper(tmp_path, on_o3):
    """A compiler that runs `on_o3` (shell) for -O3 compiles, logs every command, then runs c++."""
    path = tmp_path / "cxx-wrapper"
    path.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        echo "$*" >> {tmp_path}/commands.log
        case "$*" in *-O3*) {on_o3} ;; esac
        exec c++ "$@"
        """))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _model():
    """Linear regression with Adam and a random op in the loss: updates variables, advances a stream."""
    tf.set_random_seed(3)
    x = tf.placeholder(tf.float32, (None, 3), name="x")
    y = tf.placeholder(tf.float32, (None, 1), name="y")
    w = tf.Variable(tf.random_normal([3, 1], seed=1), name="w")
    b = tf.Variable(tf.zeros([1]), name="b")
    noise = tf.random_uniform([4, 1], seed=2)
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b + 0.1 * noise - y))
    train = tf.train.AdamOptimizer(0.1).minimize(loss)
    return x, y, w, b, noise, loss, train


def _train_plan(sess):
    """The session's plan that feeds x (the training step)."""
    plans = [p for key, (p, _) in sess._plans.items() if len(key) > 1]
    assert len(plans) == 1
    return plans[0]


def _train(swap_at):
    """Losses, noise draws and final variables of STEPS steps; the -O3 module is swapped in before step
    `swap_at` (1-based), or never when swap_at is None."""
    tf.reset_default_graph()
    x, y, w, b, noise, loss, train = _model()
    tiers.swaps_allowed.clear()
    seen, swapped_at = [], None
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        served = []
        for step in range(1, STEPS + 1):
            if step == swap_at:
                plan = _train_plan(sess)
                assert plan.upgrade is not None and plan.upgrade.job is not None
                assert plan.upgrade.job.wait(300) and plan.upgrade.job.error is None
                tiers.swaps_allowed.set()
            _, lv, nv = sess.run([train, loss, noise], {x: X, y: Y})
            seen.append((lv, nv))
            served.append(type(_train_plan(sess).kernel))
            if swapped_at is None and _train_plan(sess).upgrade is None:
                swapped_at = step
        values = sess.run([w, b])
    assert served == [Interpreter if swapped_at is None or s < swapped_at else tf._runtime.Kernel
                      for s in range(1, STEPS + 1)]
    return seen, values, swapped_at


def test_swap_is_invisible_and_random_streams_continue(tiered, monkeypatch):
    never, never_vars, swapped = _train(None)
    assert swapped is None  # the interpreter ran every step
    at5, at5_vars, swapped = _train(5)
    assert swapped == 5
    monkeypatch.setenv("PYGRAPH_OPTIMIZED_ONLY", "1")
    first, first_vars, swapped = _train(None)
    assert swapped == 1  # optimized from the first call: nothing to swap
    for run in (at5, first):
        for (l0, n0), (l1, n1) in zip(never, run):
            np.testing.assert_allclose(l0, l1, rtol=1e-5)  # float32 rounding apart
            np.testing.assert_array_equal(n0, n1)  # the random stream: the same numbers in either tier
    for values in (at5_vars, first_vars):
        for v0, v1 in zip(never_vars, values):
            np.testing.assert_allclose(v0, v1, rtol=1e-5, atol=1e-6)
    draws = [n for _, n in never]
    assert all(not np.array_equal(a, b) for a, b in zip(draws, draws[1:]))  # the stream advances
    assert never[-1][0] < never[0][0]  # and it trains


def test_optimized_only_never_builds_the_quick_tier(tmp_path, monkeypatch):
    monkeypatch.setenv("PYGRAPH_OPTIMIZED_ONLY", "1")
    monkeypatch.setenv("PYGRAPH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PYGRAPH_CXX", _wrapper(tmp_path, ":"))
    toolchain.clear_memory_cache()
    x, y, w, b, noise, loss, train = _model()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train, {x: X, y: Y})
        assert _train_plan(sess).upgrade is None
    commands = (tmp_path / "commands.log").read_text().splitlines()
    assert commands and all(" -O3 " in c and " -O0 " not in c for c in commands)
    monkeypatch.setenv("PYGRAPH_OPTIMIZED_ONLY", "fast")
    with pytest.raises(ValueError, match="PYGRAPH_OPTIMIZED_ONLY"):
        tf.Session().run(tf.constant(1.0) + 1.0)


def test_background_compile_error_reaches_the_caller(tiered, monkeypatch):
    monkeypatch.setenv("PYGRAPH_CXX", _wrapper(tiered, "echo 'internal compiler error: boom' >&2; exit 4"))
    x, y, w, b, noise, loss, train = _model()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {x: X, y: Y})  # a fed program: the first call starts the -O3 compile
        job = _train_plan(sess).upgrade.job
        assert job.wait(120)
        before = sess.run(w)
        with pytest.raises(errors.CompileError, match="boom"):
            sess.run(train, {x: X, y: Y})
        np.testing.assert_array_equal(sess.run(w), before)  # raised before the step ran
        sess.run(train, {x: X, y: Y})  # reported once; the interpreter keeps serving
        assert not np.array_equal(sess.run(w), before)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not open(f"/proc/{pid}/stat").read().split(") ")[1].startswith("Z")


def _wait_for(path, seconds=60):
    deadline = time.monotonic() + seconds
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return int(path.read_text())


def test_closing_the_session_stops_its_compile(tiered, monkeypatch):
    marker = tiered / "o3.pid"
    monkeypatch.setenv("PYGRAPH_CXX", _wrapper(tiered, f"echo $$ > {marker}; sleep 120"))
    x, y, w, b, noise, loss, train = _model()
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    sess.run(train, {x: X, y: Y})
    sess.run(train, {x: X, y: Y})
    job = _train_plan(sess).upgrade.job
    pid = _wait_for(marker)
    start = time.monotonic()
    sess.close()
    assert job.wait(10) and isinstance(job.error, tiers.Cancelled)
    assert time.monotonic() - start < 10 and tiers.in_flight() == 0
    deadline = time.monotonic() + 10
    while _pid_alive(pid):
        assert time.monotonic() < deadline, "the compiler outlived its session"
        time.sleep(0.05)


def test_exit_with_a_compile_in_flight_is_prompt(tiered):
    marker = tiered / "o3.pid"
    env = dict(os.environ, PYGRAPH_OPTIMIZED_ONLY="0", PYGRAPH_CACHE_DIR=str(tiered / "cache"),
               PYGRAPH_CXX=_wrapper(tiered, f"echo $$ > {marker}; sleep 120"))
    child = textwrap.dedent(f"""
        import time, pathlib, numpy as np, pygraph as tf
        x = tf.placeholder(tf.float32, (None, 2))
        v = tf.Variable(tf.zeros([2]))
        step = tf.assign_add(v, tf.reduce_sum(x, 0))
        sess = tf.Session()
        sess.run(v.initializer)
        sess.run(step, {{x: np.ones((3, 2), np.float32)}})
        sess.run(step, {{x: np.ones((3, 2), np.float32)}})
        while not pathlib.Path({str(marker)!r}).exists():
            time.sleep(0.05)
        print(sess.run(v))
        """)
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, text=True, timeout=100)
    assert out.returncode == 0, out.stderr
    assert "[6. 6.]" in out.stdout
    assert time.monotonic() - start < 60  # the 120 s compile neither held exit nor ran on
    pid = _wait_for(marker)
    deadline = time.monotonic() + 10
    while _pid_alive(pid):
        assert time.monotonic() < deadline, "the compiler outlived the process"
        time.sleep(0.05)


def test_a_warm_process_skips_the_interpreter(tiered):
    x, y, w, b, noise, loss, train = _model()
    init = tf.global_variables_initializer()
    with tf.Session() as sess:
        sess.run(init)
        first = sess.run(loss, {x: X, y: Y})
        plan = _train_plan(sess)
        assert isinstance(plan.kernel, Interpreter) and plan.upgrade.job.wait(300)
    toolchain.clear_memory_cache()  # as a new process finds the cache
    compiles = toolchain.stats["compiles"]
    with tf.Session() as sess:
        sess.run(init)
        np.testing.assert_allclose(sess.run(loss, {x: X, y: Y}), first, rtol=1e-6)
        plan = _train_plan(sess)
        assert not isinstance(plan.kernel, Interpreter) and plan.upgrade is None  # -O3 from its first call
        assert toolchain.stats["compiles"] == compiles


def test_a_program_the_interpreter_cannot_run_starts_on_the_quick_build(tiered, monkeypatch):
    monkeypatch.setenv("PYGRAPH_CXX", _wrapper(tiered, ":"))
    clip = tf.inline_op("TiersClipInline", ["a"], {tf.float32: "a > 1.0f ? 1.0f : a"})
    x = tf.placeholder(tf.float32, (None,))
    with tf.Session() as sess:
        assert list(sess.run(clip(x) * 2.0, {x: [0.25, 3.0]})) == [0.5, 2.0]
        plan = _train_plan(sess)
        assert isinstance(plan.kernel, tf._runtime.Kernel) and plan.upgrade is not None
        assert plan.upgrade.job.wait(300) and plan.upgrade.job.error is None
        sess.run(clip(x) * 2.0, {x: [0.25, 3.0]})
    commands = (tiered / "commands.log").read_text()
    assert " -O1 " in commands and " -O3 " in commands


def test_a_call_the_interpreter_refuses_runs_on_compiled_code(tiered):
    params = tf.placeholder(tf.float32, (3,))
    index = tf.placeholder(tf.int32, ())
    v = tf.Variable(0.0)
    with tf.control_dependencies([tf.assign_add(v, 1.0)]):
        picked = tf.gather(params, index) * 1.0
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(picked, {params: [1.0, 2.0, 3.0], index: 2}) == 3.0
        plan = _train_plan(sess)
        assert isinstance(plan.kernel, Interpreter)
        with pytest.raises(errors.InvalidArgumentError, match="indices"):
            sess.run(picked, {params: [1.0, 2.0, 3.0], index: 7})  # numpy raises IndexError: compiled code runs it
        assert isinstance(plan.kernel, tf._runtime.Kernel)  # swapped in for that call, and kept
        before = sess.run(v)
        assert sess.run(picked, {params: [1.0, 2.0, 3.0], index: 0}) == 1.0
        assert sess.run(v) == before + 1.0  # one update per call: the refused call's was undone, then redone


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_compiles_its_own_optimized_build(tiered):
    x = tf.placeholder(tf.float32, (None,))
    y = tf.reduce_sum(x * 2.0 + 1.0)
    sess = tf.Session()
    ones = np.ones(3, np.float32)
    for _ in range(2):  # the parent's job is queued or running when the child forks
        sess.run(y, {x: ones})
    pid = os.fork()
    if pid == 0:  # the child: its plan must still reach -O3 (no worker thread came along)
        code = 1
        try:
            plan = _train_plan(sess)
            deadline = time.monotonic() + 120
            while plan.upgrade is not None and time.monotonic() < deadline:
                assert sess.run(y, {x: ones}) == 9.0
                time.sleep(0.01)
            code = 0 if plan.upgrade is None else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    sess.close()
    assert os.waitstatus_to_exitcode(status) == 0
