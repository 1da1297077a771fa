"""TensorFlow 1.x's Session (tf.compat.v1, graph mode) on the benchmark's MLP, run with the peers' Python
(tensorflow-cpu installed there):

    .venv-peers/bin/python benchmarks/aot/tf1_mlp.py WEIGHTS.npz REPS THREADS

The graph is what a TF1 user has after training: variables holding the same weights pygraph's artifact
embeds, MatMul + bias + ReLU; timed through Session.make_callable (TF1's fastest Python entry) with
intra_op_parallelism_threads=THREADS. Prints `check max_abs_diff`, then `batch median_us` for batch 1 and
256 (lowest of three medians, as ort_mlp.py).
"""

import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

v1 = tf.compat.v1


def main():
    weights = dict(np.load(sys.argv[1]))
    reps, threads = int(sys.argv[2]), int(sys.argv[3])
    v1.disable_eager_execution()
    graph = tf.Graph()
    with graph.as_default():
        X = v1.placeholder(tf.float32, (None, 784), name="X")
        h = X
        for layer in ("hidden1", "hidden2", "outputs"):
            with v1.variable_scope(layer):
                w = v1.get_variable("kernel", initializer=weights[f"{layer}/kernel"], use_resource=False)
                b = v1.get_variable("bias", initializer=weights[f"{layer}/bias"], use_resource=False)
                h = tf.matmul(h, w) + b
                if layer != "outputs":
                    h = tf.nn.relu(h)
        config = v1.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=1)
        sess = v1.Session(graph=graph, config=config)
        sess.run(v1.global_variables_initializer())
        call = sess.make_callable(h, [X])
    print("check", float(np.max(np.abs(call(weights["x_check"]) - weights["y_check"]))))
    rng = np.random.default_rng(1)
    for batch in (1, 256):
        x = rng.standard_normal((batch, 784)).astype(np.float32)
        for _ in range(20):
            call(x)
        medians = []
        for _ in range(3):
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                call(x)
                times.append(time.perf_counter() - t0)
            medians.append(statistics.median(times))
        print(batch, min(medians) * 1e6)
    print("version", tf.__version__)


if __name__ == "__main__":
    main()
