"""Models and consumer programs shared by the ahead-of-time compiler's tests (test_aot*.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import housing
import numpy as np

import pygraph as tf

PYTHON_ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))


def compile_command(*args, cwd=None):
    """`python -m pygraph.aot ARGS` (the pygraph-compile command): (exit status, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "pygraph.aot", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=PYTHON_ENV, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def housing_data():
    features, target = housing.load()
    scaled = (features - features.mean(axis=0)) / features.std(axis=0)
    return np.c_[np.ones((len(scaled), 1)), scaled].astype(np.float32), target.reshape(-1, 1).astype(np.float32)


def train_housing(prefix, epochs=3, batch_size=100):
    """The lecture's mini-batch regression, saved with Saver: returns the graph's names."""
    X_data, y_data = housing_data()
    m, n1 = X_data.shape
    graph = tf.Graph()
    with graph.as_default():
        X = tf.placeholder(tf.float32, shape=(None, n1), name="X")
        y = tf.placeholder(tf.float32, shape=(None, 1), name="y")
        theta = tf.Variable(tf.random_uniform([n1, 1], -1.0, 1.0, seed=42), name="theta")
        y_pred = tf.matmul(X, theta, name="predictions")
        mse = tf.reduce_mean(tf.square(y_pred - y), name="mse")
        training_op = tf.train.GradientDescentOptimizer(learning_rate=0.01).minimize(mse)
        tf.summary.scalar("MSE", mse)
        tf.summary.histogram("theta", theta)
        merged = tf.summary.merge_all()
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(epochs):
                for b in range(m // batch_size):
                    rows = slice(b * batch_size, (b + 1) * batch_size)
                    sess.run(training_op, {X: X_data[rows], y: y_data[rows]})
            saver.save(sess, str(prefix))
    return merged.op.name


def mlp_graph(seed=0):
    """784-300-100-10 with ReLU, trained a few steps on random data: (graph, session, X, y, logits, loss, train)."""
    rng = np.random.default_rng(seed)
    graph = tf.Graph()
    with graph.as_default():
        X = tf.placeholder(tf.float32, (None, 784), name="X")
        y = tf.placeholder(tf.int64, (None,), name="y")
        h = X
        for name, n_in, n_out in (("hidden1", 784, 300), ("hidden2", 300, 100), ("outputs", 100, 10)):
            with tf.name_scope(name):
                W = tf.Variable(tf.truncated_normal((n_in, n_out), stddev=2 / np.sqrt(n_in), seed=1), name="kernel")
                b = tf.Variable(tf.zeros([n_out]), name="bias")
                h = tf.matmul(h, W) + b
                if name != "outputs":
                    h = tf.nn.relu(h)
        logits = tf.identity(h, name="logits")
        xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
        loss = tf.reduce_mean(xent, name="loss")
        train = tf.train.GradientDescentOptimizer(0.05).minimize(loss, name="train")
        sess = tf.Session(graph=graph)
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train, {X: rng.standard_normal((64, 784)).astype(np.float32), y: rng.integers(0, 10, 64)})
    return graph, sess, X, y, logits, loss, train


CONSUMER_C = r"""
/* Runs a one-input, one-result model on BATCH rows read from a file; writes the result rows. */
#include <stdio.h>
#include <stdlib.h>
#include "housing.h"
#include "mlp.h"

#define DEFINE_RUNNER(M, IN_COLS, OUT_COLS)                                                   \
  static int run_##M(long batch, const char* in_path, const char* out_path) {                \
    float* x = (float*)malloc(sizeof(float) * (size_t)(batch * (IN_COLS) + 1));               \
    float* y = (float*)malloc(sizeof(float) * (size_t)(batch * (OUT_COLS) + 1));              \
    FILE* f = fopen(in_path, "rb");                                                           \
    if (!x || !y || !f || fread(x, sizeof(float), (size_t)(batch * (IN_COLS)), f) != (size_t)(batch * (IN_COLS))) \
      return 3;                                                                               \
    fclose(f);                                                                                \
    M##_model* m = M##_create(NULL);                                                          \
    if (!m) return 4;                                                                         \
    int32_t status = M##_run(m, batch, x, y);                                                 \
    if (status != 0) {                                                                        \
      fprintf(stderr, "%d %s\n", (int)status, M##_error(m));                                  \
      return 5;                                                                               \
    }                                                                                         \
    M##_destroy(m);                                                                           \
    f = fopen(out_path, "wb");                                                                \
    if (!f || fwrite(y, sizeof(float), (size_t)(batch * (OUT_COLS)), f) != (size_t)(batch * (OUT_COLS))) return 6; \
    fclose(f);                                                                                \
    free(x);                                                                                  \
    free(y);                                                                                  \
    return 0;                                                                                 \
  }

DEFINE_RUNNER(housing, 9, 1)
DEFINE_RUNNER(mlp, 784, 10)

int main(int argc, char** argv) {
  if (argc != 5) return 2;
  long batch = atol(argv[2]);
  if (argv[1][0] == 'h') return run_housing(batch, argv[3], argv[4]);
  return run_mlp(batch, argv[3], argv[4]);
}
"""

CONSUMER_CPP = r"""
// Runs the MLP through the C++ wrapper class: BATCH rows from a file, logits to a file.
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "mlp.h"

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  const long batch = std::atol(argv[1]);
  const size_t rows = static_cast<size_t>(batch);
  std::vector<float> x(rows * 784 + 1), y(rows * 10 + 1);
  std::FILE* f = std::fopen(argv[2], "rb");
  if (!f || std::fread(x.data(), sizeof(float), rows * 784, f) != rows * 784) return 3;
  std::fclose(f);
  mlp::Model model(2);
  if (model.run(batch, x.data(), y.data()) != MLP_OK) {
    std::fprintf(stderr, "%s\n", model.error());
    return 5;
  }
  f = std::fopen(argv[3], "wb");
  if (!f || std::fwrite(y.data(), sizeof(float), rows * 10, f) != rows * 10) return 6;
  std::fclose(f);
  return 0;
}
"""

CONSUMER_CMAKE = """cmake_minimum_required(VERSION 3.18)
project(app CXX)
find_package(mlp REQUIRED)
add_executable(app app.cpp)
target_compile_options(app PRIVATE -Wall -Wextra -Werror)
target_link_libraries(app PRIVATE mlp::mlp)
"""


def run_consumer(exe, args, inputs, out_shape, tmp):
    """Writes `inputs` to a file, runs `exe ARGS IN OUT`, reads the float32 result of `out_shape`."""
    tmp = Path(tmp)
    src, dst = tmp / "in.bin", tmp / "out.bin"
    np.ascontiguousarray(inputs, dtype=np.float32).tofile(src)
    proc = subprocess.run([str(exe), *map(str, args), str(src), str(dst)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    return np.fromfile(dst, dtype=np.float32).reshape(out_shape)
