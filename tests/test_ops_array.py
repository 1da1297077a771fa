"""Array ops against numpy: shape queries, the gradient helpers, layout ops and slicing."""

from __future__ import annotations

import numpy as np
import pytest
from pygraph.codegen import toolchain

import pygraph as tf
from pygraph.ops import array

rng = np.random.default_rng(0)


# -- the helpers tf.gradients uses
def test_sum_to_shape_and_broadcast_like_follow_run_time_shapes():
    x = tf.placeholder(tf.float32, [None, None], name="x")
    b = tf.placeholder(tf.float32, [None], name="b")
    g = x * 2.0 + b  # broadcast over rows (and possibly over b's length 1)
    sb = array.sum_to_shape_of(g, b)
    sx = array.sum_to_shape_of(g, x)
    bx = array.broadcast_to_shape_of(b, x)
    nx = array.size_as(x, tf.float32)
    assert sb.op.type == "SumToShape" and sb.shape.as_list() == [None]
    assert bx.op.type == "BroadcastLike" and bx.shape.as_list() == [None, None]
    with tf.Session() as sess:
        for rows, cols, blen in [(5, 3, 3), (1, 4, 4), (7, 3, 1), (1000, 2, 2)]:
            xv = rng.standard_normal((rows, cols)).astype(np.float32)
            bv = rng.standard_normal(blen).astype(np.float32)
            before = toolchain.stats["compiles"]
            got_b, got_x, got_bx, got_n = sess.run([sb, sx, bx, nx], {x: xv, b: bv})
            if rows != 5:  # one program serves every shape
                assert toolchain.stats["compiles"] == before
            full = xv.astype(np.float64) * 2 + bv
            want_b = full.sum(axis=0) if blen == cols else full.sum(keepdims=False).reshape(1)
            np.testing.assert_allclose(got_b, want_b, rtol=1e-5, atol=1e-4)
            np.testing.assert_allclose(got_x, full, rtol=1e-6)
            np.testing.assert_array_equal(got_bx, np.broadcast_to(bv, (rows, cols)))
            assert got_n == rows * cols and got_n.dtype == np.float32


def test_sum_to_shape_of_scalar_and_leading_axes():
    g = tf.placeholder(tf.float64, [None, 2, 3])
    s = array.sum_to_shape_of(g, tf.constant(1.0, tf.float64))
    t = array.sum_to_shape_of(g, tf.constant(np.zeros((2, 1))))
    gv = rng.standard_normal((4, 2, 3))
    with tf.Session() as sess:
        got_s, got_t = sess.run([s, t], {g: gv})
    np.testing.assert_allclose(got_s, gv.sum())
    np.testing.assert_allclose(got_t, gv.sum(axis=(0, 2)).reshape(2, 1))


def test_gradient_helpers_check_shapes():
    with pytest.raises(ValueError, match="SumToShape"):
        array.sum_to_shape_of(tf.constant(np.zeros((2, 3), np.float32)), tf.constant(np.zeros(4, np.float32)))
    with pytest.raises(ValueError, match="BroadcastLike"):
        array.broadcast_to_shape_of(tf.constant(np.zeros(2, np.float32)), tf.constant(np.zeros((2, 3), np.float32)))
    x = tf.placeholder(tf.float32, [None])
    b = tf.placeholder(tf.float32, [None])
    bx = array.broadcast_to_shape_of(b, x)
    with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError, match="Incompatible shapes"):
        sess.run(bx, {x: np.zeros(4, np.float32), b: np.zeros(3, np.float32)})


def test_size_as_is_constant_when_static():
    n = array.size_as(tf.constant(np.zeros((3, 4), np.float32)), tf.int64)
    assert n.op.type == "Const" and n.dtype == tf.int64
    with tf.Session() as sess:
        assert sess.run(n) == 12


def test_stop_gradient_is_identity_and_not_differentiable():
    from pygraph.ops import registry

    x = tf.placeholder(tf.float32, [None])
    y = array.stop_gradient(x * 3.0)
    assert y.op.type == "StopGradient" and y.op.name == "StopGradient"
    assert registry.lookup("StopGradient").not_differentiable
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {x: [1.0, 2.0]}), [3.0, 6.0])


# -- layout ops: one program over a symbolic batch, compared with numpy for batch sizes 1, 7 and 1000
def _layout_graph():
    x = tf.placeholder(tf.float32, [None, 3, 4], name="x")
    outs = {
        "reshape": tf.reshape(x, [-1, 4]), "reshape_flat": tf.reshape(x, [-1]) * 2.0,
        "reshape_like": tf.reshape(x * 1.0, tf.shape(x)), "expand": tf.expand_dims(x, 1),
        "squeeze": tf.squeeze(tf.expand_dims(x, -1), [3]), "concat": tf.concat([x, x * 2.0], 1),
        "concat0": tf.concat([x, x], axis=0), "stack": tf.stack([x, x + 1.0], axis=1),
        "tile": tf.tile(x, [2, 1, 3]), "unstack": tf.unstack(x, axis=1)[2], "zeros": tf.zeros(tf.shape(x)),
        "fill": tf.fill(tf.shape(x), 7.0), "transpose_reshape": tf.reshape(tf.transpose(x, [0, 2, 1]), [-1, 3]),
        "i": x[0], "col": x[:, 1], "step": x[1:, ::2, None], "last": x[..., -1], "rev": x[::-1, 1:3, 3],
        "neg_stop": x[:-1, -2:], "scalar": x[0, 1, 2],
    }

    def want(xv):
        return {
            "reshape": xv.reshape(-1, 4), "reshape_flat": xv.reshape(-1) * 2, "reshape_like": xv,
            "expand": xv[:, None], "squeeze": xv, "concat": np.concatenate([xv, xv * 2], 1),
            "concat0": np.concatenate([xv, xv], 0), "stack": np.stack([xv, xv + 1], 1), "tile": np.tile(xv, [2, 1, 3]),
            "unstack": xv[:, 2], "zeros": np.zeros_like(xv), "fill": np.full_like(xv, 7),
            "transpose_reshape": xv.transpose(0, 2, 1).reshape(-1, 3), "i": xv[0], "col": xv[:, 1],
            "step": xv[1:, ::2, None], "last": xv[..., -1], "rev": xv[::-1, 1:3, 3], "neg_stop": xv[:-1, -2:],
            "scalar": xv[0, 1, 2],
        }

    return x, outs, want


def test_layout_ops_match_numpy_for_every_batch_size():
    x, outs, want = _layout_graph()
    with tf.Session() as sess:
        compiles = None
        for batch in (1, 7, 1000):
            xv = rng.standard_normal((batch, 3, 4)).astype(np.float32)
            got = sess.run(outs, {x: xv})
            if compiles is None:
                compiles = toolchain.stats["compiles"]
            assert toolchain.stats["compiles"] == compiles
            for k, w in want(xv).items():
                assert outs[k].shape.is_compatible_with(np.shape(w)), k
                assert np.shape(got[k]) == np.shape(w), k
                np.testing.assert_array_equal(got[k], w, err_msg=k)


def test_static_shapes_and_names():
    x = tf.placeholder(tf.float32, [2, 3, 4])
    assert tf.reshape(x, [4, -1]).shape.as_list() == [4, 6]
    assert tf.reshape(x, [4, -1]).op.name == "Reshape_1"
    assert tf.concat([x, x], 2).shape.as_list() == [2, 3, 8]
    assert tf.concat([x, x], 2).op.type == "ConcatV2"
    assert tf.stack([x, x], axis=-1).shape.as_list() == [2, 3, 4, 2]
    assert tf.stack([1, 2, 3]).op.type == "Const"
    assert x[1:, None, ..., 0].shape.as_list() == [1, 1, 3]
    assert x[1:, None, ..., 0].op.type == "StridedSlice"
    assert tf.zeros([2, 3]).op.type == "Const" and tf.zeros([2, 3]).op.name == "zeros_1"
    assert tf.ones([100, 100], tf.int32).op.type == "Fill"
    r = tf.range(3, 10, 2)
    assert r.shape.as_list() == [4] and r.op.name == "range" and r.op.type == "Range"
    assert tf.range(1.0, 2.0, 0.25).dtype == tf.float32
    assert [t.shape.as_list() for t in tf.unstack(x)] == [[3, 4], [3, 4]]
    assert tf.shape(x).op.type == "Const" and tf.size(x).op.type == "Const" and tf.rank(x).op.type == "Const"
    with pytest.raises(ValueError, match="Cannot reshape a tensor with 24 elements to shape \\[5\\]"):
        tf.reshape(x, [5])
    with pytest.raises(ValueError, match="Can not squeeze dim\\[1\\], expected a dimension of 1, got 3"):
        tf.squeeze(x, [1])
    with pytest.raises(ValueError, match="slice index 2 of dimension 0 out of bounds"):
        x[2]
    with pytest.raises(TypeError, match="Python ints"):
        x[tf.placeholder(tf.int32, [])]
    with pytest.raises(ValueError, match="Dimension 1 in both shapes must be equal"):
        tf.concat([x, tf.placeholder(tf.float32, [2, 5, 4])], 0)


def test_run_time_shape_errors_name_the_node():
    x = tf.placeholder(tf.float32, [None])
    r = tf.reshape(x, [-1, 3], name="rows")
    r2 = tf.reshape(x, [2, 2])
    i = x[3]
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="Input to reshape is a tensor with 4 values, but "
                                                                 "the requested shape requires a multiple of 3") as e:
            sess.run(r, {x: np.zeros(4, np.float32)})
        assert "rows" in str(e.value)
        with pytest.raises(tf.errors.InvalidArgumentError, match="with 5 values, but the requested shape has 4"):
            sess.run(r2, {x: np.zeros(5, np.float32)})
        with pytest.raises(tf.errors.InvalidArgumentError, match="slice index 3 of dimension 0 out of bounds"):
            sess.run(i, {x: np.zeros(3, np.float32)})
        np.testing.assert_array_equal(sess.run(r2, {x: np.arange(4, dtype=np.float32)}), [[0, 1], [2, 3]])


def test_shape_size_at_run_time_and_where_with_row_condition():
    x = tf.placeholder(tf.float32, [None, 3])
    c = tf.placeholder(tf.bool, [None])
    s, n = tf.shape(x), tf.size(x, out_type=tf.int64)
    w = tf.where(c, x, -x)
    xv = rng.standard_normal((4, 3)).astype(np.float32)
    cv = np.array([True, False, True, False])
    with tf.Session() as sess:
        got_s, got_n, got_w = sess.run([s, n, w], {x: xv, c: cv})
    np.testing.assert_array_equal(got_s, [4, 3])
    assert got_s.dtype == np.int32 and got_n == 12 and got_n.dtype == np.int64
    np.testing.assert_array_equal(got_w, np.where(cv[:, None], xv, -xv))


def test_range_and_integer_ops():
    outs = [tf.range(5), tf.range(10, 2, -3), tf.range(0.0, 1.0, 0.1), tf.range(2, dtype=tf.int64),
            tf.tile(tf.constant([[1, 2]]), [2, 2]), tf.concat([tf.constant([1, 2]), tf.constant([3])], 0)]
    with tf.Session() as sess:
        got = sess.run(outs)
    np.testing.assert_array_equal(got[0], np.arange(5))
    np.testing.assert_array_equal(got[1], [10, 7, 4])
    np.testing.assert_allclose(got[2], np.arange(0, 1, 0.1), rtol=1e-6)
    assert got[2].dtype == np.float32 and got[3].dtype == np.int64
    np.testing.assert_array_equal(got[4], np.tile([[1, 2]], [2, 2]))
    np.testing.assert_array_equal(got[5], [1, 2, 3])


def test_gather_and_one_hot():
    p = tf.placeholder(tf.float32, [None, 4])
    i = tf.placeholder(tf.int32, [None])
    j = tf.placeholder(tf.int64, [None])
    outs = [tf.gather(p, i), tf.gather(p, [[0, 3], [1, 1]], axis=1), tf.one_hot(j, 7),
            tf.one_hot(j, 3, on_value=5, off_value=-1, axis=0)]
    assert outs[0].op.type == "GatherV2" and outs[1].shape.as_list() == [None, 2, 2]
    assert outs[2].dtype == tf.float32 and outs[3].dtype == tf.int32 and outs[3].shape.as_list() == [3, None]
    pv = rng.standard_normal((6, 4)).astype(np.float32)
    iv = np.array([5, 0, 2, 2], np.int32)
    jv = np.array([5, 0, 2, 9, -1], np.int64)  # out of range: an all-off row, as in TF
    with tf.Session() as sess:
        a, b, c, d = sess.run(outs, {p: pv, i: iv, j: jv})
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[1\] = 9 is not in \[0, 6\)"):
            sess.run(outs[0], {p: pv, i: np.array([1, 9], np.int32)})
    np.testing.assert_array_equal(a, pv[iv])
    np.testing.assert_array_equal(b, np.take(pv, [[0, 3], [1, 1]], axis=1))
    np.testing.assert_array_equal(c, (jv[:, None] == np.arange(7)).astype(np.float32))
    np.testing.assert_array_equal(d, np.where(np.arange(3)[:, None] == jv, 5, -1))


def test_registry_numpy_references_agree_with_the_kernels():
    from pygraph.ops import registry

    x = tf.placeholder(tf.float32, [None, 3], name="x")
    i = tf.placeholder(tf.int32, [None], name="i")
    tensors = [
        tf.reduce_sum(x, 0), tf.reduce_mean(x, keepdims=True), tf.reduce_max(x, 1), tf.reduce_min(x), tf.argmax(x, 1),
        tf.matmul(x, x, transpose_b=True), tf.transpose(x), tf.matrix_inverse(tf.matmul(x, x, transpose_a=True)),
        tf.reshape(x, [-1]), tf.expand_dims(x, 0), tf.squeeze(tf.expand_dims(x, 1), [1]), tf.concat([x, x], 1),
        tf.stack([x, x]), tf.tile(x, [1, 2]), x[1:, ::-1], x[:, 0], tf.gather(x, i), tf.one_hot(i, 4),
        tf.one_hot(i, 4, axis=0), tf.range(1, 9, 3), tf.shape(x), tf.size(x), array.sum_to_shape_of(x, x[0]),
        array.broadcast_to_shape_of(x[0], x), tf.fill(tf.shape(x), 2.0), array.stop_gradient(x),
    ]
    xv = rng.standard_normal((4, 3)).astype(np.float32)
    iv = np.array([3, 0, 1], np.int32)
    with tf.Session() as sess:
        feeds = {x: xv, i: iv}
        got = sess.run(tensors, feeds)
        inputs = sess.run([list(t.op.inputs) for t in tensors], feeds)  # one program for every input
        for t, g, ins in zip(tensors, got, inputs):
            ref = registry.lookup(t.op.type).numpy
            try:
                want = ref(*ins, op=t.op)
            except TypeError:
                want = ref(*ins)
            np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-5, err_msg=t.op.type)
        pieces = tf.unstack(x, num=4)
        parts = sess.run(pieces, feeds)
        want = registry.lookup("Unpack").numpy(xv, op=pieces[0].op)
        for g, w in zip(parts, want):
            np.testing.assert_array_equal(g, w)
