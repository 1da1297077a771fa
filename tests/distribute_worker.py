"""One rank of the tests in test_distribute.py, started by mpiexec: `distribute_worker.py SCENARIO OUT_DIR`.

regression: the lecture's linear regression with every optimizer wrapped in DistributedOptimizer, each rank
    on its shard of a global batch, after a broadcast of rank-dependent initial values; rank 0 writes the
    initial and final thetas (and every rank its post-broadcast values) to OUT_DIR; rank 0 saves a
    checkpoint that every rank restores.
kill: rank 1 SIGKILLs itself after two steps; hang: rank 1 stops taking part instead (sleeps); the others train
    on and must fail within the timeout.
mismatch: rank 1 builds a model with another variable shape.
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


def kill(out, hang=False):
    X_data, y_data = global_batch()
    Xs, ys = shard(X_data, y_data)
    X, y, theta, train_op = model(X_data, y_data, np.zeros((9, 1)),
                                  hvd.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.01)))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(1000):
            if step == 2 and hvd.rank() == 1:
                sys.stdout.flush()
                if hang:  # alive but gone from the job (a stuck data loader, a lost machine)
                    time.sleep(20)
                    os._exit(3)
                os.kill(os.getpid(), signal.SIGKILL)
            started = time.monotonic()
            try:
                sess.run(train_op, feed_dict={X: Xs, y: ys})
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
    scenarios = {"regression": regression, "kill": kill, "hang": lambda out: kill(out, hang=True),
                 "mismatch": mismatch}
    scenarios[sys.argv[1]](sys.argv[2])
