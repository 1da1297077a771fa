"""Time to first result in fresh processes: cold cache, warm cache, and when optimized code takes over.

    .venv/bin/python -m benchmarks.first_compile [repeats] [workload ...]

Workloads: `small` (27 elementwise ops, one kernel), `mlp1`/`mlp4`/`mlp16`/`mlp32` (that many hidden
layers of 64, Adam, 64 features, batch 50), `w6` (the lecture's W6 MLP 784-300-100-10, plain gradient
descent, sparse softmax cross-entropy), `ch11` (chapter 11's deep net: 5 hidden layers of 100 with
batch norm from tf.nn.moments + tf.nn.batch_normalization, Adam) and `lecture` (examples/lecture.py end
to end, wall time of the whole process; on TF1 the same file with `pygraph` standing for tf.compat.v1).

"first result" is graph construction + initializer + the first `[train_op, loss]` run, timed inside a
fresh process after `import` (TF's import alone takes seconds). Each row gives medians over `repeats`
fresh cache directories (cold) and a second process on the same cache (warm), for pygraph's default
(tiered: the interpreter first, -O3 compiled in the background), for PYGRAPH_OPTIMIZED_ONLY=1 (everything
-O3 before its first call: pygraph before tiers), for TF 2's tf.compat.v1 when /work/tfvenv (or
$TF_PYTHON) has TensorFlow, and for JAX and PyTensor (benchmarks/first_peers.py: the first jit / first
`function` compile and call, initialization included; caches: PyTensor's compiledir, JAX's persistent
cache) when /work/peers (or $PEERS_PYTHON) has them. "-O3 in use after" is when the training step's -O3
module took over (tiered only), after how many steps; "interpreted step" the median step while the
interpreter served and "steady step" the median of 20 steps after that in the cold process (the first 20
steps after the first result for the other setups). The machine may be shared: compare ratios within one
run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import sys, time
import numpy as np
if sys.argv[1] == "tf":
    import tensorflow.compat.v1 as tf
    tf.disable_v2_behavior()
else:
    import pygraph as tf
kind = sys.argv[2]
t0 = time.perf_counter()
rng = np.random.RandomState(0)


def dense(h, n_out, act=None):
    w = tf.Variable(tf.random_normal([int(h.shape[1]), n_out], stddev=0.1))
    b = tf.Variable(tf.zeros([n_out]))
    z = tf.matmul(h, w) + b
    return act(z) if act else z


if kind == "small":
    x = tf.placeholder(tf.float32, (None, 16))
    h = x
    for _ in range(5):
        h = tf.tanh(h * 0.9 + 0.1) - tf.square(h) * 0.01
    loss = tf.reduce_sum(h)
    train = tf.no_op()
    feed = {x: np.ones((8, 16), np.float32)}
elif kind.startswith("mlp"):
    x = tf.placeholder(tf.float32, (None, 64))
    y = tf.placeholder(tf.float32, (None, 1))
    h = x
    for _ in range(int(kind[3:])):
        h = dense(h, 64, tf.nn.relu)
    loss = tf.reduce_mean(tf.square(dense(h, 1) - y))
    train = tf.train.AdamOptimizer(1e-3).minimize(loss)
    feed = {x: rng.randn(50, 64).astype(np.float32), y: rng.randn(50, 1).astype(np.float32)}
else:
    x = tf.placeholder(tf.float32, (None, 784))
    y = tf.placeholder(tf.int32, (None,))
    h = x
    for width in ((300, 100) if kind == "w6" else (100,) * 5):
        if kind == "w6":
            h = dense(h, width, tf.nn.relu)
        else:  # chapter 11: batch norm before the activation
            z = dense(h, width)
            mean, var = tf.nn.moments(z, [0])
            gamma = tf.Variable(tf.ones([width]))
            beta = tf.Variable(tf.zeros([width]))
            h = tf.nn.elu(tf.nn.batch_normalization(z, mean, var, beta, gamma, 1e-3))
    xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=dense(h, 10))
    loss = tf.reduce_mean(xent)
    opt = tf.train.GradientDescentOptimizer(0.01) if kind == "w6" else tf.train.AdamOptimizer(1e-3)
    train = opt.minimize(loss)
    feed = {x: rng.rand(50, 784).astype(np.float32), y: rng.randint(0, 10, 50).astype(np.int32)}
init = tf.global_variables_initializer()
sess = tf.Session()
sess.run(init)
_, value = sess.run([train, loss], feed)
first = time.perf_counter() - t0
assert np.isfinite(value)
optimized, steps, interpreted = float("nan"), 0, [float("nan")]
if sys.argv[1] == "pygraph" and not tf.config.optimized_only():
    plans = [p for key, (p, _) in sess._plans.items() if len(key) > 1]
    interpreted = []
    while plans[0].upgrade is not None and time.perf_counter() - t0 < 300:
        t = time.perf_counter()
        sess.run([train, loss], feed)
        interpreted.append(time.perf_counter() - t)
        steps += 1
    optimized = time.perf_counter() - t0
    interpreted = interpreted or [float("nan")]
after = []
for _ in range(20):
    t = time.perf_counter()
    sess.run([train, loss], feed)
    after.append(time.perf_counter() - t)
sess.close()
med = lambda v: sorted(v)[len(v) // 2] * 1e3  # noqa: E731
print(f"{first * 1e3:.1f} {optimized * 1e3:.1f} {steps} {med(interpreted):.3f} {med(after):.3f}")
"""

# examples/lecture.py unchanged on TF1: `pygraph` is tf.compat.v1 plus pygraph/config.py (its settings)
LECTURE_TF1 = r"""
import importlib.util, runpy, sys, types
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
spec = importlib.util.spec_from_file_location("pygraph.config", sys.argv[1] + "/pygraph/config.py")
config = importlib.util.module_from_spec(spec)
spec.loader.exec_module(config)
shim = types.ModuleType("pygraph")
shim.__dict__.update({k: getattr(tf, k) for k in dir(tf) if not k.startswith("__")}, config=config)
sys.modules.update({"pygraph": shim, "pygraph.config": config})
runpy.run_path(sys.argv[1] + "/examples/lecture.py", run_name="__main__")
"""

WORKLOADS = ("small", "mlp1", "mlp4", "mlp16", "mlp32", "w6", "ch11", "lecture")


PEERS = ("jax", "pytensor")


def _peers_python():
    explicit = os.environ.get("PEERS_PYTHON")
    candidate = Path(explicit) if explicit else Path("/work/peers/bin/python")
    return str(candidate) if candidate.exists() else None


def _tf_python():
    explicit = os.environ.get("TF_PYTHON")
    candidate = Path(explicit) if explicit else Path("/work/tfvenv/bin/python")
    return str(candidate) if candidate.exists() else None


def _peer_env(framework, cache):
    """JAX/PyTensor children: make bench's worker environment (threads: $PYGRAPH_BENCH_THREADS, else all
    cores) with their compile caches (PyTensor's compiledir, JAX's persistent cache) in `cache`."""
    from .latency import cache_env
    from .machine import worker_env

    env = worker_env(int(os.environ.get("PYGRAPH_BENCH_THREADS") or 0) or os.cpu_count() or 1)
    env.update(cache_env(framework, cache))
    return env


def _child(python, framework, kind, cache, optimized_only):
    env = dict(os.environ, PYGRAPH_CACHE_DIR=cache, PYGRAPH_OPTIMIZED_ONLY="1" if optimized_only else "0",
               TF_CPP_MIN_LOG_LEVEL="3", PYGRAPH_DEMO_DIR=os.path.join(cache, "demo"))
    if kind == "lecture":  # the whole process: its time to the last result
        import time

        program = ["-c", LECTURE_TF1, str(ROOT)] if framework == "tf" else [str(ROOT / "examples" / "lecture.py")]
        t0 = time.perf_counter()
        subprocess.run([python, *program], env=env, capture_output=True, check=True)
        nan = float("nan")
        return (time.perf_counter() - t0) * 1e3, nan, 0, nan, nan
    if framework in PEERS:
        command, env = ["-m", "benchmarks.first_peers", framework, kind], _peer_env(framework, cache)
    else:
        command = ["-c", CHILD, framework, kind]
    out = subprocess.run([python, *command], env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"{framework} {kind} failed:\n{out.stderr[-2000:]}")
    first, optimized, steps, interpreted, step = out.stdout.split()[-5:]
    return float(first), float(optimized), int(steps), float(interpreted), float(step)


def _row(name, samples):
    med = lambda i: statistics.median(s[i] for s in samples)  # noqa: E731
    return name, med(0), med(1), med(2), med(3), med(4)


def measure(kind, repeats):
    """{setup: (cold first ms, warm first ms, optimized-in-use ms, steps until then, interpreted step ms,
    steady step ms)} for one workload."""
    rows = {}
    setups = [("pygraph", sys.executable, "pygraph", False), ("pygraph -O3 only", sys.executable, "pygraph", True)]
    tf_python = _tf_python()
    if tf_python:
        setups.append(("tf.compat.v1", tf_python, "tf", False))
    peers_python = _peers_python()
    if peers_python and kind != "lecture":
        setups += [(framework, peers_python, framework, False) for framework in PEERS]
    for label, python, framework, only in setups:
        cold, warm = [], []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as d:
                cache = os.path.join(d, "cache")
                cold.append(_child(python, framework, kind, cache, only))
                warm.append(_child(python, framework, kind, cache, only))
        c, w = _row(label, cold), _row(label, warm)
        rows[label] = (c[1], w[1], c[2], c[3], c[4], c[5])
    return rows


def main(argv):
    repeats = int(argv[0]) if argv else 3
    kinds = argv[1:] or WORKLOADS
    print("| workload | setup | first result, cold (ms) | first result, warm (ms) | -O3 in use after (ms, steps) "
          "| interpreted step (ms) | steady step (ms) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for kind in kinds:
        for label, (cold, warm, optimized, steps, interp, step) in measure(kind, repeats).items():
            opt = "" if optimized != optimized else f"{optimized:.0f} ({steps:.0f})"
            cells = ["" if v != v else f"{v:.3g}" for v in (interp, step)]
            print(f"| {kind} | {label} | {cold:.0f} | {warm:.0f} | {opt} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
