"""Errors: TF1's classes and messages, naming the node and the line that created it; the session
stays usable afterwards."""

import inspect

import numpy as np
import pytest

import pygraph as tf
from pygraph import errors


def here():
    """'tests/test_errors.py:<line>' of the caller: where an op in the test was created."""
    frame = inspect.currentframe().f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def test_error_classes_are_tf1s():
    assert tf.errors is errors
    for cls, code in ((errors.InvalidArgumentError, 3), (errors.NotFoundError, 5),
                      (errors.FailedPreconditionError, 9), (errors.OutOfRangeError, 11),
                      (errors.DataLossError, 15)):
        assert issubclass(cls, errors.OpError) and cls.error_code == code
        assert errors.exception_type_from_error_code(code) is cls
    assert issubclass(errors.CompileError, RuntimeError)


def test_uninitialized_variable_names_it():
    x = tf.Variable(3, name="x"); site = here()  # noqa: E702
    y = x * 2
    with tf.Session() as sess:
        for fetch, node in ((x, "x"), (y, "x/read")):
            with pytest.raises(errors.FailedPreconditionError) as info:
                sess.run(fetch)
            e = info.value
            assert str(e).startswith("Attempting to use uninitialized value x\n")
            assert f"[[node {node} (defined at {site}) ]]" in str(e)
            assert e.error_code == errors.FAILED_PRECONDITION and e.op.name == node
        sess.run(x.initializer)  # nothing was lost: initializing now works
        assert sess.run(y) == 6


def test_unfed_placeholder_names_it():
    A = tf.placeholder(tf.float32, (None, 3), name="A"); site = here()  # noqa: E702
    B = A + 5
    with tf.Session() as sess:
        with pytest.raises(errors.InvalidArgumentError) as info:
            sess.run(B)
        np.testing.assert_array_equal(sess.run(B, {A: [[0, 0, 0]]}), [[5, 5, 5]])
    msg = str(info.value)
    assert "You must feed a value for placeholder tensor 'A' with dtype float and shape [?,3]" in msg
    assert f"[[node A (defined at {site}) ]]" in msg
    assert info.value.op is A.op


@pytest.mark.parametrize("value, shape", [
    ([1, 2, 3], "(3,)"), ([[1, 2]], "(1, 2)"), (np.zeros((2, 3, 1)), "(2, 3, 1)")])
def test_wrong_feed_shape_names_expected_and_given(value, shape):
    A = tf.placeholder(tf.float32, (None, 3), name="A")
    with tf.Session() as sess:
        with pytest.raises(ValueError) as info:
            sess.run(A + 1, {A: value})
    assert str(info.value) == f"Cannot feed value of shape {shape} for Tensor 'A:0', which has shape '(?, 3)'"


def test_unsafe_feed_dtype_is_refused():
    i = tf.placeholder(tf.int32, (None,), name="i")
    with tf.Session() as sess:
        for bad in ([1.5, 2.0], np.array([1.5], np.float32)):
            with pytest.raises((TypeError, ValueError), match="'i:0'"):
                sess.run(i + 1, {i: bad})
        with pytest.raises((TypeError, ValueError), match="out of range|larger type"):
            sess.run(i + 1, {i: np.array([2**40], np.int64)})
        with pytest.raises(TypeError, match="cannot be a tf.Tensor"):
            sess.run(i + 1, {i: tf.constant([1])})
        # safe casts are fine: int64 values that fit, Python ints, bools into int
        np.testing.assert_array_equal(sess.run(i + 1, {i: np.array([1, 2], np.int64)}), [2, 3])


@pytest.mark.parametrize("dtype", [tf.int32, tf.int64])
def test_integer_division_by_zero(dtype):
    a = tf.placeholder(dtype, (None,), name="a")
    b = tf.placeholder(dtype, (None,), name="b")
    q = tf.floordiv(a, b, name="q"); site = here()  # noqa: E702
    r = tf.mod(a, b, name="r")
    with tf.Session() as sess:
        for t, name in ((q, "q"), (r, "r")):
            with pytest.raises(errors.InvalidArgumentError) as info:
                sess.run(t, {a: [1, 2, 3], b: [1, 0, 1]})
            assert str(info.value).startswith("Integer division by zero")
            assert f"[[node {name} " in str(info.value)
        assert site in str(pytest.raises(errors.InvalidArgumentError, sess.run, q, {a: [1], b: [0]}).value)
        np.testing.assert_array_equal(sess.run(q, {a: [7, -7], b: [2, 2]}), [3, -4])  # still runs


def test_negative_integer_power():
    a = tf.placeholder(tf.int32, (None,), name="a")
    p = tf.pow(a, tf.constant([2, -1]), name="p")
    with tf.Session() as sess:
        with pytest.raises(errors.InvalidArgumentError, match="Integers to negative integer powers are not allowed"):
            sess.run(p, {a: [3, 2]})
    with tf.Session() as sess:
        with pytest.raises(errors.InvalidArgumentError, match="negative integer powers"):
            sess.run(tf.constant(2) ** -1)


def test_run_time_incompatible_shapes_name_the_node():
    p = tf.placeholder(tf.float32, (None, 3), name="p")
    q = tf.placeholder(tf.float32, (None, 3), name="q")
    s = tf.add(p, q, name="sum_pq"); site = here()  # noqa: E702
    with tf.Session() as sess:
        with pytest.raises(errors.InvalidArgumentError) as info:
            sess.run(s, {p: np.ones((2, 3)), q: np.ones((4, 3))})
        msg = str(info.value)
        assert msg.startswith("Incompatible shapes: [2,3] vs. [4,3]")
        assert f"[[node sum_pq (defined at {site}) ]]" in msg
        assert info.value.op is s.op
        assert sess.run(s, {p: np.ones((1, 3)), q: np.ones((5, 3))}).shape == (5, 3)


def test_static_incompatible_shapes_fail_at_construction():
    a = tf.constant(np.ones((2, 3), np.float32))
    b = tf.constant(np.ones((4, 3), np.float32))
    n = len(tf.get_default_graph().get_operations())
    with pytest.raises(ValueError) as info:
        tf.add(a, b, name="bad")
    assert str(info.value) == ("Dimensions must be equal, but are 2 and 4 for 'bad' (op: 'Add') with input shapes: "
                               "[2,3], [4,3].")
    with pytest.raises(ValueError, match=r"for 'mul' \(op: 'Mul'\) with input shapes: \[2,3\], \[4,3\]"):
        a * b
    assert len(tf.get_default_graph().get_operations()) == n  # no half-built op left behind
    p = tf.placeholder(tf.float32, (None, 3))
    with pytest.raises(ValueError, match=r"Dimensions must be equal, but are 3 and 2 .* \[\?,3\], \[2\]"):
        p + tf.constant([1.0, 2.0])


def test_variable_values_survive_a_failed_run():
    v = tf.Variable(5, name="v")
    a = tf.placeholder(tf.int32, (), name="a")
    with tf.Session() as sess:
        sess.run(v.initializer)
        with pytest.raises(errors.InvalidArgumentError):
            sess.run(a // 0, {a: 1})
        assert sess.run(v) == 5
        assert sess.run(v + a, {a: 1}) == 6
