"""pygraph.distribute measurements (results and the scaling model: benchmarks/DISTRIBUTE.md).

    .venv/bin/python benchmarks/distribute_bench.py                      # 1 rank
    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/distribute_bench.py

Prints, on rank 0, medians of: allreduce of float32 buffers by raw mpi4py Allreduce, by the mpi4py engine's
Python callback, by a direct engine that uses MPI_Iallreduce at every size (as before large buffers went to
the blocking MPI_Allreduce), by the host service's C entry point (what a compiled program calls: the direct
MPI engine where MPI speaks MPICH's ABI, else that callback) and by a compiled one-op program; the W6 MLP
step (784-300-100-10, batch 256 split over the ranks) and the W4 full-batch GD step (California housing,
rows split over the ranks) with and without DistributedOptimizer. The machine is shared: medians of repeated runs.
"""

from __future__ import annotations

import ctypes
import gzip
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import pygraph as tf
import pygraph.distribute as hvd

REPS = 30


def median_time(fn, reps=REPS, warmup=3):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def barrier():
    if hvd.mpi_enabled():
        hvd._state.comm.Barrier()


def allreduce_rows():
    rows = []
    if hvd.size() == 1:
        return rows
    from mpi4py import MPI

    comm = hvd._state.comm
    signature = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p,
                                 ctypes.c_int64, ctypes.c_int32, ctypes.c_int32, ctypes.c_void_p, ctypes.c_size_t)
    callback = signature(hvd._state.engine.addresses()[0])  # the mpi4py engine: a Python callback
    table = hvd._state.engine.direct_table  # pg_collectives*: {engine, allreduce, ...}, when MPI is called directly
    engine, direct = ctypes.cast(table, ctypes.POINTER(ctypes.c_void_p * 2)).contents if table else (None, None)
    service_fn = signature(direct) if direct else None
    if direct:  # a second direct engine that never takes the blocking MPI_Allreduce (what large buffers did before)
        nonblocking_engine, nonblocking_fn = _nonblocking_engine(comm, MPI, signature)
    err = ctypes.create_string_buffer(1024)
    for count in (256, 16_384, 262_144, 1_048_576, 4_194_304, 16_777_216):
        buf = np.ones(count, np.float32)
        addr = buf.ctypes.data
        reps = 2000 if count <= 16_384 else 200 if count <= 262_144 else 20  # microseconds need many samples
        methods = {"raw": lambda b=buf: comm.Allreduce(MPI.IN_PLACE, b, op=MPI.SUM),
                   "python": lambda a=addr, n=count: callback(None, 7, 11, a, n, 1, 0, err, 1024)}
        if direct:
            methods["service"] = lambda a=addr, n=count: service_fn(engine, 8, 11, a, n, 1, 0, err, 1024)
            methods["nonblocking"] = lambda a=addr, n=count: nonblocking_fn(nonblocking_engine, 9, 11, a, n, 1, 0,
                                                                            err, 1024)
        times = {name: [] for name in methods}
        for _ in range(5):  # alternating rounds: load drift hits every method alike
            for name, fn in methods.items():
                barrier()
                times[name].append(median_time(fn, reps=reps))
        raw, python = statistics.median(times["raw"]), statistics.median(times["python"])
        service = statistics.median(times["service"]) if direct else python
        nonblocking = statistics.median(times["nonblocking"]) if direct else python
        tf.reset_default_graph()
        v = tf.Variable(np.ones(count, np.float32))
        op = hvd.allreduce(v, op=hvd.Sum)
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        run = sess.make_callable(op)
        barrier()
        step = median_time(run, reps=reps)
        sess.close()
        rows.append((count * 4, raw, python, nonblocking, service, step))
    return rows


def _nonblocking_engine(comm, MPI, signature):
    """(engine, allreduce) of a direct engine with MPI_Iallreduce at every size; the installed one stays."""
    from pygraph.distribute import direct

    state, chosen = hvd._state.engine, direct.BLOCKING_MIN_BYTES
    try:
        direct.BLOCKING_MIN_BYTES = 0
        direct.install(state, comm, MPI)
        table = state.direct_table
    finally:
        direct.BLOCKING_MIN_BYTES = chosen
        direct.install(state, comm, MPI)  # compiled programs call the real engine again
    engine, fn = ctypes.cast(table, ctypes.POINTER(ctypes.c_void_p * 2)).contents
    return engine, signature(fn)


def interleaved(make_plain, make_dist, rounds=7, reps=15):
    """Median step times of two programs measured in alternating rounds: load drift hits both alike."""
    plain, dist = make_plain(), make_dist()
    a, b = [], []
    for _ in range(rounds):
        barrier()
        a.append(median_time(plain, reps=reps))
        barrier()
        b.append(median_time(dist, reps=reps))
    return statistics.median(a), statistics.median(b)


def mlp_step(distributed, batch):
    graph = tf.Graph()
    with graph.as_default():
        return _mlp_step(distributed, batch)


def _mlp_step(distributed, batch):
    rng = np.random.default_rng(0)
    X = tf.placeholder(tf.float32, (None, 784))
    y = tf.placeholder(tf.int32, (None,))
    h = X
    for n_in, n_out, act in ((784, 300, tf.nn.relu), (300, 100, tf.nn.relu), (100, 10, None)):
        W = tf.Variable(rng.normal(0, 0.05, (n_in, n_out)).astype(np.float32))
        b = tf.Variable(np.zeros(n_out, np.float32))
        h = tf.matmul(h, W) + b
        h = act(h) if act else h
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h))
    opt = tf.train.GradientDescentOptimizer(0.01)
    if distributed == "forced":  # the bucket a DistributedOptimizer adds at >1 rank, here at any size
        pairs = opt.compute_gradients(loss)
        reduced = hvd.grouped_allreduce([g for g, _ in pairs])
        train = opt.apply_gradients(list(zip(reduced, [v for _, v in pairs])))
    else:
        train = (hvd.DistributedOptimizer(opt) if distributed else opt).minimize(loss)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    xb = rng.random((batch, 784), dtype=np.float32)
    yb = rng.integers(0, 10, batch).astype(np.int32)
    run = sess.make_callable(train, feed_list=[X, y])
    return lambda: run(xb, yb)


def gd_step(distributed):
    graph = tf.Graph()
    with graph.as_default():
        return _gd_step(distributed)


def _gd_step(distributed):
    path = Path(__file__).resolve().parents[1] / "data" / "california_housing" / "california_housing.csv.gz"
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", skiprows=1)
    features = (table[:, :8] - table[:, :8].mean(0)) / table[:, :8].std(0)
    Xd = np.c_[np.ones(len(table)), features].astype(np.float32)
    yd = table[:, 8:9].astype(np.float32)
    per = len(Xd) // hvd.size()
    part = slice(hvd.rank() * per, (hvd.rank() + 1) * per)
    X, y = tf.constant(Xd[part]), tf.constant(yd[part])
    theta = tf.Variable(np.zeros((9, 1), np.float32))
    mse = tf.reduce_mean(tf.square(tf.matmul(X, theta) - y))
    opt = tf.train.GradientDescentOptimizer(0.01)
    train = (hvd.DistributedOptimizer(opt) if distributed else opt).minimize(mse)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    return sess.make_callable(train)


def main():
    hvd.init()
    lines = [f"ranks: {hvd.size()}"]
    for nbytes, raw, python, nonblocking, service, step in allreduce_rows():
        lines.append(f"allreduce {nbytes:>9} B: mpi4py {raw * 1e6:8.1f} us  python callback {python * 1e6:8.1f} us "
                     f"({raw / python:.2f}x)  direct, Iallreduce only {nonblocking * 1e6:8.1f} us "
                     f"({raw / nonblocking:.2f}x)  host service {service * 1e6:8.1f} us ({raw / service:.2f}x)  "
                     f"compiled program {step * 1e6:8.1f} us ({raw / step:.2f}x)  "
                     f"mpi4py bus bw {2 * (hvd.size() - 1) / hvd.size() * nbytes / raw / 1e9:.2f} GB/s")
    batch = 256 // hvd.size()
    plain, dist = interleaved(lambda: mlp_step(False, batch), lambda: mlp_step(True, batch))
    lines.append(f"W6 step, batch {batch}/rank: plain {plain * 1e3:.3f} ms  DistributedOptimizer {dist * 1e3:.3f} ms "
                 f"({(dist / plain - 1) * 100:+.1f}%)")
    if hvd.size() == 1:
        plain, forced = interleaved(lambda: mlp_step(False, batch), lambda: mlp_step("forced", batch))
        lines.append(f"W6 step, 1 rank, with the gradient bucket forced in (identity collective): plain "
                     f"{plain * 1e3:.3f} ms  bucketed {forced * 1e3:.3f} ms ({(forced / plain - 1) * 100:+.1f}%)")
    plain, dist = interleaved(lambda: gd_step(False), lambda: gd_step(True), reps=100)
    lines.append(f"W4 step, {20640 // hvd.size()} rows/rank: plain {plain * 1e3:.3f} ms  DistributedOptimizer "
                 f"{dist * 1e3:.3f} ms ({(dist / plain - 1) * 100:+.1f}%)")
    if hvd.rank() == 0:
        print("\n".join(lines))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
