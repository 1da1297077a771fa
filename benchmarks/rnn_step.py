"""One training step of Geron's MNIST RNN (Hands-On ML, ch. 14: 28 steps of 28 inputs, BasicRNNCell(150),
a dense layer of 10 logits on the final state, Adam), in pygraph or in TensorFlow 1 (tf.compat.v1), on the
same weights and batch; prints the loss after 3 steps and the median time of a step.

    .venv/bin/python -m benchmarks.rnn_step                 # pygraph
    /work/peers/bin/python -m benchmarks.rnn_step --tf      # TensorFlow (same loss expected)
    ... --cell lstm|gru                                     # BasicLSTMCell / GRUCell instead
    ... --threads 1                                         # one thread in both
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tf", action="store_true", help="run TensorFlow's tf.compat.v1 instead of pygraph")
    ap.add_argument("--cell", default="basic", choices=["basic", "lstm", "gru"])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, default=0, help="threads of each framework (0: its default, all cores)")
    args = ap.parse_args()
    config = None
    if args.tf:
        os.environ["TF_USE_LEGACY_KERAS"] = "1"  # tf.nn.rnn_cell and tf.layers come from tf_keras
        import tensorflow.compat.v1 as tf
        tf.disable_v2_behavior()
        config = tf.ConfigProto(inter_op_parallelism_threads=1, intra_op_parallelism_threads=args.threads)
    else:
        if args.threads:
            os.environ["PYGRAPH_NUM_THREADS"] = str(args.threads)
        import pygraph as tf
    n_steps, n_inputs, n_neurons, n_outputs, batch = 28, 28, 150, 10, 150
    rng = np.random.RandomState(42)
    xs = rng.rand(batch, n_steps, n_inputs).astype(np.float32)
    ys = rng.randint(0, n_outputs, batch).astype(np.int32)
    X = tf.placeholder(tf.float32, [None, n_steps, n_inputs], name="X")
    y = tf.placeholder(tf.int32, [None], name="y")
    cells = {"basic": "BasicRNNCell", "lstm": "BasicLSTMCell", "gru": "GRUCell"}
    cell = getattr(tf.nn.rnn_cell, cells[args.cell])(num_units=n_neurons)
    outputs, states = tf.nn.dynamic_rnn(cell, X, dtype=tf.float32)
    final = states.h if args.cell == "lstm" else states
    logits = tf.layers.dense(final, n_outputs)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train = tf.train.AdamOptimizer(0.001).minimize(loss)
    wrng = np.random.RandomState(0)
    with tf.Session(config=config) as sess:
        sess.run(tf.global_variables_initializer())
        for v in tf.trainable_variables():  # the same weights in both frameworks
            sess.run(v.assign(wrng.uniform(-0.1, 0.1, v.shape.as_list()).astype(np.float32)))
        feed = {X: xs, y: ys}
        for _ in range(3):
            sess.run(train, feed)
        print(f"loss after 3 steps: {sess.run(loss, feed):.6f}")
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            sess.run(train, feed)
            times.append(time.perf_counter() - t0)
    print(f"{'tf' if args.tf else 'pygraph'} {args.cell}: median step {np.median(times) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
