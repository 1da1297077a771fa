"""One rank of the tests in test_distribute.py, started by mpiexec: `distribute_worker.py SCENARIO OUT_DIR`.

regression: the lecture's linear regression with every optimizer wrapped in DistributedOptimizer, each rank
    on its shard of a global batch, after a broadcast of rank-dependent initial values; rank 0 writes the
    initial and final thetas (and every rank its post-broadcast values) to OUT_DIR; rank 0 saves a
    checkpoint that every rank restores.
kill: rank 1 SIGKILLs itself after two steps; hang: rank 1 stops taking part instead (sleeps); the others train
    on and must fail within the timeout. hang_large: hang, on an allreduce of a large buffer.
mismatch: rank 1 builds a model with another variable shape.
accumulate: backward_passes_per_step=2 on the two halves of each rank's shard.
gather: allgather of tensors with a first dimension that differs by rank.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import housing  # noqa: E402

import pygraph as tf  # noqa: E402
import pygraph.distribute as hvd  # noqa: E402

ROWS, STEPS = 240, 15
OPTIMIZERS = {
    "sgd": lambda: tf.train.GradientDescentOptimizer(0.05),
    "momentum": lambda: tf.train.MomentumOptimizer(0.05, 0.9),
    "adam": lambda: tf.train.AdamOptimizer(0.1),
    "adagrad": lambda: tf.train.AdagradOptimizer(0.3),
    "rmsprop": lambda: tf.train.RMSPropOptimizer(0.05),
}


def global_batch():
    features, target = housing.load(ROWS)
    scaled = (features - features.mean(axis=0)) / features.std(axis=0)
    return np.c_[np.ones((ROWS, 1)), scaled], target.reshape(-1, 1)


def model(X_data, y_data, theta_init, opt, n_features=9):
    """The regression graph: (theta, loss, train_op); opt=None builds it without an optimizer."""
    X = tf.placeholder(tf.float64, [None, n_features], name="X")
    y = tf.placeholder(tf.float64, [None, 1], name="y")
    theta = tf.Variable(theta_init, name="theta")
    bias = tf.Variable(np.zeros((1, 1)), name="bias")
    loss = tf.reduce_mean(tf.square(tf.matmul(X, theta) + bias - y), name="mse")
    train_op = opt.minimize(loss) if opt is not None else None
    return X, y, theta, train_op


def shard(X_data, y_data):
    per = len(X_data) // hvd.size()
    part = slice(hvd.rank() * per, (hvd.rank() + 1) * per)
    return X_data[part], y_data[part]


def regression(out):
    X_data, y_data = global_batch()
    Xs, ys = shard(X_data, y_data)
    results = {}
    for name, make in OPTIMIZERS.items():
        tf.reset_default_graph()
        init = np.random.default_rng(100 + hvd.rank()).uniform(-1, 1, (9, 1))  # differs per rank
        X, y, theta, train_op = model(X_data, y_data, init, hvd.DistributedOptimizer(make()))
        hook = hvd.BroadcastGlobalVariablesHook(0)  # momentum's run broadcasts through the hook
        bcast = None if name == "momentum" else hvd.broadcast_global_variables(0)
        if bcast is None:
            hook.begin()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            if bcast is None:
                hook.after_create_session(sess)
            else:
                sess.run(bcast)
            start = sess.run(theta)
            results[f"{name}_start_rank{hvd.rank()}"] = start
            for _ in range(STEPS):
                sess.run(train_op, feed_dict={X: Xs, y: ys})
            results[f"{name}_final_rank{hvd.rank()}"] = sess.run(theta)
            if name == "adam":
                saver = tf.train.Saver()
                path = os.path.join(out, "model.ckpt")
                if hvd.rank() == 0:
                    saver.save(sess, path)
                sess.run(hvd.allreduce(tf.constant(1.0)))  # a barrier: the checkpoint is written
                sess.run(theta.assign(np.zeros((9, 1))))
                saver.restore(sess, path)
                results[f"restored_rank{hvd.rank()}"] = sess.run(theta)
    tf.reset_default_graph()  # fp16 compression: 0.1 travels as the half float 1638/16384
    third = tf.constant(np.full(4, 0.1, np.float32))
    with tf.Session() as sess:
        results["fp16_sum"] = sess.run(hvd.allreduce(third, op=hvd.Sum, compression=hvd.Compression.fp16))
        results["fp32_sum"] = sess.run(hvd.allreduce(third, op=hvd.Sum))
    np.savez(os.path.join(out, f"rank{hvd.rank()}.npz"), **results)


def accumulate(out):
    """backward_passes_per_step=2, averaged: each rank's shard in two halves, one per step, must make the
    same updates as one process on the global batch (the regression scenario's reference)."""
    X_data, y_data = global_batch()
    Xs, ys = shard(X_data, y_data)
    half = len(Xs) // 2
    results = {}
    for name in ("sgd", "adam"):
        tf.reset_default_graph()
        X, y, theta, _ = model(X_data, y_data, np.random.default_rng(100).uniform(-1, 1, (9, 1)), None)
        step = tf.train.get_or_create_global_step()
        opt = hvd.DistributedOptimizer(OPTIMIZERS[name](), backward_passes_per_step=2,
                                       average_aggregated_gradients=True)
        train_op = opt.minimize(tf.get_default_graph().get_tensor_by_name("mse:0"), global_step=step)
        with tf.Session() as sess:
            sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
            if name == "sgd" and hvd.size() > 1:
                # a step that only accumulates makes no collective: rank 0 takes one alone, while rank 1
                # waits elsewhere (an allreduce now would wait for rank 1 until the timeout)
                if hvd.rank() == 0:
                    sess.run(train_op, feed_dict={X: Xs[:half], y: ys[:half]})
                    sess.run(tf.local_variables_initializer())  # start the count again
                    sess.run(step.assign(0))
                from mpi4py import MPI
                MPI.COMM_WORLD.Barrier()
            unchanged = True
            for _ in range(STEPS):
                before = sess.run(theta)
                sess.run(train_op, feed_dict={X: Xs[:half], y: ys[:half]})
                unchanged &= bool(np.array_equal(sess.run(theta), before))
                sess.run(train_op, feed_dict={X: Xs[half:], y: ys[half:]})
            results[f"{name}_final_rank{hvd.rank()}"] = sess.run(theta)
            results[f"{name}_unchanged_rank{hvd.rank()}"] = unchanged
            results[f"{name}_global_step_rank{hvd.rank()}"] = sess.run(step)
    results["direct_problem"] = str(hvd._state.direct_problem)
    np.savez(os.path.join(out, f"rank{hvd.rank()}.npz"), **results)


def gather(out):
    """allgather of tensors whose first dimension differs by rank (rank r has r + 1 rows), from a constant
    and from a feed; then a feed whose second dimension differs, which must fail on every rank."""
    r = hvd.rank()
    mine = np.arange((r + 1) * 3, dtype=np.float64).reshape(r + 1, 3) + 100 * r
    fed = tf.placeholder(tf.int32, [None, None])
    gathered = hvd.allgather(tf.constant(mine))
    results = {"static_shape": str(gathered.shape)}
    with tf.Session() as sess:
        results["constant"] = sess.run(gathered)
        results["fed"] = sess.run(hvd.allgather(fed), {fed: np.full((2 - r % 2, 2), r, np.int32)})
        results["empty"] = sess.run(hvd.allgather(fed), {fed: np.zeros((0, 2), np.int32)})
        try:
            sess.run(hvd.allgather(fed, name="bad"), {fed: np.zeros((1, 2 + (r == 1)), np.int32)})
        except tf.errors.InvalidArgumentError as e:
            results["error"] = str(e)
    np.savez(os.path.join(out, f"rank{r}.npz"), **results)


def kill(out, hang=False):
    X_data, y_data = global_batch()
    Xs, ys = shard(X_data, y_data)
    X, y, theta, train_op = model(X_data, y_data, np.zeros((9, 1)),
                                  hvd.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.01)))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        train_until_a_rank_fails(lambda: sess.run(train_op, feed_dict={X: Xs, y: ys}), out, hang)


def hang_large(out):
    """hang, on an allreduce large enough for the direct engine's blocking MPI_Allreduce on its helper thread;
    rank 0 records the threads that its steps started and whether the direct sums were right."""
    from pygraph.distribute import direct

    value = tf.Variable(np.full(direct.BLOCKING_MIN_BYTES // 4, hvd.rank() + 1, np.float32))
    total = hvd.allreduce(value, op=hvd.Sum)
    threads = []  # after each step: the first is served by mpi4py, the next ones by the direct engine

    def step():
        result = sess.run(total)
        threads.append(len(os.listdir("/proc/self/task")))
        if hvd.rank() == 0 and len(threads) == 2:
            from mpi4py import MPI
            blocking = hvd._state.direct_problem is None and MPI.Query_thread() == MPI.THREAD_MULTIPLE
            np.savez(Path(out, "rank0.npz"), threads=threads, sum_right=np.all(result == 3), blocking=blocking)

    with tf.Session() as sess:
        sess.run(value.initializer)
        train_until_a_rank_fails(step, out, hang=True)


def train_until_a_rank_fails(step, out, hang):
    """Rank 1 leaves at the third step (killed, or hung); the others run steps until one fails."""
    for number in range(1000):
        if number == 2 and hvd.rank() == 1:
            sys.stdout.flush()
            if hang:  # alive but gone from the job (a stuck data loader, a lost machine)
                time.sleep(20)
                os._exit(3)
            os.kill(os.getpid(), signal.SIGKILL)
        started = time.monotonic()
        try:
            step()
        except tf.errors.OpError as e:  # what the survivors saw, for the test (mpiexec may be gone)
            report = f"{time.monotonic() - started:.3f}\n{type(e).__name__}: {e}"
            Path(out, f"rank{hvd.rank()}.err.tmp").write_text(report)
            os.replace(Path(out, f"rank{hvd.rank()}.err.tmp"), Path(out, f"rank{hvd.rank()}.err"))
            raise
    print("rank", hvd.rank(), "finished training although a rank died", flush=True)


def mismatch(out):
    n = 9 if hvd.rank() == 0 else 5
    X_data, y_data = global_batch()
    Xs, ys = shard(X_data[:, :n], y_data)
    X, y, theta, train_op = model(Xs, ys, np.zeros((n, 1)),
                                  hvd.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.01)), n)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train_op, feed_dict={X: Xs, y: ys})
    print("rank", hvd.rank(), "ran a step with mismatched graphs", flush=True)


if __name__ == "__main__":
    hvd.init()
    scenarios = {"regression": regression, "accumulate": accumulate, "gather": gather, "kill": kill,
                 "hang": lambda out: kill(out, hang=True), "hang_large": hang_large, "mismatch": mismatch}
    scenarios[sys.argv[1]](sys.argv[2])
