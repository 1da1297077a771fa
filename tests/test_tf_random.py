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

import pygraph as tf

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "tf_random.npz")


@pytest.fixture(scope="module")
def tf_values():
    with np.load(FIXTURE) as data:
        return {k: data[k] for k in data.files}


def both_seeds():
    tf.set_random_seed(42)
    return {
        "uniform_f32": tf.random_uniform([3, 4], seed=7),
        "uniform_f64": tf.random_uniform([5, 3], dtype=tf.float64, seed=8),
        "uniform_range": tf.random_uniform([7], -3.0, 5.0, seed=9),
        "uniform_i32": tf.random_uniform([9], -4, 17, dtype=tf.int32, seed=10),
        "uniform_i64": tf.random_uniform([5], -(2**40), 2**40, dtype=tf.int64, seed=11),
        "normal_f32": tf.random_normal([7], seed=12),
        "normal_f64": tf.random_normal([5], dtype=tf.float64, seed=13),
        "normal_scaled": tf.random_normal([2, 3], mean=1.5, stddev=0.25, seed=14),
        "trunc_f32": tf.truncated_normal([10], seed=15),
        "trunc_f64": tf.truncated_normal([3, 3], dtype=tf.float64, seed=16),
        "normal_big": tf.random_normal([1001], seed=17),
        "trunc_big": tf.truncated_normal([1001], seed=18),
        "trunc_big_f64": tf.truncated_normal([301], dtype=tf.float64, seed=19),
        "shuffle_vector": tf.random_shuffle(np.arange(10, dtype=np.int32), seed=20),
        "shuffle_rows": tf.random_shuffle(np.arange(18, dtype=np.float32).reshape(6, 3), seed=21),
        "shuffle_long": tf.random_shuffle(np.arange(1000, dtype=np.int64), seed=22),
        "shuffle_one_row": tf.random_shuffle(np.ones((1, 4), np.float64), seed=23),
    }


def op_seed_only():
    return {
        "uniform_f32": tf.random_uniform([6], seed=5),
        "normal_f64": tf.random_normal([3], dtype=tf.float64, seed=6),
        "trunc_f32": tf.truncated_normal([2, 2], seed=2**31 + 3),
    }


def graph_only():
    tf.set_random_seed(1234)
    return {
        "uniform": tf.random_uniform([2, 3], -1.0, 1.0),
        "normal": tf.random_normal([4], stddev=2.0),
        "trunc": tf.truncated_normal([5]),
        "normal_f64": tf.random_normal([3], dtype=tf.float64),
    }


def initializers():
    tf.set_random_seed(2024)
    init = tf.initializers
    return {
        "default_glorot": tf.get_variable("default", [3, 4]),
        "glorot_uniform": tf.get_variable("gu", [3, 4], initializer=init.glorot_uniform()),
        "glorot_normal": tf.get_variable("gn", [3, 4], initializer=init.glorot_normal()),
        "he_normal": tf.get_variable("hn", [3, 4], initializer=init.he_normal()),
        "he_uniform": tf.get_variable("hu", [3, 4], initializer=init.he_uniform()),
        "lecun_normal": tf.get_variable("ln", [3, 4], initializer=init.lecun_normal()),
        "variance_scaling": tf.get_variable(
            "vs", [3, 4], initializer=tf.variance_scaling_initializer(2.0, "fan_avg", "untruncated_normal")),
        "truncated": tf.get_variable("tn", [5], initializer=tf.truncated_normal_initializer(stddev=0.1)),
        "normal": tf.get_variable("rn", [5], initializer=tf.random_normal_initializer(1.0, 0.5)),
        "uniform": tf.get_variable("ru", [5], initializer=tf.random_uniform_initializer(-0.5, 0.5)),
        "seeded_f64": tf.get_variable("sd", [5], tf.float64, initializer=init.glorot_uniform(seed=3)),
    }


def check_case(tf_values, case, build, same_ops=True):
    graph = tf.Graph()
    with graph.as_default():
        tensors = build()
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
