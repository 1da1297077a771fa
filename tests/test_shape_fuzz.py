"""Generated-shape fuzzing (issue 8 §3): random small graphs of registry ops on tensors of rank 0-8 with
zero-size, broadcast, strided and huge dims, fed and static, run against the registry's numpy references.
Every case must give numpy's result or a clean pygraph error; a huge size may only ever be an error.

Hypothesis drives the worker in a child process (`python tests/test_shape_fuzz.py`), which must exit 0: a
crash names its last case on stderr instead of killing pytest. One graph structure is one compile, so the
structures come from a seeded random.Random (GRAPHS of them, a quarter with static shapes) and hypothesis
spends its examples on what costs no compile: each graph's run-time shapes, layouts and values."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time

import numpy as np

HUGE = 2**40  # any non-empty tensor with such a dim needs terabytes
GRAPHS = 50  # one compile each
RUNS_PER_GRAPH = 5  # hypothesis examples (shapes, layouts) per graph


def test_generated_shapes_give_numpys_result_or_a_clean_error():
    proc = subprocess.run([sys.executable, os.path.abspath(__file__)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"fuzz worker failed with status {proc.returncode}:\n{proc.stderr[-6000:]}"
    counts = json.loads(proc.stdout.strip().splitlines()[-1])
    print(counts)
    assert counts["graphs"] == GRAPHS
    # the fuzz must exercise what it claims: results compared, and the huge and empty paths taken
    assert counts["matched"] >= counts["runs"] // 2, counts
    assert counts["expected_errors"] >= 5 and counts["huge_errors"] >= 5 and counts["empty_matched"] >= 5, counts
    assert counts["huge_dims_matched"] >= 3, counts  # empty tensors with 2^40-sized dims computed right


# ---------------------------------------------------------------- the worker (runs in the child process)

def _limit_address_space():
    """numpy (the oracle) must fail fast, not page, when a reference would need tens of gigabytes."""
    import resource

    limit = 12 * 2**30
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _numpy_values(graph, feeds):
    """Every op's value by the registry's numpy references: {tensor: ndarray or the exception raised}."""
    from pygraph.ops import registry

    env = dict(feeds)
    for op in graph.get_operations():
        if op.type == "Placeholder":
            continue
        if op.type == "Const":
            env[op.outputs[0]] = op.attrs["value"]
            continue
        args = [env.get(t) for t in op.inputs]
        if any(a is None for a in args):
            continue
        if any(isinstance(a, BaseException) for a in args):
            env[op.outputs[0]] = next(a for a in args if isinstance(a, BaseException))
            continue
        ref = registry.lookup(op.type).numpy
        try:
            try:
                value = ref(*args, op=op)
            except TypeError as e:
                if "op" not in str(e):
                    raise
                value = ref(*args)
            env[op.outputs[0]] = np.asarray(value)
        except Exception as e:  # noqa: BLE001 (numpy's refusal is an outcome to compare)
            env[op.outputs[0]] = e
    return env


def _too_big(shape):
    n = 1
    for d in shape:
        n *= max(int(d), 1)
    return n > 2**59


def main():
    import pygraph as tf

    _limit_address_space()
    np.seterr(all="ignore")  # the references' empty means and infinities are expected
    counts = dict(graphs=0, build_errors=0, runs=0, matched=0, empty_matched=0, expected_errors=0, huge_errors=0,
                  huge_dims_matched=0, unverified=0, unrepresentable=0)
    clean = (tf.errors.OpError, ValueError)

    for index in range(GRAPHS):
        counts["graphs"] += 1
        tf.reset_default_graph()
        graph = _random_graph(tf, random.Random(index))
        if isinstance(graph, str):
            counts["build_errors"] += 1
            print(f"build refused: {graph}", file=sys.stderr)
            continue
        with tf.Session() as sess:
            _run_on_shapes(tf, sess, *graph, clean=clean, counts=counts)
    return counts


def _run_on_shapes(tf, sess, x, y, t, desc, static, clean, counts):
    """Hypothesis picks the run-time shapes and layouts of one compiled graph."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    rank, y_rank = x.shape.ndims, (y.shape.ndims if y is not None else 0)

    def dims(huge_ok):
        return st.lists(st.sampled_from([0, 1, 1, 2, 2, 3, 3] + ([HUGE] if huge_ok else [])),
                        min_size=rank, max_size=rank)

    @settings(max_examples=RUNS_PER_GRAPH, derandomize=True, deadline=None, database=None, print_blob=False,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(st.data())  # no shrink phase: a failure reports its case as drawn, at once
    def run(data):
        draw = data.draw
        shape = static or draw(dims(draw(st.booleans(), "huge dims allowed")), "x dims")
        mode = draw(st.sampled_from(["dense", "broadcast", "transposed"]), "layout")
        feeds = {x: _value(shape, mode, draw(st.integers(0, 2**31), "seed"))}
        if y is not None:
            y_shape = [draw(st.sampled_from([d, 1]), "y dim") for d in shape[rank - y_rank:]]
            if y_shape and draw(st.integers(0, 7), "y mismatch") == 0:  # sometimes not broadcastable
                y_shape[draw(st.integers(0, y_rank - 1))] = 2 + max(shape)
            feeds[y] = _value(y_shape, "dense", 1)
        if any(v is None for v in feeds.values()):
            counts["unrepresentable"] += 1  # numpy cannot even make the input
            return
        label = f"{desc} | x {mode}{list(np.shape(feeds[x]))} y {np.shape(feeds.get(y, 0))}"
        print(f"case: {label}", file=sys.stderr, flush=True)  # the last line names a crash
        counts["runs"] += 1
        _check_run(sess, t, feeds, label, clean, counts)

    run()


def _random_graph(tf, rng):
    """(x, y or None, fetch, description, static dims or None), or the reason static inference refused it."""
    rank = rng.randint(0, 8)
    static = [rng.choice([0, 1, 1, 2, 2, 3, 3]) for _ in range(rank)] if rng.random() < 0.25 else None
    if static and rng.random() < 0.4:  # a huge static dim: checked when ops are created, then at run time
        static[rng.randrange(rank)] = HUGE
    steps = [rng.choice(sorted(BUILDERS)) for _ in range(rng.randint(1, 3))]
    y_rank = rng.randint(0, rank) if rng.random() < 0.4 else None
    x = tf.placeholder(tf.float64, static if static is not None else [None] * rank, name="x")
    y = tf.placeholder(tf.float64, [None] * y_rank, name="y") if y_rank is not None else None
    desc = [f"rank={rank} static={static} y_rank={y_rank}"]
    try:
        t = x if y is None else x + y
        for name in steps:
            t, what = BUILDERS[name](tf, t, rng)
            desc.append(what)
    except ValueError as e:  # static shape inference rejects it, as TF would
        return f"{desc}: {e}"
    return x, y, t, " -> ".join(desc), static


def _check_run(sess, t, feeds, label, clean, counts):
    if any(v.size > 2**26 for v in feeds.values()):  # a huge broadcast view: numpy would take hours
        env, want, huge = {}, MemoryError("not computed"), True
    else:
        env = _numpy_values(t.graph, feeds)
        want = env.get(t)
        huge = any(_too_big(np.shape(v)) for v in env.values() if isinstance(v, np.ndarray))
    try:
        got = sess.run(t, feeds)
    except clean as e:
        if isinstance(want, np.ndarray) and not huge:
            raise AssertionError(f"{label}: numpy gives shape {want.shape} but pygraph raised {e!r}") from None
        counts["expected_errors"] += 1
        counts["huge_errors"] += huge
        print(f"  error (numpy: {type(want).__name__}, huge={huge}): {type(e).__name__}: {str(e).splitlines()[0]}",
              file=sys.stderr)
        return
    if _beyond_numpy(want) and not any(v.size > 2**26 for v in feeds.values()):
        counts["unverified"] += 1  # numpy could not hold an intermediate that pygraph never materialised
        return
    if isinstance(want, BaseException) or huge:
        raise AssertionError(f"{label}: pygraph returned shape {np.shape(got)} where numpy raised {want!r} "
                             f"(huge={huge})")
    assert np.shape(got) == want.shape, f"{label}: shape {np.shape(got)} != numpy's {want.shape}"
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, err_msg=label)
    counts["matched"] += 1
    counts["empty_matched"] += want.size == 0
    counts["huge_dims_matched"] += any(HUGE in np.shape(v) for v in feeds.values())


def _beyond_numpy(outcome):
    """The reference failed at numpy's own size limits, not by the op's semantics."""
    return isinstance(outcome, (MemoryError, OverflowError)) or (
        isinstance(outcome, ValueError) and ("too big" in str(outcome) or "too large" in str(outcome)))


def _value(shape, mode, seed):
    n = 1
    for d in shape:
        n *= d
    if n == 0 or n > 4096 or mode == "broadcast":  # huge or zero-stride: a view of one element (zero-size: empty)
        try:
            return np.empty(shape) if n == 0 else np.broadcast_to(np.float64(1.5), shape)
        except ValueError:  # beyond numpy's own limits ("array is too big", "iterator is too large")
            return None
    values = np.random.default_rng(seed).standard_normal(shape)
    if mode == "transposed" and len(shape) >= 2:
        return np.ascontiguousarray(values.T).T  # same values, Fortran order
    return values


# ---------------------------------------------------------------- graph builders: (tensor, description)
# A builder picks its attributes with `rng` (random.Random seeded by hypothesis): graph structures spread
# widely, while hypothesis spends its search on the shapes, which cost no compile.

def _rank(t):
    return t.shape.ndims


def _unary(tf, t, rng):
    name = rng.choice(["abs", "negative", "square"])
    return getattr(tf, name)(t), name


def _scalar(tf, t, rng):
    return t * 2.5 - 1.0, "*2.5-1"


def _reduce(tf, t, rng):
    fn = rng.choice(["reduce_sum", "reduce_max", "reduce_mean", "reduce_min"])
    r = _rank(t)
    axes = None if not r or rng.random() < 0.3 else sorted(rng.sample(range(r), rng.randint(1, min(3, r))))
    if axes and rng.random() < 0.5:
        axes = [a - r for a in axes]  # negative axes
    keep = rng.random() < 0.5
    return getattr(tf, fn)(t, axis=axes, keepdims=keep), f"{fn}({axes}, keep={keep})"


def _argmax(tf, t, rng):
    r = _rank(t)
    if not r:
        return t, "skip argmax (rank 0)"
    axis = rng.randrange(r)
    return tf.cast(tf.argmax(t, axis), tf.float64), f"argmax({axis})"


def _reshape(tf, t, rng):
    target = rng.choice([[-1], [1, -1], [-1, 1, 1]])
    return tf.reshape(t, target), f"reshape({target})"


def _transpose(tf, t, rng):
    perm = rng.sample(range(_rank(t)), _rank(t))
    return tf.transpose(t, perm), f"transpose({perm})"


def _tile(tf, t, rng):
    multiples = [rng.choice([0, 1, 1, 2, 3, 2**31 - 1]) for _ in range(_rank(t))]
    return tf.tile(t, multiples), f"tile({multiples})"


def _concat(tf, t, rng):
    r = _rank(t)
    if not r:
        return t, "skip concat (rank 0)"
    axis = rng.randint(-r, r - 1)
    return tf.concat([t, t * 2.0], axis), f"concat({axis})"


def _stack(tf, t, rng):
    axis = rng.randint(0, _rank(t))
    return tf.stack([t, -t], axis), f"stack({axis})"


def _expand(tf, t, rng):
    axis = rng.randint(0, _rank(t))
    return tf.expand_dims(t, axis), f"expand_dims({axis})"


def _slice(tf, t, rng):
    r = _rank(t)
    if not r:
        return t, "skip slice (rank 0)"
    axis = rng.randrange(r)

    def bound():
        return None if rng.random() < 0.3 else rng.randint(-3, 3)

    key = slice(bound(), bound(), rng.choice([1, 2, -1, -2, 2**31 - 1]))
    return t[(slice(None),) * axis + (key,)], f"slice(axis {axis}: {key})"


def _index(tf, t, rng):
    if not _rank(t):
        return t, "skip index (rank 0)"
    i = rng.randint(-2, 1)
    return t[i], f"index({i})"


def _squeeze(tf, t, rng):
    r = _rank(t)
    if not r:
        return t, "skip squeeze (rank 0)"
    axis = rng.randrange(r)
    return tf.squeeze(t, [axis]), f"squeeze({axis})"


BUILDERS = {"unary": _unary, "scalar": _scalar, "reduce": _reduce, "argmax": _argmax, "reshape": _reshape,
            "transpose": _transpose, "tile": _tile, "concat": _concat, "stack": _stack, "expand": _expand,
            "slice": _slice, "index": _index, "squeeze": _squeeze}


if __name__ == "__main__":
    start = time.perf_counter()
    result = main()
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(result))
