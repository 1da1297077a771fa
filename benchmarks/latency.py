"""W8: a fresh process per sample, `import` to first result of the W1 graph, cold and warm compile cache.

Child side: `python -m benchmarks.latency NAME` prints one JSON line.  It imports nothing heavy before the
clock starts, so the import time is the framework's own (numpy included where the framework needs it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time


def _pygraph():
    t0 = time.perf_counter()
    import pygraph as tf
    t1 = time.perf_counter()
    x = tf.Variable(3.0, name="x")
    y = tf.Variable(4.0, name="y")
    f = x * x * y + y + 2
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        value = sess.run(f)
    return t0, t1, value


def _tf1():
    t0 = time.perf_counter()
    import tensorflow as tf_root
    t1 = time.perf_counter()
    tf = tf_root.compat.v1
    tf.disable_v2_behavior()
    x = tf.Variable(3.0, name="x")
    y = tf.Variable(4.0, name="y")
    f = x * x * y + y + 2
    threads = int(os.environ.get("PYGRAPH_BENCH_THREADS", "0")) or (os.cpu_count() or 1)
    config = tf.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=1)
    with tf.Session(config=config) as sess:
        sess.run(tf.global_variables_initializer())
        value = sess.run(f)
    return t0, t1, value


def _numpy():
    t0 = time.perf_counter()
    import numpy as np
    t1 = time.perf_counter()
    x, y = np.float32(3), np.float32(4)
    return t0, t1, x * x * y + y + 2


def _pytensor():
    t0 = time.perf_counter()
    import pytensor
    t1 = time.perf_counter()
    import numpy as np

    x = pytensor.shared(np.float32(3), name="x")
    y = pytensor.shared(np.float32(4), name="y")
    value = pytensor.function([], x * x * y + y + 2)()
    return t0, t1, value


def _jax():
    t0 = time.perf_counter()
    import jax
    import jax.numpy as jnp
    t1 = time.perf_counter()
    f = jax.jit(lambda x, y: x * x * y + y + 2)
    value = f(jnp.asarray(3.0, dtype=jnp.float32), jnp.asarray(4.0, dtype=jnp.float32)).block_until_ready()
    return t0, t1, value


PROGRAMS = dict(pygraph=_pygraph, tf1=_tf1, numpy=_numpy, pytensor=_pytensor, jax=_jax)


def cache_env(framework, cache_dir):
    """Environment that points the framework's compile cache at cache_dir (None: it keeps no cache)."""
    if framework == "pygraph":
        return {"PYGRAPH_CACHE_DIR": cache_dir}
    if framework == "pytensor":
        flags = os.environ.get("PYTENSOR_FLAGS", "")
        return {"PYTENSOR_FLAGS": ",".join(filter(None, [flags, f"base_compiledir={cache_dir}"]))}
    if framework == "jax":
        return {"JAX_COMPILATION_CACHE_DIR": cache_dir, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
                "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1"}
    return None


def _child(python, framework, env, cwd):
    proc = subprocess.run([python, "-m", "benchmarks.latency", framework], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"exit {proc.returncode}: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(python, framework, base_env, cwd, reps_cold, reps_warm, prime=True):
    """Samples for w8_import, w8_cold, w8_warm: lists of seconds and the values each run printed.
    prime: one untimed run first (fills the OS file cache and the warm compile cache); without it the first
    cold run fills the warm cache."""
    out = {"w8_import": [], "w8_cold": [], "w8_warm": []}
    values = {"w8_cold": [], "w8_warm": []}
    with tempfile.TemporaryDirectory(prefix=f"pgbench-{framework}-") as tmp:
        warm_dir = os.path.join(tmp, "warm")

        def env_for(cache_dir):
            extra = cache_env(framework, cache_dir)
            return {**base_env, **(extra or {})}

        if prime:
            _child(python, framework, env_for(warm_dir), cwd)
        for kind, reps in (("w8_cold", reps_cold), ("w8_warm", reps_warm)):
            for i in range(reps):
                cold_dir = warm_dir if i == 0 and not prime else os.path.join(tmp, f"cold{i}")
                cache = cold_dir if kind == "w8_cold" else warm_dir
                result = _child(python, framework, env_for(cache), cwd)
                out["w8_import"].append(result["import_s"])
                out[kind].append(result["first_s"])
                values[kind].append(result["value"])
    return out, values


def main(framework):
    t0, t1, value = PROGRAMS[framework]()
    t2 = time.perf_counter()
    print(json.dumps(dict(import_s=t1 - t0, first_s=t2 - t1, value=float(value))))


if __name__ == "__main__":
    main(sys.argv[1])
