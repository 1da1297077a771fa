"""pygraph's random numbers equal TensorFlow's, bit for bit.

The oracle is tests/fixtures/tf_random.npz, written by TensorFlow 2.21 (tensorflow-cpu, graph mode with
`tf.compat.v1.disable_v2_behavior()`) running tests/fixtures/make_tf_random.py in a venv of its own; its
docstring says how to rerun it. Each case builds the same graph here and compares every run's values:
float32 and float64 bitwise (both use the same correctly specified bit tricks, and glibc's log/sincos on
the machine, as TF's CPU kernels do), and the names of all ops created, which fix TF1's op-count seeds.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from fixtures.random_cases import both_seeds, graph_only, initializers, op_seed_only

import pygraph as tf

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "tf_random.npz")


@pytest.fixture(scope="module")
def tf_values():
    with np.load(FIXTURE) as data:
        return {k: data[k] for k in data.files}


def check_case(tf_values, case, build, same_ops=True):
    graph = tf.Graph()
    with graph.as_default():
        tensors = build(tf)
        if same_ops:  # TF 2's random_uniform skips min/max for [0, 1): only where op counts matter
            np.testing.assert_array_equal([op.name for op in graph.get_operations()], tf_values[f"{case}/op_names"])
        variables = any(isinstance(t, tf.Variable) for t in tensors.values())
        with tf.Session() as sess:
            if variables:
                sess.run(tf.global_variables_initializer())
            fetches = {n: (t.value() if isinstance(t, tf.Variable) else t) for n, t in tensors.items()}
            for k in range(1 if variables else 3):
                values = sess.run(fetches)
                for name, value in values.items():
                    expected = tf_values[f"{case}/{name}/run{k}"]
                    assert value.dtype == expected.dtype and value.shape == expected.shape, name
                    # bitwise: view the floats as integers so -0.0 != 0.0 and the last bit counts
                    bits = value.view(f"u{value.itemsize}")
                    mismatch = np.flatnonzero(bits.ravel() != expected.view(f"u{value.itemsize}").ravel())
                    assert mismatch.size == 0, (f"{case}/{name} run {k}: {mismatch.size} of {value.size} values "
                                                f"differ, first at {mismatch[:5]}: {value.ravel()[mismatch[:5]]} "
                                                f"vs TF {expected.ravel()[mismatch[:5]]}")


def test_both_seeds_every_kernel_and_repeated_runs(tf_values):
    check_case(tf_values, "both", both_seeds, same_ops=False)


def test_op_seed_alone_pairs_with_the_default_graph_seed(tf_values):
    check_case(tf_values, "op_only", op_seed_only, same_ops=False)


def test_graph_seed_alone_takes_tf1_op_counts(tf_values):
    check_case(tf_values, "graph_only", graph_only)


def test_initializers_through_get_variable(tf_values):
    check_case(tf_values, "init", initializers)


def test_threads_split_groups_at_tf_counter_offsets(tf_values):
    """A large first run, split across threads, starts with the numbers TF gave a small op with the same
    seeds: group g always reads counter block g (g * 256 for truncated normals), whatever the size or the
    thread that fills it."""
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(42)
        normal = tf.random_normal([400_000], seed=17)
        trunc = tf.truncated_normal([400_000], seed=18)
        trunc64 = tf.truncated_normal([100_000], dtype=tf.float64, seed=19)
        with tf.Session() as sess:
            nv, tv, t64 = sess.run([normal, trunc, trunc64])
    for big, key in ((nv, "normal_big"), (tv, "trunc_big"), (t64, "trunc_big_f64")):
        expected = tf_values[f"both/{key}/run0"]
        np.testing.assert_array_equal(big[:expected.size].view(f"u{big.itemsize}"),
                                      expected.view(f"u{big.itemsize}"))
