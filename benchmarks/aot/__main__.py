"""Ahead-of-time artifact measurements (issue 9), printed as a table:

    .venv/bin/python -m benchmarks.aot [--reps N]

- 784-300-100-10 MLP inference, batch 1 and 256: mlp_run called from a small C timing loop (bench_mlp.c,
  static library, portable and native -march) beside pygraph's in-process make_callable; per call, the
  lowest of three medians (the machine is shared); ONNX Runtime on the same weights when --peers-python
  has onnx and onnxruntime (ort_mlp.py builds the model with onnx's helpers), and TF1's Session through
  make_callable when it has tensorflow (tf1_mlp.py, variables holding the same weights).
- where mlp_run's time goes: its three sgemm calls alone in the same timing loop (gemm_share.c);
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


def c_bench(artifact, work, march, reps, threads):
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
        runs = [subprocess.run([str(exe), str(batch), str(reps), str(threads)], capture_output=True, text=True,
                               check=True).stdout for _ in range(3)]
        out[batch] = min(float(line.split()[0]) for line in runs)  # lowest of three medians, as median_us
    return out, build


def gemm_share(artifact, build, work, reps, threads):
    """Rows: mlp_run beside its three OpenBLAS sgemm calls alone (gemm_share.c), timed in one loop."""
    import scipy_openblas32

    exe = work / "gemm-share"
    blas = scipy_openblas32.get_lib_dir()
    subprocess.run(["cc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", str(HERE / "gemm_share.c"),
                    f"-I{artifact}", str(build / "libmlp.a"), f"-L{blas}", "-lscipy_openblas", f"-Wl,-rpath,{blas}",
                    "-lstdc++", "-lpthread", "-lm", "-o", str(exe)], check=True)
    rows = []
    for batch in (1, 256):
        runs = [[float(v) for v in subprocess.run([str(exe), str(batch), str(reps), str(threads)],
                                                  capture_output=True, text=True, check=True).stdout.split()]
                for _ in range(3)]
        gemm, run = min(r[0] for r in runs), min(r[1] for r in runs)
        rows.append((f"MLP batch {batch}: its 3 sgemm calls alone / mlp_run (same loop)",
                     f"{gemm:.1f} / {run:.1f} us ({100 * gemm / run:.0f}%)"))
    return rows


def peer_rows(sess, X, logits, work, args):
    """ONNX Runtime and TF1's Session on the same weights, in the peers' Python (their own processes: no second
    numpy or OpenBLAS here). Each script checks its logits against pygraph's first."""
    if not Path(args.peers_python).exists():
        return [("MLP: ONNX Runtime, TF1 Session", f"not measured ({args.peers_python} absent; make bench-peers)")]
    graph = sess.graph
    names = ("hidden1/kernel", "hidden1/bias", "hidden2/kernel", "hidden2/bias", "outputs/kernel", "outputs/bias")
    values = sess.run([graph.get_tensor_by_name(n + ":0") for n in names])
    x_check = np.random.default_rng(9).standard_normal((5, 784)).astype(np.float32)
    npz = work / "mlp.npz"
    np.savez(npz, x_check=x_check, y_check=sess.run(logits, {X: x_check}), **dict(zip(names, values)))
    threads = args.threads
    rows = []
    for script, label in (("ort_mlp.py", f"ONNX Runtime {_peer_version(args, 'onnxruntime')}"),
                          ("tf1_mlp.py", f"TF {_peer_version(args, 'tensorflow')} Session (tf.compat.v1)")):
        run = subprocess.run([args.peers_python, str(HERE / script), str(npz), str(args.reps), str(threads)],
                             capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        if run.returncode != 0:
            rows.append((f"MLP: {label}", f"failed: {run.stderr.strip().splitlines()[-1:]}"))
            continue
        out = run.stdout.split("\n")
        check = float(out[0].split()[1])
        if check > 1e-4:
            raise RuntimeError(f"{label}'s logits differ from pygraph's by {check}: not the same model")
        for line in out[1:]:
            parts = line.split()
            if len(parts) == 2 and parts[0].isdigit():
                rows.append((f"MLP batch {parts[0]}: {label} ({threads} threads)", f"{float(parts[1]):.1f} us"))
    return rows


def _peer_version(args, module):
    out = subprocess.run([args.peers_python, "-c", f"import {module}; print({module}.__version__)"],
                         capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")).stdout
    return (out.strip().splitlines() or ["(not installed)"])[-1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=2000)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="threads for every contender (PYGRAPH_NUM_THREADS, the instance's pool, ONNX Runtime)")
    p.add_argument("--peers-python", default=str(HERE.parents[1] / ".venv-peers" / "bin" / "python"),
                   help="a Python with onnx and onnxruntime (make bench-peers); skipped when absent")
    args = p.parse_args()
    os.environ["PYGRAPH_NUM_THREADS"] = str(args.threads)  # read when pygraph plans its first program
    # time the -O3 build, not the interpreter tier that answers while it compiles (first-results work)
    os.environ["PYGRAPH_OPTIMIZED_ONLY"] = "1"
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
            rows.append((f"MLP batch {batch}: make_callable (in process, {args.threads} threads)", f"{us:.1f} us"))
        rows += peer_rows(sess, X, logits, work, args)
        for march in ("portable", "native"):
            art = aot.compile(sess, [X], [logits], work / f"mlp-{march}", name="mlp", march=march)
            times, build = c_bench(art, work, march, args.reps, args.threads)
            for batch, us in times.items():
                rows.append((f"MLP batch {batch}: C mlp_run, -march {march} ({args.threads} threads)", f"{us:.1f} us"))
            if march == "portable":
                rows += gemm_share(art, build, work, args.reps, args.threads)
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
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows.append(("load average (1 min) at the end", f"{load:.2f} on {os.cpu_count()} cores"))
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure'.ljust(width)} | value |\n|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")


if __name__ == "__main__":
    main()
