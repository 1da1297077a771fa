"""The interpreter tier (pygraph/interpreter.py) against the compiled code: every registered op, run in one
program by each tier on the same inputs; assign ops and use_locking; tf.cond runs only its taken branch.

Random ops must agree bit for bit (the interpreter calls the compiled kernels' own code); other floats to
float32 rounding (numpy's sums and math functions round differently from fused C++ loops)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from pygraph.codegen import tiers, toolchain

import pygraph as tf
from pygraph.interpreter import Interpreter
from pygraph.ops import array

RANDOM = {"RandomUniform", "RandomStandardNormal", "TruncatedNormal", "RandomUniformInt", "RandomShuffle"}
# not a node a program runs: fed (Placeholder), the session's buffers (VariableV2, Assign*: see
# test_assign_ops_and_locks_match), control only (NoOp: test_noop_and_cond_branches)
ELSEWHERE = {"Placeholder", "VariableV2", "Assign", "AssignAdd", "AssignSub", "NoOp"}


def _all_ops_graph():
    """One graph using every registered op type on fed inputs (so nothing is folded away)."""
    tf.set_random_seed(11)
    x = tf.placeholder(tf.float32, (3, 4), name="x")
    x2 = tf.placeholder(tf.float32, (3, 4), name="x2")
    p = tf.placeholder(tf.float32, (3, 4), name="p")  # in (0.1, 0.9): inside every function's domain
    i = tf.placeholder(tf.int32, (3, 4), name="i")
    j = tf.placeholder(tf.int32, (3, 4), name="j")  # nonzero
    b = tf.placeholder(tf.bool, (3, 4), name="b")
    k = tf.placeholder(tf.int32, (), name="k")
    xu = tf.placeholder(tf.float32, (None, 4), name="xu")  # shape known only when fed
    img = tf.placeholder(tf.float32, (2, 5, 5, 3), name="img")
    sq = tf.placeholder(tf.float32, (2, 3, 3), name="sq")
    lab = tf.placeholder(tf.int64, (3,), name="lab")  # in [0, 4): labels for x as logits
    out = [tf.abs(x), tf.acos(p), tf.add(x, x2), tf.add_n([x, x2, p]), tf.argmax(x, 1), tf.argmin(x, 0),
           tf.asin(p), tf.atan(x), tf.atan2(x, x2), tf.matmul(sq, sq), tf.nn.bias_add(x, x2[0]),
           array.broadcast_to_shape_of(x2[0], x), tf.cast(x, tf.int32), tf.ceil(x), tf.concat([x, x2], 1),
           tf.cos(x), tf.nn.elu(x), tf.equal(i, j), tf.erf(x), tf.exp(x), tf.expand_dims(x, 1), tf.expm1(x),
           tf.fill([2, 3], k), tf.floor(x), tf.floordiv(i, j), tf.floormod(i, j), tf.gather(x, [2, 0]),
           tf.greater(x, x2), tf.greater_equal(i, j), tf.identity(x), tf.is_finite(x / x2), tf.is_inf(x / x2),
           tf.is_nan(x / x2), tf.nn.leaky_relu(x, 0.3), tf.less(x, x2), tf.less_equal(i, j), tf.log(p),
           tf.log1p(p), tf.logical_and(b, tf.logical_not(b)), tf.logical_or(b, b),
           tf.matmul(x, x2, transpose_b=True),
           tf.matmul(tf.constant(np.arange(40, dtype=np.float32).reshape(10, 4)), x, transpose_b=True),
           tf.matrix_inverse(sq + np.eye(3, dtype=np.float32) * 3.0), tf.reduce_max(x, 1), tf.maximum(x, x2),
           tf.reduce_mean(x, 0),
           tf.reduce_min(x), tf.minimum(i, j), tf.multiply(x, x2), tf.negative(x), tf.not_equal(i, j),
           tf.one_hot(i[0], 5), tf.ones_like(x), tf.stack([x, x2]), tf.placeholder_with_default(x2, (3, 4)),
           tf.pow(p, x), tf.reduce_prod(p, 1), x / x2, tf.reciprocal(x2), tf.nn.relu(x),
           tf.nn.relu6(x * 8.0), tf.reshape(x, [4, 3]), tf.round(x * 3.0), tf.rsqrt(p), tf.where(b, x, x2),
           tf.nn.selu(x), tf.shape(xu), tf.sigmoid(x), tf.sign(x), tf.sin(x), tf.size(xu), tf.nn.softplus(x),
           tf.nn.softsign(x), tf.sqrt(p), tf.square(x), tf.squared_difference(x, x2), tf.squeeze(x[:1]),
           tf.stop_gradient(x), x[1:, ::-1], x - x2, tf.reduce_sum(x, 1), array.sum_to_shape_of(x, x2[0]),
           tf.tan(p), tf.tanh(x), tf.tile(x, [1, 2]), tf.nn.top_k(x, 2)[0], tf.transpose(x),
           tf.truncatediv(i, j), tf.truncatemod(i, j), tf.zeros_like(x), *tf.unstack(x),
           *tf.split(x, 2, axis=1), *tf.split(x, [1, -1], 0),
           tf.random_uniform([4, 5]), tf.random_normal([7]), tf.truncated_normal([3, 3], dtype=tf.float64),
           tf.random_uniform([6], -3, 9, dtype=tf.int32), tf.random_shuffle(x),
           tf.nn.sparse_softmax_cross_entropy_with_logits(labels=lab, logits=x)]
    with tf.control_dependencies([tf.identity(x).op]):  # keeps it from being folded into a constant
        out.append(tf.range(2, 20, 3))
    filt = tf.constant(np.arange(1, 55, dtype=np.float32).reshape(3, 3, 3, 2) / 27.0)
    conv = tf.nn.conv2d(img, filt, [1, 2, 2, 1], "SAME")
    maxp = tf.nn.max_pool(img, [1, 3, 3, 1], [1, 2, 2, 1], "SAME")
    avgp = tf.nn.avg_pool(img, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    cost = tf.reduce_sum(conv * conv) + tf.reduce_sum(maxp * maxp) + tf.reduce_sum(avgp * avgp)
    out += [conv, maxp, avgp, *tf.gradients(cost, [img, filt])]
    summaries = tf.summary.merge([tf.summary.scalar("s", x[0, 1]), tf.summary.histogram("h", x)])
    rng = np.random.default_rng(5)
    def normal(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    feeds = {x: normal(3, 4), x2: normal(3, 4), xu: normal(2, 4), p: rng.uniform(0.1, 0.9, (3, 4)).astype(np.float32),
             i: rng.integers(-9, 9, (3, 4), dtype=np.int32),
             j: rng.choice([-4, -3, 2, 5], (3, 4)).astype(np.int32), b: rng.random((3, 4)) < 0.5, k: 2,
             img: normal(2, 5, 5, 3), sq: normal(2, 3, 3), lab: np.array([3, 0, 2], np.int64)}
    # every output of every op but the fed ones: intermediate ops (gradients' own) are compared too
    graph = tf.get_default_graph()
    fetched = [t for op in graph.get_operations() if op.type != "Placeholder"
               for t in op.outputs] + [summaries]
    return fetched, feeds, out


def _plan_of(sess):
    plans = [p for p, _ in sess._plans.values()]
    assert len(plans) == 1
    return plans[0]


@pytest.fixture(scope="module")
def both_tiers(tmp_path_factory):
    """{op type: [(tensor name, interpreted value, compiled value)]} plus the interpreted program's node
    and host op types. The interpreted run comes first: the -O3 module must not be cached yet."""
    mp = pytest.MonkeyPatch()
    mp.setenv("PYGRAPH_CACHE_DIR", str(tmp_path_factory.mktemp("interp") / "cache"))
    toolchain.clear_memory_cache()
    tf.reset_default_graph()
    fetched, feeds, _ = _all_ops_graph()
    try:
        mp.setenv("PYGRAPH_OPTIMIZED_ONLY", "0")
        tiers.swaps_allowed.clear()
        with tf.Session() as sess:
            interpreted = sess.run(fetched, feeds)
            plan = _plan_of(sess)
            assert isinstance(plan.kernel, Interpreter)  # it served the call (no fallback to compiled code)
            ran = {n.op for n in plan.request.nodes} | {op.type for op in plan.host_steps or ()}
            assert plan.upgrade.job.wait(600) and plan.upgrade.job.error is None
        mp.setenv("PYGRAPH_OPTIMIZED_ONLY", "1")
        with tf.Session() as sess:
            compiled = sess.run(fetched, feeds)
            assert not isinstance(_plan_of(sess).kernel, Interpreter)
    finally:
        tiers.swaps_allowed.set()
        mp.undo()
        toolchain.clear_memory_cache()
    table = {}
    for t, a, c in zip(fetched, interpreted, compiled):
        table.setdefault(t.op.type, []).append((t.name, a, c))
    return table, ran


def _registered_types():
    """(op types pygraph itself registers that the interpreter runs, those it leaves to compiled code): other
    tests add their own ops to this process's registry. Host ops run on the results in either tier; sources
    (constants, placeholders, variables) are the program's arguments."""
    code = ("import pygraph, pygraph.ops.registry as r, pygraph.interpreter as i\n"
            "for t, row in sorted(r.REGISTRY.items()):\n"
            "    if row.kind not in (r.HOST, r.SOURCE): print(t, int(t in i._STRUCTURAL or row.numpy is not None))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    rows = [line.split() for line in out.splitlines()]
    return [t for t, ok in rows if ok == "1"], [t for t, ok in rows if ok == "0"]


OP_TYPES, NOT_INTERPRETED = _registered_types()


@pytest.mark.parametrize("op_type", NOT_INTERPRETED or ["(none)"])
def test_ops_without_a_numpy_reference_start_on_compiled_code(op_type):
    """Never skipped silently: such a program is not interpreted (it starts on the quick -O1 build)."""
    from pygraph.codegen import Node

    from pygraph.interpreter import interpretable

    if op_type == "(none)":
        return
    assert op_type not in ELSEWHERE | {"Switch", "Merge"}
    assert not interpretable([Node(0, op_type, "n", (), {}, ("float32",), ((),))])


def test_every_registered_op_is_in_the_comparison(both_tiers):
    table, ran = both_tiers
    assert len(OP_TYPES) > 100
    missing = sorted(set(OP_TYPES) - set(table) - ELSEWHERE - {"Switch", "Merge"})
    assert missing == [], f"op types the interpreter comparison does not cover: {missing}"
    assert not (set(table) - ran - {"Placeholder"}), "ops fetched but not run by the interpreter"


@pytest.mark.parametrize("op_type", sorted(set(OP_TYPES) - ELSEWHERE - {"Switch", "Merge"}))
def test_op_matches_compiled_code(both_tiers, op_type):
    table, _ = both_tiers
    assert op_type in table, f"{op_type} is not in the comparison graph"
    for name, got, want in table[op_type]:
        got, want = np.asarray(got), np.asarray(want)
        assert got.shape == want.shape and got.dtype == want.dtype, name
        if op_type in RANDOM or got.dtype.kind not in "fc":  # the same kernels, or exact arithmetic
            np.testing.assert_array_equal(got, want, err_msg=name)
        else:
            rtol = 1e-4 if op_type == "MatrixInverse" else 2e-5
            np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-5, err_msg=name)


def _run_tiered(build, steps, monkeypatch, tmp_path, interpreted):
    """build() -> (fetches, feeds, read); `steps` runs of fetches then read, in one tier throughout."""
    monkeypatch.setenv("PYGRAPH_CACHE_DIR", str(tmp_path / ("i" if interpreted else "c")))
    monkeypatch.setenv("PYGRAPH_OPTIMIZED_ONLY", "0" if interpreted else "1")
    toolchain.clear_memory_cache()
    tiers.swaps_allowed.clear()
    tf.reset_default_graph()
    try:
        fetches, feeds, read = build()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            results = [sess.run(fetches, feeds) for _ in range(steps)]
            kinds = {type(p.kernel) for p, _ in sess._plans.values()}
            assert (Interpreter in kinds) == interpreted
            return results, sess.run(read)
    finally:
        tiers.swaps_allowed.set()


def _assigns():
    x = tf.placeholder(tf.float32, (2,))
    v = tf.Variable([1.0, 2.0], name="v")
    w = tf.Variable([10.0, 20.0], name="w")
    c = tf.Variable(0, name="count")
    ops = [tf.assign(v, v * x + 1.0, use_locking=True), tf.assign_add(w, x), tf.assign_sub(c, 3),
           tf.assign_add(c, 1, use_locking=True)]
    return ops, {x: np.array([0.5, -2.0], np.float32)}, [v, w, c]


def test_assign_ops_and_locks_match(monkeypatch, tmp_path):
    runs, final = _run_tiered(_assigns, 3, monkeypatch, tmp_path, interpreted=True)
    want_runs, want = _run_tiered(_assigns, 3, monkeypatch, tmp_path, interpreted=False)
    for got, expect in zip(final, want):
        np.testing.assert_array_equal(got, expect)
    np.testing.assert_array_equal(final[1], [11.5, 14.0])  # three x added to w
    for r, e in zip(runs, want_runs):  # each assign's value as the step sees it
        np.testing.assert_array_equal(r[1], e[1])


def _cond_model(flag_value):
    x = tf.placeholder(tf.float32, (3,))
    flag = tf.placeholder(tf.bool, ())
    hits = tf.Variable(0.0, name="hits")

    def taken():
        with tf.control_dependencies([tf.assign_add(hits, 1.0)]):
            return tf.identity(x * 2.0)

    def other():
        with tf.control_dependencies([tf.assign_add(hits, 100.0)]):
            return tf.random_uniform([3], seed=4) + x
    y = tf.cond(flag, taken, other)
    with tf.control_dependencies([y]):
        done = tf.no_op()
    return [y, done], {x: np.array([1.0, 2.0, 3.0], np.float32), flag: flag_value}, hits


@pytest.mark.parametrize("flag", [True, False])
def test_noop_and_cond_run_only_the_taken_branch(monkeypatch, tmp_path, flag):
    runs, hits = _run_tiered(lambda: _cond_model(flag), 2, monkeypatch, tmp_path, interpreted=True)
    want_runs, want_hits = _run_tiered(lambda: _cond_model(flag), 2, monkeypatch, tmp_path, interpreted=False)
    assert hits == want_hits == (2.0 if flag else 200.0)  # only the taken branch's assign ran, once a call
    for r, e in zip(runs, want_runs):
        assert r[1] is None
        np.testing.assert_array_equal(r[0], e[0])  # x * 2, or the branch's random draws: exact
    if flag:
        np.testing.assert_array_equal(runs[0][0], [2.0, 4.0, 6.0])
    else:
        assert not np.array_equal(runs[0][0], runs[1][0])  # the branch's stream advances per call
