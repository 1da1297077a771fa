"""tf.nn activations and the math ops added with them: forward against numpy (math.erf where numpy has
none), NaN/Inf behaviour, TF1 names, and gradients against finite differences."""

import math

import numpy as np
import pytest
from gradcheck import check_gradient

import pygraph as tf
from pygraph import errors

SCALE, ALPHA = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717
RNG = np.random.default_rng(7)
F32 = lambda v: float(np.float32(v))  # noqa: E731


def np_erf(a):
    return np.array([math.erf(v) for v in a.ravel()]).reshape(a.shape)


# name -> (builder over x (any float), u (in (-1, 1)), y (away from 0)), numpy oracle in float64
FLOAT_OPS = {
    "elu": (lambda x, u, y: tf.nn.elu(x), lambda x, u, y: np.where(x > 0, x, np.expm1(x))),
    "selu": (lambda x, u, y: tf.nn.selu(x), lambda x, u, y: SCALE * np.where(x > 0, x, ALPHA * np.expm1(x))),
    # alpha is a 32-bit float attr in TF: float64 inputs are scaled by float32(alpha) too
    "leaky_relu": (lambda x, u, y: tf.nn.leaky_relu(x), lambda x, u, y: np.where(x > 0, x, F32(0.2) * x)),
    "leaky_relu_alpha": (lambda x, u, y: tf.nn.leaky_relu(x, alpha=0.01),
                         lambda x, u, y: np.where(x > 0, x, F32(0.01) * x)),
    "softsign": (lambda x, u, y: tf.nn.softsign(x), lambda x, u, y: x / (1 + np.abs(x))),
    "relu6": (lambda x, u, y: tf.nn.relu6(x * 4), lambda x, u, y: np.clip(x * 4, 0, 6)),
    "softplus": (lambda x, u, y: tf.nn.softplus(x), lambda x, u, y: np.log1p(np.exp(x))),
    "sin": (lambda x, u, y: tf.sin(x), lambda x, u, y: np.sin(x)),
    "cos": (lambda x, u, y: tf.cos(x), lambda x, u, y: np.cos(x)),
    "tan": (lambda x, u, y: tf.tan(x), lambda x, u, y: np.tan(x)),
    "asin": (lambda x, u, y: tf.asin(u), lambda x, u, y: np.arcsin(u)),
    "acos": (lambda x, u, y: tf.acos(u), lambda x, u, y: np.arccos(u)),
    "atan": (lambda x, u, y: tf.atan(x), lambda x, u, y: np.arctan(x)),
    "atan2": (lambda x, u, y: tf.atan2(x, y), lambda x, u, y: np.arctan2(x, y)),
    "erf": (lambda x, u, y: tf.erf(x), lambda x, u, y: np_erf(x)),
    "log1p": (lambda x, u, y: tf.log1p(u), lambda x, u, y: np.log1p(u)),
    "expm1": (lambda x, u, y: tf.expm1(x), lambda x, u, y: np.expm1(x)),
    "floor": (lambda x, u, y: tf.floor(x), lambda x, u, y: np.floor(x)),
    "ceil": (lambda x, u, y: tf.ceil(x), lambda x, u, y: np.ceil(x)),
    "round": (lambda x, u, y: tf.round(x * 2), lambda x, u, y: np.round(x * 2)),  # halves to even
    "reciprocal": (lambda x, u, y: tf.reciprocal(y), lambda x, u, y: 1 / y),
    "squared_difference": (lambda x, u, y: tf.squared_difference(x, y), lambda x, u, y: (x - y) ** 2),
    "truncatemod": (lambda x, u, y: tf.truncatemod(x, y), lambda x, u, y: np.fmod(x, y)),
    "clip_by_value": (lambda x, u, y: tf.clip_by_value(x, -0.5, 0.7), lambda x, u, y: np.clip(x, -0.5, 0.7)),
    "bias_add": (lambda x, u, y: tf.nn.bias_add(x, [1.0, -2.0, 0.5, 3.0]),
                 lambda x, u, y: x + np.array([1.0, -2.0, 0.5, 3.0])),
}


@pytest.mark.parametrize("dtype,rtol", [(tf.float32, 2e-6), (tf.float64, 1e-13)])
def test_float_ops_match_numpy(dtype, rtol):
    x = np.concatenate([RNG.uniform(-4, 4, (5, 4)), [[-0.5, 0.5, 1.5, 2.5]]])  # halves for round
    u = RNG.uniform(-0.99, 0.99, (6, 4))
    y = RNG.choice([-1.0, 1.0], (6, 4)) * RNG.uniform(0.3, 3, (6, 4))
    with tf.Graph().as_default():
        ph = [tf.placeholder(dtype, (None, 4)) for _ in range(3)]
        outs = {k: build(*ph) for k, (build, _) in FLOAT_OPS.items()}
        with tf.Session() as sess:
            got = sess.run(outs, dict(zip(ph, [a.astype(dtype.as_numpy_dtype) for a in (x, u, y)])))
    for key, (_, oracle) in FLOAT_OPS.items():
        args = [a.astype(dtype.as_numpy_dtype).astype(np.float64) for a in (x, u, y)]
        assert got[key].dtype == dtype.as_numpy_dtype, key
        np.testing.assert_allclose(got[key], oracle(*args), rtol=rtol, atol=rtol, err_msg=key)


def test_nan_inf_and_predicates():
    v = np.array([np.nan, np.inf, -np.inf, -2.0, 0.0, 3.0], np.float32)
    x = tf.placeholder(tf.float32, (None,))
    outs = [tf.is_nan(x), tf.is_inf(x), tf.is_finite(x), tf.nn.elu(x), tf.nn.relu6(x), tf.nn.leaky_relu(x),
            tf.clip_by_value(x, -1.0, 1.0)]
    with tf.Session() as sess:
        isnan, isinf, finite, elu, relu6, leaky, clipped = sess.run(outs, {x: v})
    np.testing.assert_array_equal(isnan, np.isnan(v))
    np.testing.assert_array_equal(isinf, np.isinf(v))
    np.testing.assert_array_equal(finite, np.isfinite(v))
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(elu, np.where(v > 0, v, np.expm1(v)))
        np.testing.assert_array_equal(leaky, np.where(v > 0, v, np.float32(0.2) * v))
    np.testing.assert_array_equal(relu6, [np.nan, 6, 0, 0, 0, 3])
    np.testing.assert_array_equal(clipped, [np.nan, 1, -1, -1, 0, 1])


def test_truncating_integer_division_and_its_errors():
    a = np.array([-7, -7, 7, 7, 0, -2**31], np.int32)
    b = np.array([2, -2, 2, -2, 5, -1], np.int32)
    x, y = tf.placeholder(tf.int32, (None,)), tf.placeholder(tf.int32, (None,))
    with tf.Session() as sess:
        q, r = sess.run([tf.truncatediv(x, y), tf.truncatemod(x, y)], {x: a, y: b})
        np.testing.assert_array_equal(q, [-3, 3, 3, -3, 0, -2**31])  # C's division; INT_MIN / -1 wraps
        np.testing.assert_array_equal(r, [-1, -1, 1, 1, 0, 0])  # the remainder has x's sign
        with pytest.raises(errors.InvalidArgumentError, match="Integer division by zero"):
            sess.run(tf.truncatediv(x, y), {x: [1, 2], y: [1, 0]})
    with pytest.raises(TypeError, match="float32 not in list of allowed values: int32, int64"):
        tf.truncatediv(1.5, 2.0)


def test_tf1_names_and_attributes():
    x = tf.placeholder(tf.float32, (None, 3), name="x")
    assert tf.nn.elu(x).op.name == "Elu"
    assert tf.nn.relu6(x, name="r6").op.name == "r6"
    leaky = tf.nn.leaky_relu(x, alpha=0.1)
    assert leaky.op.type == "LeakyRelu" and leaky.op.get_attr("alpha") == pytest.approx(0.1)
    assert tf.nn.leaky_relu(tf.constant([1, -2])).dtype is tf.float32  # integers go to float, as TF
    clipped = tf.clip_by_value(x, 0.0, 1.0)
    assert clipped.op.name == "clip_by_value" and clipped.op.inputs[0].op.name == "clip_by_value/Minimum"
    assert tf.nn.bias_add(x, tf.zeros([3])).op.type == "BiasAdd"
    with pytest.raises(ValueError, match="at least rank 2"):
        tf.nn.bias_add(tf.zeros([3]), tf.zeros([3]))
    with pytest.raises(ValueError, match="must be equal, but are 3 and 4"):
        tf.nn.bias_add(x, tf.zeros([4]))
    with pytest.raises(ValueError, match="broadcast"):
        tf.clip_by_value(x, tf.zeros([2, 1, 3]), 1.0)
    nchw = tf.nn.bias_add(tf.ones([1, 2, 2, 2]), [1.0, 2.0], data_format="NCHW")
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(nchw)[0, :, 0, 0], [2.0, 3.0])


def _signed(shape, low=0.3, high=1.5):
    return RNG.choice([-1.0, 1.0], shape) * RNG.uniform(low, high, shape)


def test_gradients_match_finite_differences():
    unary = [tf.nn.elu, tf.nn.selu, tf.nn.leaky_relu, lambda x: tf.nn.leaky_relu(x, 0.05), tf.nn.softsign,
             lambda x: tf.nn.relu6(x * 5.0), tf.sin, tf.cos, tf.tan, tf.atan, tf.erf,
             lambda x: tf.asin(x * 0.5), lambda x: tf.acos(x * 0.5), lambda x: tf.clip_by_value(x, -0.9, 0.8)]

    def build(*xs):
        ys = [f(x) for f, x in zip(unary, xs)]
        a, b, c, d = xs[len(unary):]
        return ys + [tf.atan2(a, b), tf.truncatemod(a * 3.0, b), tf.nn.bias_add(c, d[0])]

    inputs = [_signed((2, 3)) for _ in unary] + [_signed((2, 3)), _signed((1, 3), 0.7), _signed((2, 3)),
                                                  _signed((1, 3))]
    inputs[len(unary) - 1] = np.array([[-1.2, -0.5, 0.4], [0.7, 1.1, -0.1]])  # both sides of the clip bounds
    check_gradient(build, inputs)


def test_no_gradient_for_step_and_integer_ops():
    x = tf.placeholder(tf.float64, (3,))
    assert tf.gradients(tf.reduce_sum(tf.cast(tf.is_finite(x), tf.float64)), x) == [None]
    k = tf.placeholder(tf.int32, (3,))
    assert tf.gradients(tf.truncatediv(k, 2), k) == [None]
