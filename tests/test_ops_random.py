"""Random ops: distributions (moments and ranges), TF1 seed rules, reproducibility across sessions and
processes, fresh numbers on every run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pygraph as tf
from pygraph.ops import random as random_ops


def test_distributions():
    tf.set_random_seed(1234)
    n = 200_000
    u = tf.random_uniform([n], -2.0, 3.0)
    u64 = tf.random_uniform([n // 2, 2], dtype=tf.float64)
    z = tf.random_normal([n], mean=1.0, stddev=2.0)
    z64 = tf.random_normal([n], dtype=tf.float64)
    t = tf.truncated_normal([n], stddev=0.5)
    k = tf.random_uniform([n], 3, 13, dtype=tf.int32)
    k64 = tf.random_uniform([n], -5, 5, dtype=tf.int64)
    with tf.Session() as sess:
        uv, u64v, zv, z64v, tv, kv, k64v = sess.run([u, u64, z, z64, t, k, k64])
    assert uv.dtype == np.float32 and uv.shape == (n,)
    assert uv.min() >= -2.0 and uv.max() < 3.0
    assert abs(uv.mean() - 0.5) < 0.02 and abs(uv.std() - 5 / np.sqrt(12)) < 0.02
    assert u64v.dtype == np.float64 and 0 <= u64v.min() and u64v.max() < 1 and abs(u64v.mean() - 0.5) < 0.01
    assert abs(zv.mean() - 1.0) < 0.03 and abs(zv.std() - 2.0) < 0.03
    assert abs(np.mean(np.abs(zv - 1.0) < 2.0) - 0.6827) < 0.01  # the normal's shape, not only moments
    assert z64v.dtype == np.float64 and abs(z64v.mean()) < 0.015 and abs(z64v.std() - 1.0) < 0.015
    assert np.abs(tv).max() <= 1.0 and abs(tv.std() - 0.5 * 0.87962566) < 0.01 and abs(tv.mean()) < 0.01
    assert kv.dtype == np.int32 and kv.min() == 3 and kv.max() == 12
    counts = np.bincount(kv - 3)
    assert counts.min() > 0.9 * n / 10
    assert k64v.dtype == np.int64 and k64v.min() == -5 and k64v.max() == 4


def test_each_run_draws_new_numbers_and_sessions_restart():
    tf.set_random_seed(7)
    r = tf.random_normal([5, 3])
    with tf.Session() as sess:
        first, second = sess.run(r), sess.run(r)
        both = sess.run([r, r * 1.0])  # one draw per run, however often it is fetched
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(both[0], both[1])
    with tf.Session() as sess:
        again = sess.run(r), sess.run(r)
    np.testing.assert_array_equal(again[0], first)
    np.testing.assert_array_equal(again[1], second)


def test_tf1_seed_rules():
    g = tf.Graph()
    with g.as_default():
        a = tf.random_uniform([3], seed=5)
        assert a.op.inputs[0].op.inputs[0].op.get_attr("seed") == random_ops.DEFAULT_GRAPH_SEED
        assert a.op.inputs[0].op.inputs[0].op.get_attr("seed2") == 5
        b = tf.random_uniform([3])
        assert b.op.inputs[0].op.inputs[0].op.get_attr("seed") == 0  # nondeterministic
        tf.set_random_seed(99)
        assert g.seed == 99
        c = tf.random_uniform([3])
        seeds = c.op.inputs[0].op.inputs[0].op
        assert seeds.get_attr("seed") == 99 and seeds.get_attr("seed2") > 0
    assert random_ops.get_seed(None) == (None, None)
    tf.set_random_seed(0)
    assert random_ops.get_seed(0) == (0, 2**31 - 1)


def test_same_op_seed_same_numbers_any_graph_any_thread_count():
    def draw():
        g = tf.Graph()
        with g.as_default():
            x = tf.placeholder(tf.float32, [])  # an unrelated op: op seeds, not op counts, decide
            r = tf.random_normal([1000], seed=3) + x
            with tf.Session() as sess:
                return sess.run(r, {x: 0.0})

    first = draw()
    np.testing.assert_array_equal(first, draw())
    b = tf.truncated_normal([100], seed=1)
    c = tf.truncated_normal([100], seed=2)
    with tf.Session() as sess:
        bv, cv = sess.run([b, c])
    assert not np.array_equal(bv, cv)


def test_unseeded_ops_differ_between_sessions():
    r = tf.random_uniform([100])
    with tf.Session() as s1, tf.Session() as s2:
        assert not np.array_equal(s1.run(r), s2.run(r))


_CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    import pygraph as tf
    tf.set_random_seed(2024)
    x = tf.random_uniform([4, 5], dtype=tf.float64) + tf.truncated_normal([4, 5], dtype=tf.float64)[0, 0]
    with tf.Session() as sess:
        sess.run(x)
        np.save(sys.argv[1], sess.run(x))
""")


def test_reproducible_across_processes_and_thread_counts(tmp_path):
    outs = []
    for threads in ("1", "2"):
        path = tmp_path / f"draw{threads}.npy"
        env = dict(os.environ, PYGRAPH_NUM_THREADS=threads)
        subprocess.run([sys.executable, "-c", _CHILD, str(path)], check=True, env=env, timeout=120)
        outs.append(np.load(path))
    np.testing.assert_array_equal(outs[0], outs[1])
    tf.set_random_seed(2024)
    x = tf.random_uniform([4, 5], dtype=tf.float64) + tf.truncated_normal([4, 5], dtype=tf.float64)[0, 0]
    with tf.Session() as sess:
        sess.run(x)
        np.testing.assert_array_equal(sess.run(x), outs[0])


def test_symbolic_shape_and_errors():
    x = tf.placeholder(tf.float32, [None, 3])
    noise = tf.random_normal(tf.shape(x), seed=1)
    bad = tf.random_uniform([2], tf.placeholder(tf.int32, []), 3, dtype=tf.int32)
    assert noise.shape.as_list() == [None, 3]
    with tf.Session() as sess:
        assert sess.run(noise, {x: np.zeros((7, 3), np.float32)}).shape == (7, 3)
        with pytest.raises(tf.errors.InvalidArgumentError, match="Need minval < maxval: 5 >= 3"):
            sess.run(bad, {bad.op.inputs[1]: 5})
    # TF 2.21's random_ops texts; its accepted list also names float16 and bfloat16, which pygraph lacks
    with pytest.raises(ValueError) as e:
        tf.random_uniform([2], dtype=tf.int32)
    assert str(e.value) == "Must specify maxval for integer dtype tf.int32"
    with pytest.raises(ValueError) as e:
        tf.random_uniform([2], dtype=tf.bool)
    assert str(e.value) == ("Argument `dtype` got invalid value <dtype: 'bool'>. Accepted dtypes are "
                            "(tf.float32, tf.float64, tf.int32, tf.int64).")
    for fn in (tf.random_normal, tf.truncated_normal):  # TF: a TypeError (tests/test_dtype_messages.py)
        with pytest.raises(TypeError, match="parameter 'dtype' has DataType int32 not in list of allowed"):
            fn([2], dtype=tf.int32)


def test_random_shuffle_permutes_rows_and_has_no_gradient():
    x = tf.placeholder(tf.float32, [None, 2])
    y = tf.random_shuffle(x, seed=4)
    rows = np.arange(40, dtype=np.float32).reshape(20, 2)
    with tf.Session() as sess:
        a, b = sess.run(y, {x: rows}), sess.run(y, {x: rows})
        assert sess.run(y, {x: rows[:1]}).tolist() == rows[:1].tolist()  # one row: nothing to draw
    for out in (a, b):
        assert sorted(map(tuple, out.tolist())) == sorted(map(tuple, rows.tolist()))  # whole rows, each once
    assert not np.array_equal(a, b) and not np.array_equal(a, rows)
    with pytest.raises(LookupError, match="No gradient defined for operation 'RandomShuffle'"):
        tf.gradients(tf.reduce_sum(y), x)
    with pytest.raises(ValueError, match="at least rank 1"):
        tf.random_shuffle(tf.constant(1.0))
