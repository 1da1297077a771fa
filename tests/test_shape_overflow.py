"""Shape arithmetic never overflows into memory (issue 8 §3): sizes that overflow or cannot fit give TF's
errors naming the node, never a crash. Each case runs in a fresh interpreter, so a crash (SIGSEGV, SIGFPE)
fails its test instead of killing pytest."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pygraph as tf
from pygraph import _runtime
from pygraph.shape import MAX_RANK

PRELUDE = """
import json
import numpy as np
import pygraph as tf

def report(build, feeds_of=lambda: {}):
    try:
        fetch = build()
        with tf.Session() as sess:
            value = np.asarray(sess.run(fetch, feeds_of()))
    except Exception as e:  # the class and message are what the test checks
        print(json.dumps({"error": type(e).__name__, "message": str(e)}))
    else:
        print(json.dumps({"shape": list(value.shape), "sum": float(value.sum())}))
"""


def isolated(code):
    """Run `code` (which calls report(...) once) in a fresh interpreter; its report as a dict."""
    proc = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, f"crashed with status {proc.returncode}:\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_tile_whose_element_count_exceeds_the_limit_is_resource_exhausted():
    out = isolated("""
        x = tf.placeholder(tf.float32, [None, None])
        report(lambda: tf.tile(x, [2147352580, 1073807362]), lambda: {x: np.ones((2, 1), np.float32)})
    """)
    assert out["error"] == "ResourceExhaustedError", out
    assert "shape[4294705160,1073807362] and type float32" in out["message"]
    assert "[[node Tile (defined at" in out["message"]


def test_tile_whose_element_count_overflows_int64_is_invalid_argument_not_sigfpe():
    out = isolated("""
        x = tf.placeholder(tf.float32, [None, None, None])
        report(lambda: tf.reduce_sum(tf.tile(x, [2**22] * 3)), lambda: {x: np.ones((1, 1, 1), np.float32)})
    """)
    assert out["error"] == "InvalidArgumentError", out
    assert "overflow" in out["message"] and "[4194304,4194304,4194304]" in out["message"]
    assert "[[node Tile" in out["message"]


def test_a_dimension_that_overflows_prints_as_unknown():
    out = isolated("""
        x = tf.placeholder(tf.float32, [None, None])
        report(lambda: tf.tile(x, [2147483647, 1]), lambda: {x: np.ones((2**33, 0), np.float32)})
    """)
    assert out["error"] == "InvalidArgumentError", out
    assert "[?,0]" in out["message"]


def test_static_shapes_that_overflow_fail_when_the_op_is_created():
    x = tf.zeros([1, 1, 1])
    with pytest.raises(ValueError, match=r"Shape \[4194304,4194304,4194304\] of output 0 of 'Tile' \(op: 'Tile'\) "
                                         r"with input shapes: \[1,1,1\], \[3\] overflows"):
        tf.tile(x, [2**22] * 3)
    with pytest.raises(ValueError, match="overflows"):
        tf.placeholder(tf.float32, [2**40, None, 2**40])


def test_static_shapes_within_int64_but_beyond_the_limit_fail_when_run():
    x = tf.tile(tf.zeros([2, 1]), [2**30, 2**29])  # 2^60 elements: TF reports OOM at run time
    with tf.Session() as sess, pytest.raises(tf.errors.ResourceExhaustedError,
                                             match=r"shape\[2147483648,536870912\] and type float32"):
        sess.run(x)


def test_a_buffer_larger_than_memory_is_resource_exhausted_before_allocating():
    out = isolated("""
        x = tf.placeholder(tf.float32, [None, None])
        report(lambda: tf.tile(x, [2**20, 2**20]), lambda: {x: np.ones((2, 1), np.float32)})
    """)
    assert out["error"] == "ResourceExhaustedError", out
    assert "OOM when allocating tensor with shape[2097152,1048576] and type float32 (8796093022208 bytes)" in \
        out["message"]


def test_concatenated_sizes_are_checked():
    out = isolated("""
        x = tf.placeholder(tf.float32, [None, None])
        feed = np.empty((0, 2**58), np.float32)
        report(lambda: tf.concat([x, x, x], 1), lambda: {x: feed})
    """)
    assert out["error"] == "ResourceExhaustedError", out
    assert "[[node concat" in out["message"]


def test_zero_size_feeds_with_huge_dims_are_rejected_cleanly():
    out = isolated("""
        x = tf.placeholder(tf.float32, [None, None, None])
        report(lambda: x * 2, lambda: {x: np.empty((0, 2**40, 2**20), np.float32)})
    """)
    assert out["error"] == "ResourceExhaustedError", out
    assert "[[node Placeholder" in out["message"]


def test_huge_broadcast_feed_is_resource_exhausted_naming_the_placeholder():
    out = isolated("""
        x = tf.placeholder(tf.float32, [None], name="ones")
        report(lambda: x * 2, lambda: {x: np.broadcast_to(np.float32(1), (10**12,))})
    """)
    assert out["error"] == "ResourceExhaustedError", out
    assert "non-contiguous value of shape[1000000000000] and type float32" in out["message"]
    assert "[[node ones (defined at" in out["message"]


@pytest.mark.parametrize("view", ["broadcast", "transposed", "reversed", "strided"])
def test_non_contiguous_feeds_give_numpys_result(view):
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    value = {"broadcast": np.broadcast_to(np.float32(2), (3, 4)), "transposed": base.T.copy().T,
             "reversed": base[::-1], "strided": np.arange(24, dtype=np.float32).reshape(3, 8)[:, ::2]}[view]
    assert not value.flags.c_contiguous
    x = tf.placeholder(tf.float32, [None, None])
    y = tf.reduce_sum(x * 3, axis=1) + x[:, 0]
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: value}), (value * 3).sum(axis=1) + value[:, 0])


def test_rank_limit_matches_the_runtime():
    assert MAX_RANK == _runtime.MAX_RANK


def test_rank_above_the_limit_fails_at_graph_construction():
    x = tf.placeholder(tf.float32, [None])
    with pytest.raises(ValueError, match=r"rank at most 8, but output 0 of 'Reshape' \(op: 'Reshape'\) .* rank 9"):
        tf.reshape(x, [1] * 9)
    with pytest.raises(ValueError, match="rank at most 8"):
        tf.placeholder(tf.float32, [None] * 9)


def test_rank_8_works_end_to_end():
    x = tf.placeholder(tf.float32, [None] * 8)
    value = np.arange(2 * 3 * 1 * 2 * 1 * 2 * 1 * 2, dtype=np.float32).reshape(2, 3, 1, 2, 1, 2, 1, 2)
    y = tf.reduce_sum(tf.transpose(x * 2, [7, 6, 5, 4, 3, 2, 1, 0]), axis=[0, 3])
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: value}), (value * 2).transpose().sum(axis=(0, 3)))


def test_feeding_rank_9_to_an_unknown_rank_placeholder_names_the_limit():
    x = tf.placeholder(tf.float32, None, name="anything")
    with tf.Session() as sess, pytest.raises(ValueError, match="rank 9 for Tensor 'anything:0'.*rank at most 8"):
        sess.run(x + 1, {x: np.ones([1] * 9, np.float32)})


def test_huge_slice_steps_take_one_element():
    x = tf.placeholder(tf.float32, [None, None])
    y = x[:: 2**31 - 1, 1 :: 2**31 - 1]
    value = np.arange(12, dtype=np.float32).reshape(3, 4)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: value}), value[:: 2**31 - 1, 1 :: 2**31 - 1])


def test_the_crash_reports_here_came_from_real_crashes():
    """The subprocess harness itself: a process that dies by a signal fails the check."""
    with pytest.raises(AssertionError, match="crashed with status -11"):
        isolated("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")


def test_empty_tensors_with_huge_dims_flow_through_every_op_family():
    """Zero-size tensors whose other dims are 2^40 (numpy allows them) give TF's empty results, and a
    result that would need terabytes is ResourceExhaustedError, not a crash."""
    out = isolated("""
        H = 2**40
        x = tf.placeholder(tf.float32, [None, None, None], name="x")
        value = np.empty((2, 0, H), np.float32)
        results = {}
        fetches = {
            "fill": tf.fill(tf.shape(x), 2.0), "random": tf.random_uniform(tf.shape(x)),
            "gather": tf.gather(x, tf.constant([1, 0, 1])), "unstack": tf.unstack(x, num=2)[1],
            "transpose": tf.transpose(x), "slice": x[::-1, :, ::2], "grad": tf.gradients(tf.reduce_sum(x * 2.0), x)[0],
            "sum_kept": tf.reduce_sum(x, axis=2), "concat": tf.concat([x, x], 1), "tile": tf.tile(x, [1, 5, 1]),
        }
        with tf.Session() as sess:
            for name, t in fetches.items():
                results[name] = list(sess.run(t, {x: value}).shape)
            try:
                sess.run(tf.reduce_sum(x, axis=1), {x: value})  # [2, 2^40] zeros: 8 TiB
            except tf.errors.ResourceExhaustedError as e:
                results["oom"] = str(e).splitlines()[0]
        print(json.dumps(results))
    """)
    H = 2**40
    assert out.pop("oom") == ("OOM when allocating tensor with shape[2,1099511627776] and type float32 "
                              "(8796093022208 bytes)")
    assert out == {"fill": [2, 0, H], "random": [2, 0, H], "gather": [3, 0, H], "unstack": [0, H],
                   "transpose": [H, 0, 2], "slice": [2, 0, H // 2], "grad": [2, 0, H], "sum_kept": [2, 0],
                   "concat": [2, 0, H], "tile": [2, 0, H]}
