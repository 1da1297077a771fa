"""tf.nn.conv2d, max_pool, avg_pool (NHWC, SAME/VALID, strides) against naive numpy loops written from TF's
documented padding rule, and their gradients (Conv2DBackpropInput/Filter, MaxPoolGrad, AvgPoolGrad) against
finite differences."""

import numpy as np
import pytest
from gradcheck import check_gradient

import pygraph as tf

RNG = np.random.default_rng(5)


def _geometry(size, k, s, padding):
    """TF's documented rule: out = ceil(size / s) (SAME) or ceil((size - k + 1) / s) (VALID); SAME pads
    max((out - 1) * s + k - size, 0), the smaller half first."""
    if padding == "SAME":
        out = -(-size // s)
        return out, max((out - 1) * s + k - size, 0) // 2
    return -(-(size - k + 1) // s), 0


def naive(kind, x, f_or_k, strides, padding):
    n, h, w, c = x.shape
    kh, kw = f_or_k.shape[:2] if kind == "conv" else f_or_k
    oh, pt = _geometry(h, kh, strides[0], padding)
    ow, pl = _geometry(w, kw, strides[1], padding)
    depth = f_or_k.shape[3] if kind == "conv" else c
    out = np.zeros((n, oh, ow, depth), x.dtype)
    for b in range(n):
        for y in range(oh):
            for z in range(ow):
                cells = [(i, j) for i in range(kh) for j in range(kw)
                         if 0 <= y * strides[0] - pt + i < h and 0 <= z * strides[1] - pl + j < w]
                vals = np.array([x[b, y * strides[0] - pt + i, z * strides[1] - pl + j] for i, j in cells])
                if kind == "conv":
                    out[b, y, z] = sum(vals[q] @ f_or_k[i, j] for q, (i, j) in enumerate(cells))
                elif kind == "max":
                    out[b, y, z] = vals.max(axis=0)
                else:
                    out[b, y, z] = vals.mean(axis=0)
    return out


CASES = [("SAME", (1, 1)), ("SAME", (2, 2)), ("VALID", (1, 1)), ("VALID", (2, 1)), ("SAME", (3, 2))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_matches_naive_loops(dtype):
    x = RNG.standard_normal((2, 7, 6, 3)).astype(dtype)
    f = RNG.standard_normal((3, 2, 3, 4)).astype(dtype)
    f1 = RNG.standard_normal((1, 1, 3, 5)).astype(dtype)  # pointwise: the input is the column matrix
    px = tf.placeholder(dtype, (None, 7, 6, 3))
    outs, want = [], []
    for padding, (sh, sw) in CASES:
        st = [1, sh, sw, 1]
        outs += [tf.nn.conv2d(px, f, st, padding), tf.nn.max_pool(px, [1, 3, 2, 1], st, padding),
                 tf.nn.avg_pool(px, [1, 2, 3, 1], st, padding)]
        want += [naive("conv", x, f, (sh, sw), padding), naive("max", x, (3, 2), (sh, sw), padding),
                 naive("avg", x, (2, 3), (sh, sw), padding)]
    outs.append(tf.nn.conv2d(px, f1, [1, 1, 1, 1], "SAME"))
    want.append(naive("conv", x, f1, (1, 1), "SAME"))
    with tf.Session() as sess:
        got = sess.run(outs, {px: x})
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for o, g, w in zip(outs, got, want):
        assert g.dtype == dtype and g.shape == w.shape, (o.name, g.shape, w.shape)
        assert o.shape.as_list()[1:] == list(w.shape[1:])  # static shape inference agrees
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol, err_msg=o.name)


@pytest.mark.parametrize("padding,strides", [("SAME", (2, 2)), ("VALID", (1, 2))])
def test_conv2d_gradients(padding, strides):
    x = RNG.standard_normal((2, 5, 4, 2))
    f = RNG.standard_normal((3, 2, 2, 3))
    st = [1, *strides, 1]
    grads = check_gradient(lambda a, b: tf.nn.conv2d(a, b, st, padding), [x, f],
                           shapes=[(None, 5, 4, 2), (3, 2, 2, 3)], rtol=1e-6, atol=1e-8)
    assert all(g is not None for g in grads)


@pytest.mark.parametrize("padding,strides", [("SAME", (2, 2)), ("VALID", (1, 1))])
def test_pool_gradients(padding, strides):
    x = RNG.permutation(2 * 5 * 4 * 2).reshape(2, 5, 4, 2) / 7.0  # distinct values: max is differentiable
    st = [1, *strides, 1]
    check_gradient(lambda a: [tf.nn.max_pool(a, [1, 3, 2, 1], st, padding),
                              tf.nn.avg_pool(a, [1, 2, 3, 1], st, padding)], [x], rtol=1e-6, atol=1e-8)


def test_max_pool_gradient_goes_to_the_first_maximum_of_each_window():
    x = tf.constant(np.ones((1, 2, 4, 1)))
    y = tf.nn.max_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    (dx,) = tf.gradients(y, [x])
    assert dx.op.type == "MaxPoolGrad"
    with tf.Session() as sess:
        got = sess.run(dx)[0, :, :, 0]
    np.testing.assert_array_equal(got, [[1, 0, 1, 0], [0, 0, 0, 0]])


def test_gradient_op_names_are_tfs():
    x = tf.placeholder(tf.float32, (None, 8, 8, 1))
    w = tf.Variable(tf.zeros((3, 3, 1, 2)), name="w")
    y = tf.nn.avg_pool(tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME"), [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    assert y.shape.as_list() == [None, 4, 4, 2]
    types = {op.type for op in tf.get_default_graph().get_operations()}
    tf.gradients(tf.reduce_sum(y), [x, w])
    new = {op.type for op in tf.get_default_graph().get_operations()} - types
    assert {"Conv2DBackpropInput", "Conv2DBackpropFilter", "AvgPoolGrad"} <= new


def test_bad_arguments_raise_tf_errors():
    x = tf.placeholder(tf.float32, (1, 5, 5, 3))
    with pytest.raises(ValueError, match="same depth: 3 vs 2"):
        tf.nn.conv2d(x, tf.zeros((3, 3, 2, 4)), [1, 1, 1, 1], "SAME")
    with pytest.raises(ValueError, match="padding"):
        tf.nn.conv2d(x, tf.zeros((3, 3, 3, 4)), [1, 1, 1, 1], "FULL")
    with pytest.raises(ValueError, match="batch and depth"):
        tf.nn.conv2d(x, tf.zeros((3, 3, 3, 4)), [2, 1, 1, 1], "SAME")
    with pytest.raises(ValueError, match="negative"):
        tf.nn.max_pool(x, [1, 6, 6, 1], [1, 1, 1, 1], "VALID")
    with pytest.raises(ValueError, match="rank 4"):
        tf.nn.avg_pool(tf.zeros((5, 5)), [1, 2, 2, 1], [1, 1, 1, 1], "VALID")
    with pytest.raises(NotImplementedError, match="dilations"):
        tf.nn.conv2d(x, tf.zeros((3, 3, 3, 4)), [1, 1, 1, 1], "SAME", dilations=[1, 2, 2, 1])
    with pytest.raises(TypeError, match="int32"):
        tf.nn.conv2d(tf.zeros((1, 5, 5, 3), tf.int32), tf.zeros((3, 3, 3, 4), tf.int32), [1, 1, 1, 1], "SAME")


def test_run_time_shape_mismatch_is_an_invalid_argument_error():
    x = tf.placeholder(tf.float32, (None, None, None, None))
    y = tf.nn.conv2d(x, tf.zeros((3, 3, 2, 4)), [1, 1, 1, 1], "VALID")
    with tf.Session() as sess:
        assert sess.run(y, {x: np.ones((1, 4, 4, 2), np.float32)}).shape == (1, 2, 2, 4)
        with pytest.raises(tf.errors.InvalidArgumentError, match="same depth"):
            sess.run(y, {x: np.ones((1, 4, 4, 3), np.float32)})
        with pytest.raises(tf.errors.InvalidArgumentError, match="negative"):
            sess.run(y, {x: np.ones((1, 2, 4, 2), np.float32)})


def test_second_derivatives_of_conv_and_avg_pool():
    x = RNG.standard_normal((1, 4, 4, 2))
    f = RNG.standard_normal((2, 2, 2, 2))

    def build(a, b):
        y = tf.nn.conv2d(a, b, [1, 2, 1, 1], "SAME")
        dx, df = tf.gradients(tf.reduce_sum(y * y), [a, b])
        return [dx, df, tf.gradients(tf.reduce_sum(tf.nn.avg_pool(a * a, [1, 2, 2, 1], [1, 1, 1, 1], "SAME")), a)[0]]

    check_gradient(build, [x, f], rtol=1e-6, atol=1e-8)
    with pytest.raises(NotImplementedError, match="MaxPoolGradGrad"):
        p = tf.placeholder(tf.float64, (1, 4, 4, 1))
        tf.gradients(tf.gradients(tf.reduce_sum(tf.nn.max_pool(p, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")), p), p)


def test_max_pool_gradient_with_more_than_64_channels():
    x = RNG.standard_normal((1, 3, 3, 70))
    px = tf.placeholder(tf.float64, x.shape)
    dx = tf.gradients(tf.reduce_sum(tf.nn.max_pool(px, [1, 2, 2, 1], [1, 1, 1, 1], "VALID")), px)[0]
    with tf.Session() as sess:
        got = sess.run(dx, {px: x})
    want = np.zeros_like(x)  # each window's maximum gets one count per window it wins
    for y in range(2):
        for z in range(2):
            win = x[0, y:y + 2, z:z + 2]
            for c in range(70):
                i, j = np.unravel_index(np.argmax(win[:, :, c]), (2, 2))
                want[0, y + i, z + j, c] += 1
    np.testing.assert_array_equal(got, want)
