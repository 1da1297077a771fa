"""Ahead-of-time artifact measurements (issue 9), printed as a table:

    .venv/bin/python -m benchmarks.aot [--reps N]

- 784-300-100-10 MLP inference, batch 1 and 256: mlp_run called from a small C timing loop (bench_mlp.c,
  static library, portable and native -march) beside pygraph's in-process make_callable; per call, the
  lowest of three medians (the machine is shared). TF1 and ONNX Runtime are not installed here: not measured.
- library size without weights (--weights=file build) and with them embedded;
- process start to first result of the example program (median of 20 runs);
- pygraph-compile wall time from a Saver checkpoint, cold (empty module cache) and warm, and the CMake build.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def mlp_session():
    import pygraph as tf

    rng = np.random.default_rng(0)
    X = tf.placeholder(tf.float32, (None, 784), name="X")
    h = X
    for name, n_in, n_out in (("hidden1", 784, 300), ("hidden2", 300, 100), ("outputs", 100, 10)):
        with tf.name_scope(name):
            W = tf.Variable(tf.constant(rng.standard_normal((n_in, n_out)).astype(np.float32) * 0.05), name="kernel")
            b = tf.Variable(tf.zeros([n_out]), name="bias")
            h = tf.matmul(h, W) + b
            if name != "outputs":
                h = tf.nn.relu(h)
    logits = tf.identity(h, name="logits")
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    return tf, sess, X, logits


def median_us(fn, reps, rounds=3):
    """The lowest of `rounds` medians: the machine is shared, and one busy round says little."""
    for _ in range(20):
        fn()
    medians = []
    for _ in range(rounds):
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        medians.append(statistics.median(times))
    return min(medians) * 1e6


def c_bench(artifact, work, march, reps):
    import scipy_openblas32

    import pygraph.aot as aot

    build = aot.build(artifact, build_dir=work / f"build-{march}", test=False)
    exe = work / f"bench-{march}"
    blas = scipy_openblas32.get_lib_dir()
    subprocess.run(["cc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", str(HERE / "bench_mlp.c"), f"-I{artifact}",
                    str(build / "libmlp.a"), f"-L{blas}", "-lscipy_openblas", f"-Wl,-rpath,{blas}", "-lstdc++",
                    "-lpthread", "-lm", "-o", str(exe)], check=True)
    out = {}
    for batch in (1, 256):
        runs = [subprocess.run([str(exe), str(batch), str(reps)], capture_output=True, text=True, check=True).stdout
                for _ in range(3)]
        out[batch] = min(float(line.split()[0]) for line in runs)  # lowest of three medians, as median_us
    return out, build


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=2000)
    args = p.parse_args()
    import pygraph.aot as aot

    work = Path(tempfile.mkdtemp(prefix="pygraph-aot-bench-"))
    rows = []
    try:
        tf, sess, X, logits = mlp_session()
        call = sess.make_callable(logits, [X])
        rng = np.random.default_rng(1)
        for batch in (1, 256):
            x = rng.standard_normal((batch, 784)).astype(np.float32)
            us = median_us(lambda x=x: call(x), args.reps)
            rows.append((f"MLP batch {batch}: make_callable (in process)", f"{us:.1f} us"))
        for march in ("portable", "native"):
            art = aot.compile(sess, [X], [logits], work / f"mlp-{march}", name="mlp", march=march)
            times, build = c_bench(art, work, march, args.reps)
            for batch, us in times.items():
                rows.append((f"MLP batch {batch}: C mlp_run, -march {march}", f"{us:.1f} us"))
        embedded = build / "libmlp.so"
        filed = aot.compile(sess, [X], [logits], work / "mlp-file", name="mlp", weights="file")
        fbuild = aot.build(filed, test=False)
        kb = (fbuild / "libmlp.so").stat().st_size / 1024
        rows.append(("libmlp.so without weights (--weights=file)", f"{kb:.0f} KB"))
        rows.append(("libmlp.a without weights", f"{(fbuild / 'libmlp.a').stat().st_size / 1024:.0f} KB"))
        rows.append(("libmlp.so with embedded weights", f"{embedded.stat().st_size / 1024:.0f} KB"))
        starts = []
        for _ in range(20):
            t0 = time.perf_counter()
            subprocess.run([str(build / "mlp_example")], check=True, capture_output=True)
            starts.append(time.perf_counter() - t0)
        ms = statistics.median(starts) * 1e3
        rows.append(("example process start to first result (median of 20)", f"{ms:.1f} ms"))
        prefix = work / "ckpt" / "mlp.ckpt"
        with sess.graph.as_default():
            tf.train.Saver().save(sess, str(prefix))
        cache = work / "cache"
        for label in ("cold", "warm"):
            env = dict(os.environ, PYGRAPH_CACHE_DIR=str(cache))
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pygraph.aot", str(prefix), "--feed", "X:float32[?,784]", "--fetch",
                            "logits", "--name", "mlp", "-o", str(work / "cmd")], check=True, env=env,
                           capture_output=True)
            rows.append((f"pygraph-compile wall time, {label} module cache", f"{time.perf_counter() - t0:.2f} s"))
        t0 = time.perf_counter()
        aot.build(work / "cmd", test=False)
        rows.append(("cmake configure + build of the artifact (2 jobs)", f"{time.perf_counter() - t0:.1f} s"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure'.ljust(width)} | value |\n|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")


if __name__ == "__main__":
    main()
