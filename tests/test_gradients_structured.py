"""Gradients of matmul, transpose, matrix_inverse, the reductions and the layout ops against central finite
differences (float64), and the lecture's manual-vs-autodiff check on a linear regression."""

import numpy as np
from gradcheck import check_gradient

import pygraph as tf

rng = np.random.default_rng(3)


def test_matmul_all_transpose_flags_and_a_batch_dimension():
    def build(a, b, at, bt, a2, b2, x, w):
        return [tf.matmul(a, b), tf.matmul(a, bt, transpose_b=True), tf.matmul(at, b, transpose_a=True),
                tf.matmul(a2, b2, transpose_a=True, transpose_b=True), tf.matmul(x, w)]

    a, b = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    inputs = [a, b, a.T.copy(), b.T.copy(), a.T.copy(), b.T.copy(), rng.normal(size=(5, 3)), rng.normal(size=(3, 1))]
    shapes = [s.shape for s in inputs[:-2]] + [(None, 3), (3, 1)]
    check_gradient(build, inputs, shapes)


def test_transpose_and_matrix_inverse():
    well_conditioned = np.eye(3) * 3 + rng.uniform(-0.5, 0.5, (3, 3))
    check_gradient(lambda x, y, z: [tf.transpose(x, [2, 0, 1]), tf.transpose(y) * 2.0, tf.matrix_inverse(z),
                                    tf.matrix_inverse(z, adjoint=True)],
                   [rng.normal(size=(2, 3, 2)), rng.normal(size=(2, 3)), well_conditioned])


REDUCE = [tf.reduce_sum, tf.reduce_mean, tf.reduce_max, tf.reduce_min, tf.reduce_prod]
# two (axis, keepdims) per reduction, so every way back to the input shape meets several reductions: all axes,
# a leading axis (plain broadcasting), inner axes (expand_dims first), keepdims
REDUCE_CASES = [
    (tf.reduce_sum, None, False), (tf.reduce_sum, [0, 2], False),
    (tf.reduce_mean, 0, False), (tf.reduce_mean, -1, True),
    (tf.reduce_max, [1, 2], False), (tf.reduce_max, None, False),
    (tf.reduce_min, 1, False), (tf.reduce_min, -1, True),
    (tf.reduce_prod, [0, 2], False), (tf.reduce_prod, 0, False),
]


def test_reductions_over_every_kind_of_axis_set():
    # distinct values (no ties for max/min), both signs; one exact zero exercises prod's zero handling
    inputs = [rng.permutation(np.linspace(0.5, 2.0, 24)).reshape(2, 3, 4) * rng.choice([-1, 1], (2, 3, 4))
              for _ in REDUCE_CASES]
    inputs[-1][0, 1, 2] = 0.0
    shapes = [x.shape for x in inputs]
    # and with an unknown batch dimension (the mean's count is then computed at run time)
    unknown = [(tf.reduce_mean, 0, False), (tf.reduce_sum, 1, False), (tf.reduce_max, None, False)]
    inputs += [rng.uniform(0.5, 2.0, (4, 3)) for _ in unknown]
    shapes += [(None, 3)] * len(unknown)

    def build(*xs):
        return [f(x, axis=axis, keepdims=keep) for (f, axis, keep), x in zip(REDUCE_CASES + unknown, xs)]

    check_gradient(build, inputs, shapes)


def test_max_gradient_is_split_between_ties_and_prod_handles_zeros():
    x = tf.placeholder(tf.float64, [2, 3])
    g_max, = tf.gradients(tf.reduce_max(x, axis=1), x)
    g_prod, = tf.gradients(tf.reduce_prod(x, axis=1), x)
    with tf.Session() as sess:
        gm = sess.run(g_max, {x: [[1.0, 3.0, 3.0], [0.0, 0.0, 2.0]]})
        gp = [sess.run(g_prod, {x: v}) for v in ([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0]], [[2.0, 4.0, 3.0], [1, 1, 1]])]
    np.testing.assert_array_equal(gm, [[0.0, 0.5, 0.5], [0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(gp[0], [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(gp[1], [[12.0, 6.0, 8.0], [1.0, 1.0, 1.0]])


def test_layout_ops():
    def build(a, b, c, d, e, f, g):
        return [tf.reshape(a, [3, 4]) * tf.reshape(b, [3, 4]), tf.expand_dims(c, 1) * 2.0,
                tf.squeeze(d, axis=[0, 2]), tf.concat([a, b, e], axis=1), tf.stack([c, f], axis=1),
                tf.tile(g, [2, 3])]

    inputs = [rng.normal(size=(2, 6)), rng.normal(size=(2, 6)), rng.normal(size=(5,)), rng.normal(size=(1, 4, 1)),
              rng.normal(size=(2, 1)), rng.normal(size=(5,)), rng.normal(size=(2, 3))]
    check_gradient(build, inputs)


def test_layout_ops_with_unknown_dimensions():
    def build(a, b, c):
        return [tf.reshape(a, [-1]), tf.concat([b, a, c], axis=0), tf.tile(c, [1, 2]) * 3.0,
                tf.unstack(tf.concat([a, a], axis=1), axis=1)[1]]

    check_gradient(build, [rng.normal(size=(3, 2)), rng.normal(size=(1, 2)), rng.normal(size=(2, 2))],
                   [(None, 2), (1, 2), (2, 2)])


def test_linear_regression_manual_gradient_equals_autodiff():
    """The lecture's check: 2/m X^T (X theta - y) is what tf.gradients gives for the MSE."""
    m, n = 50, 3
    data = rng.normal(size=(m, n))
    X = tf.constant(np.c_[np.ones((m, 1)), data], dtype=tf.float64, name="X")
    y = tf.constant(data @ [[1.0], [-2.0], [0.5]] + 0.3 + rng.normal(0, 0.1, (m, 1)), dtype=tf.float64, name="y")
    theta = tf.Variable(rng.uniform(-1, 1, (n + 1, 1)), name="theta")
    error = tf.matmul(X, theta) - y
    mse = tf.reduce_mean(tf.square(error), name="mse")
    manual = 2 / m * tf.matmul(tf.transpose(X), error)
    (auto,) = tf.gradients(mse, [theta])
    assert auto.op.name.startswith("gradients/MatMul_grad/")  # the gradient's name scopes follow TF's
    assert tf.get_default_graph().get_operation_by_name("gradients/mse_grad/truediv").type == "RealDiv"
    with tf.Session() as sess:
        sess.run(theta.initializer)
        mv, av = sess.run([manual, auto])
    np.testing.assert_allclose(av, mv, rtol=1e-12, atol=1e-14)


def test_slicing():
    def build(a, b, c, d):
        return [a[1:3], a[:, 0] * 2.0, a[::-1, 1:], b[::2], b[-1], b[1::3] * 3.0, c[..., None, 1:], c[0, -2:, 1],
                d[::-2], d[5:1]]

    check_gradient(build, [rng.normal(size=(4, 3)), rng.normal(size=(7,)), rng.normal(size=(2, 3, 4)),
                           rng.normal(size=(5,))])


def test_slicing_with_unknown_dimensions():
    def build(a, b):
        return [a[1:], a[:, 0], a[-1], a[:-1, ::2] * 2.0, a[-2:], b[1:3], b[:2] * 3.0]

    check_gradient(build, [rng.normal(size=(4, 3)), rng.normal(size=(5,))], [(None, 3), (None,)])
    check_gradient(lambda b: b[1:3], [rng.normal(size=(2,))], [(None,)])  # the selection is clamped at run time


def test_gather_gradient_adds_up_repeated_indices():
    def build(a, b):
        return [tf.gather(a, [2, 0, 2, 2]), tf.gather(b, [[1, 0], [1, 1]], axis=1) * 3.0, tf.gather(a, 1)]

    grads = check_gradient(build, [rng.normal(size=(3, 2)), rng.normal(size=(2, 3, 2))])
    np.testing.assert_array_equal(grads[0][:, 0] != 0, [True, True, True])


def test_every_registered_op_has_a_gradient_or_is_marked_not_differentiable():
    from pygraph.ops import registry

    missing = sorted(t for t, row in registry.REGISTRY.items() if row.gradient is None and not row.not_differentiable
                     and not t.startswith("Test") and not row.user_defined)
    assert missing == []
