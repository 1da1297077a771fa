"""tf.gradients: every registered gradient against central finite differences (float64), broadcasting,
paths, ys, grad_ys, stop_gradients, unconnected xs, variables, names and errors."""

import numpy as np
import pytest
from gradcheck import check_gradient

import pygraph as tf
from pygraph.ops import registry
from pygraph.ops.core import make_op

rng = np.random.default_rng(1)


def positive(shape):
    return rng.uniform(0.5, 2.0, shape)


def signed(shape):
    """Values away from 0 (the kinks of abs, relu, sign)."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 1.5, shape)


UNARY = [
    (tf.exp, signed), (tf.log, positive), (tf.log1p, positive), (tf.expm1, signed), (tf.sqrt, positive),
    (tf.rsqrt, positive), (tf.reciprocal, positive), (tf.square, signed), (tf.negative, signed), (tf.abs, signed),
    (tf.nn.relu, signed), (tf.sigmoid, signed), (tf.tanh, signed), (tf.nn.softplus, signed), (tf.identity, signed),
]


def test_unary_gradients_match_finite_differences():
    inputs = [make((2, 3)) for _, make in UNARY]
    check_gradient(lambda *xs: [f(x) for (f, _), x in zip(UNARY, xs)], inputs)


def test_step_functions_have_no_gradient_and_sign_a_zero_one():
    x = tf.placeholder(tf.float64, [4])
    assert tf.gradients([tf.floor(x), tf.ceil(x), tf.round(x)], x) == [None]
    (g,) = tf.gradients(tf.sign(x) * 3.0, x)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(g, {x: [-2.0, 0.0, 0.5, 3.0]}), np.zeros(4))


BINARY = [tf.add, tf.subtract, tf.multiply, tf.truediv, tf.maximum, tf.minimum, tf.squared_difference, tf.pow,
          tf.floormod]


SOME = [tf.subtract, tf.multiply, tf.maximum]  # the reduction back to an input's shape is op-independent


@pytest.mark.parametrize("ops,shape_a,shape_b,static_a,static_b", [
    (BINARY, (2, 3), (2, 3), None, None),  # same static shapes: no reduction at all
    (BINARY, (3, 1), (1, 4), None, None),  # both inputs broadcast
    (SOME, (), (2, 3), None, None),  # scalar with matrix, both ways round
    (SOME, (2, 3), (), None, None),
    (SOME, (4, 3), (3,), (None, 3), None),  # None batch dimension
    (BINARY, (1, 3), (4, 3), (None, 3), (None, 3)),  # broadcast along a dimension only known at run time
], ids=["same", "col-row", "scalar-matrix", "matrix-scalar", "batch-vector", "runtime-broadcast"])
def test_binary_gradients_reduce_to_each_input_shape(ops, shape_a, shape_b, static_a, static_b):
    inputs, shapes = [], []
    for _ in ops:
        inputs += [positive(shape_a), positive(shape_b)]
        shapes += [static_a or shape_a, static_b or shape_b]
    grads = check_gradient(lambda *xs: [op(xs[2 * k], xs[2 * k + 1]) for k, op in enumerate(ops)], inputs, shapes)
    assert all(g is not None for g in grads)


def test_statically_equal_shapes_add_no_reduction_ops():
    a = tf.placeholder(tf.float64, [2, 3])
    b = tf.placeholder(tf.float64, [2, 3])
    c = tf.placeholder(tf.float64, [None, 3])
    ga, gb = tf.gradients(a * b + a, [a, b])
    (gc,) = tf.gradients(c * tf.constant(2.0, shape=[1, 3], dtype=tf.float64), c)
    assert ga.op.type == "AddN" and {t.op.type for t in ga.op.inputs} == {"Mul", "OnesLike"}
    assert gb.op.type == "Mul"
    assert gc.op.type == "Mul"  # c's None dim meets a 1: the product keeps c's size


def test_pow_gradient_at_zero_base_is_finite():
    x = tf.constant([0.0, 2.0], dtype=tf.float64)
    y = tf.constant([2.0, 3.0], dtype=tf.float64)
    gx, gy = tf.gradients(tf.pow(x, y), [x, y])
    with tf.Session() as sess:
        gxv, gyv = sess.run([gx, gy])
    np.testing.assert_allclose(gxv, [0.0, 12.0])
    np.testing.assert_allclose(gyv, [0.0, 8.0 * np.log(2.0)])


def test_select_addn_and_identity_like_ops():
    mask = np.array([[True, False, True], [False, False, True]])
    rows = np.array([True, False])

    def build(a, b, c, d):
        return [tf.where(tf.constant(mask), a * b, b / a),
                tf.where(tf.constant(rows), c, d),  # a rank-1 condition picks rows
                tf.add_n([a, a * b, b]),
                tf.placeholder_with_default(c, [2, 3]) * d]

    check_gradient(build, [positive((2, 3)) for _ in range(4)])


def test_cast_passes_float_gradients_and_stops_at_integers():
    x = tf.placeholder(tf.float64, [3])
    y32 = tf.cast(x, tf.float32) * 2.0
    (g,) = tf.gradients(y32, x)
    assert g.dtype is tf.float64
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(g, {x: [1.0, 2.0, 3.0]}), [2.0, 2.0, 2.0])
    assert tf.gradients(tf.cast(x, tf.int32), x) == [None]


def test_multiple_paths_are_summed_with_addn():
    def build(a, b):
        return a * b + tf.exp(a) * a + tf.square(b)

    check_gradient(build, [signed((2, 2)), signed((2, 2))])
    a = tf.placeholder(tf.float64, [2])
    (g,) = tf.gradients(a * a, a)
    assert g.op.type == "AddN" and g.op.name == "gradients/AddN"


def test_multiple_ys_sum_their_gradients():
    check_gradient(lambda a, b: [a * b, tf.tanh(a), tf.square(b) - a], [signed((3,)), signed((3,))])
    x = tf.constant(3.0, dtype=tf.float64)
    (g,) = tf.gradients([x * x, 2.0 * x], x)
    with tf.Session() as sess:
        assert sess.run(g) == 8.0


def test_unconnected_x_is_none_or_zero_when_asked():
    a = tf.placeholder(tf.float64, [2])
    b = tf.placeholder(tf.float64, [2])
    y = a * 2.0
    assert tf.gradients(y, [a, b])[1] is None
    ga, gb = tf.gradients(y, [a, b], unconnected_gradients="zero")
    with tf.Session() as sess:
        va, vb = sess.run([ga, gb], {a: [1.0, 2.0], b: [3.0, 4.0]})
    np.testing.assert_array_equal(va, [2.0, 2.0])
    np.testing.assert_array_equal(vb, [0.0, 0.0])
    with pytest.raises(ValueError, match="Unknown value for unconnected_gradients"):
        tf.gradients(y, a, unconnected_gradients="sometimes")


def test_grad_ys_default_ones_and_given_values():
    x = tf.placeholder(tf.float64, [3])
    y = x * x
    (g_default,) = tf.gradients(y, x)
    (g_given,) = tf.gradients(y, x, grad_ys=[[1.0, 10.0, 100.0]])
    with tf.Session() as sess:
        d, gv = sess.run([g_default, g_given], {x: [1.0, 2.0, 3.0]})
    np.testing.assert_array_equal(d, [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(gv, [2.0, 40.0, 600.0])
    assert tf.get_default_graph().get_operation_by_name("gradients_1/grad_ys_0").type == "Identity"


def test_grad_ys_errors():
    x = tf.placeholder(tf.float64, [3])
    with pytest.raises(ValueError, match="Passed 2 grad_ys for 1 ys"):
        tf.gradients(x * 2.0, x, grad_ys=[1.0, 2.0])
    with pytest.raises(TypeError, match="float32"):
        tf.gradients(x * 2.0, x, grad_ys=tf.constant([1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"\[2\].*\[3\]"):
        tf.gradients(x * 2.0, x, grad_ys=tf.constant([1.0, 1.0], dtype=tf.float64))


def test_stop_gradients_as_in_tf_docs():
    a = tf.constant(0.0)
    b = 2 * a
    total = tf.gradients(a + b, [a, b])
    partial = tf.gradients(a + b, [a, b], stop_gradients=[a, b])
    with tf.Session() as sess:
        assert sess.run(total) == [3.0, 1.0]
        assert sess.run(partial) == [1.0, 1.0]


def test_stop_gradient_op_blocks_its_path():
    x = tf.placeholder(tf.float64, [3])
    (g,) = tf.gradients(x * tf.stop_gradient(x) + tf.stop_gradient(tf.exp(x)), x)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(g, {x: [1.0, -2.0, 0.5]}), [1.0, -2.0, 0.5])  # not 2x + exp(x)
    assert tf.gradients(tf.stop_gradient(x) * 2.0, x) == [None]


def test_gradient_with_respect_to_variables_flows_through_read():
    w = tf.Variable(np.array([1.0, -2.0, 3.0]), name="w")
    x = tf.placeholder(tf.float64, [3])
    y = w * x + w.read_value() * 3.0
    (g_var,) = tf.gradients(y, w)
    (g_read,) = tf.gradients(y, w.value())  # only the path through w/read
    with tf.Session() as sess:
        sess.run(w.initializer)
        gv, gr = sess.run([g_var, g_read], {x: [1.0, 2.0, 4.0]})
    np.testing.assert_array_equal(gv, [4.0, 5.0, 7.0])
    np.testing.assert_array_equal(gr, [1.0, 2.0, 4.0])


def test_gradient_ops_are_named_like_tf():
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    mse = tf.square(x * 3.0, name="mse")
    tf.gradients(mse, x, gate_gradients=True)
    names = [op.name for op in tf.get_default_graph().get_operations()]
    assert "gradients/mse_grad/Mul" in names
    assert "gradients/mul_grad/Mul" in names
    tf.gradients(mse, x)
    assert any(n.startswith("gradients_1/mse_grad/") for n in tf.get_default_graph()._ops_by_name)


def test_gate_gradients_wraps_multi_input_gradients_in_a_tuple():
    a = tf.placeholder(tf.float64, [2], name="a")
    b = tf.placeholder(tf.float64, [2], name="b")
    ga, gb = tf.gradients(a * b, [a, b], gate_gradients=True)
    assert ga.op.name == "gradients/mul_grad/tuple/control_dependency"
    assert gb.op.name == "gradients/mul_grad/tuple/control_dependency_1"
    assert [op.name for op in ga.op.control_inputs] == ["gradients/mul_grad/tuple/group_deps"]
    with tf.Session() as sess:
        va, vb = sess.run([ga, gb], {a: [1.0, 2.0], b: [3.0, 4.0]})
    np.testing.assert_array_equal(va, [3.0, 4.0])
    np.testing.assert_array_equal(vb, [1.0, 2.0])


def test_missing_gradient_raises_lookup_error():
    if "TestOpWithoutGradient" not in registry.REGISTRY:
        registry.register("TestOpWithoutGradient", registry.ELEMENTWISE, attrs={})
    x = tf.placeholder(tf.float32, [2])
    y = make_op("TestOpWithoutGradient", [x], [(x.dtype, x.shape)], "nograd").outputs[0]
    with pytest.raises(LookupError, match=r"No gradient defined for operation 'nograd' \(op type: "
                                          r"TestOpWithoutGradient\)"):
        tf.gradients(y * 2.0, x)


def test_custom_gradient_and_shape_check():
    if "TestDoubler" not in registry.REGISTRY:
        registry.register("TestDoubler", registry.ELEMENTWISE, attrs={})

        @tf.RegisterGradient("TestDoubler")
        def _doubler_grad(op, grad):
            return [grad * 2.0]

        registry.register("TestBadGrad", registry.ELEMENTWISE, attrs={})

        @tf.RegisterGradient("TestBadGrad")
        def _bad_grad(op, grad):
            return [tf.constant([1.0, 2.0, 3.0])]

    x = tf.placeholder(tf.float32, [2])
    y = make_op("TestDoubler", [x], [(x.dtype, x.shape)], "doubler").outputs[0]
    (g,) = tf.gradients(y, x)
    assert g.op.name == "gradients/doubler_grad/mul"
    z = make_op("TestBadGrad", [x], [(x.dtype, x.shape)], "bad").outputs[0]
    with pytest.raises(ValueError, match="Incompatible shapes between op input and calculated input gradient"):
        tf.gradients(z, x)
