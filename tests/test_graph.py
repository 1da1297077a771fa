"""Graph, Operation and Tensor API: TF1's naming rules, lookups, finalize, operators and dtype inference.
Names and messages are TF1's (tensorflow/python/framework/ops.py, checked on tf.compat.v1)."""

import re

import numpy as np
import pytest

import pygraph as tf


# -- unique names
def test_unique_names_get_numbered_suffixes():
    names = [tf.constant(1, name="x").op.name for _ in range(3)]
    assert names == ["x", "x_1", "x_2"]


def test_unnamed_ops_are_named_by_type():
    assert [tf.constant(1).op.name for _ in range(3)] == ["Const", "Const_1", "Const_2"]
    assert tf.placeholder(tf.float32).op.name == "Placeholder"


def test_names_are_unique_case_insensitively():
    names = [tf.constant(1, name=n).op.name for n in ("foo", "Foo", "FOO")]
    assert names == ["foo", "Foo_1", "FOO_2"]


def test_a_generated_name_counts_as_used():
    a = tf.constant(1, name="x")
    b = tf.constant(1, name="x")  # x_1
    c = tf.constant(1, name="x_1")  # taken by the generated name
    assert (a.op.name, b.op.name, c.op.name) == ("x", "x_1", "x_1_1")


def test_graph_unique_name_without_marking():
    g = tf.get_default_graph()
    assert g.unique_name("w", mark_as_used=False) == "w"
    assert g.unique_name("w") == "w"
    assert g.unique_name("w") == "w_1"


# -- name scopes
def test_name_scope_uniquifies_and_prefixes():
    with tf.name_scope("relu") as s1:
        a = tf.constant(1, name="c")
    with tf.name_scope("relu") as s2:
        b = tf.constant(1, name="c")
    assert (s1, s2) == ("relu/", "relu_1/")
    assert (a.name, b.name) == ("relu/c:0", "relu_1/c:0")


def test_scope_ending_in_slash_reenters_it():
    with tf.name_scope("relu"):
        a = tf.add(1, 2)
    with tf.name_scope("relu/") as scope:
        b = tf.add(1, 2)
    assert scope == "relu/"
    assert (a.op.name, b.op.name) == ("relu/Add", "relu/Add_1")


def test_nested_scopes_and_reset_to_root():
    with tf.name_scope("outer"):
        with tf.name_scope("inner"):
            a = tf.constant(1, name="k")
        with tf.name_scope("_ok"):  # nested scopes may start with '_'
            b = tf.constant(1, name="k")
        assert tf.get_default_graph().get_name_scope() == "outer"
        with tf.name_scope(None):
            c = tf.constant(1, name="root")
        with tf.name_scope(""):
            d = tf.constant(1, name="root")
    assert (a.name, b.name, c.name, d.name) == ("outer/inner/k:0", "outer/_ok/k:0", "root:0", "root_1:0")
    assert tf.get_default_graph().get_name_scope() == ""


@pytest.mark.parametrize("bad", ["_bad", "-x", "a b", "x*"])
def test_invalid_root_scope_names_raise(bad):
    with pytest.raises(ValueError, match=re.escape(f"'{bad}' is not a valid root scope name")):
        with tf.name_scope(bad):
            pass


def test_invalid_nested_scope_name_raises():
    with tf.name_scope("ok"):
        with pytest.raises(ValueError, match="'a b' is not a valid scope name"):
            with tf.name_scope("a b"):
                pass


@pytest.mark.parametrize("bad", ["a b", "_x", "a:b", "x*"])
def test_invalid_op_names_raise(bad):
    with pytest.raises(ValueError, match=re.escape(f"'{bad}' is not a valid node name")):
        tf.constant(1, name=bad)


def test_valid_op_names():
    with tf.name_scope("outer"):
        inner = tf.constant(1, name="_ok")  # inside a scope a name may start with '_'
    names = [tf.constant(1, name=n).op.name for n in ("ok.name", "x-y", "a/b", "A1>")]
    assert inner.op.name == "outer/_ok" and names == ["ok.name", "x-y", "a/b", "A1>"]


def test_exact_scope_name_taken_by_an_op_raises():
    tf.add(1, 2, name="s")
    with pytest.raises(ValueError, match="cannot add op with name s as that name is already used"):
        tf.add(1, 2, name="s/")


def test_op_named_by_its_scope_takes_it_exactly():
    with tf.name_scope("s") as scope:
        t = tf.add(1, 2, name=scope)
    assert t.name == "s:0"
    assert [i.name for i in t.op.inputs] == ["s/x:0", "s/y:0"]


def test_operator_op_names_follow_tf1():
    p = tf.placeholder(tf.float32, (None, 3), name="p")
    built = {"+": p + 1, "-": p - 1, "*": p * 2, "/": p / 2, "//": p // 2, "%": p % 2, "**": p ** 2,
             "neg": -p, "abs": abs(p), "<": p < 1, "<=": p <= 1, ">": p > 1, ">=": p >= 1}
    got = {k: (t.op.name, t.op.type) for k, t in built.items()}
    assert got == {"+": ("add", "Add"), "-": ("sub", "Sub"), "*": ("mul", "Mul"), "/": ("truediv", "RealDiv"),
                   "//": ("floordiv", "FloorDiv"), "%": ("mod", "FloorMod"), "**": ("pow", "Pow"),
                   "neg": ("Neg", "Neg"), "abs": ("Abs", "Abs"), "<": ("Less", "Less"),
                   "<=": ("LessEqual", "LessEqual"), ">": ("Greater", "Greater"),
                   ">=": ("GreaterEqual", "GreaterEqual")}
    # a Python operand becomes a constant inside the operator's scope, named after its position
    assert built["+"].op.inputs[1].op.name == "add/y"
    r = 1 - p
    assert (r.op.name, r.op.inputs[0].op.name, r.op.inputs[1] is p) == ("sub_1", "sub_1/x", True)


def test_lecture_graph_op_names():
    x = tf.Variable(3, name="x")
    y = tf.Variable(4, name="y")
    x * x * y + y + 2
    names = [op.name for op in tf.get_default_graph().get_operations()]
    assert names == ["x/initial_value", "x", "x/Assign", "x/read", "y/initial_value", "y", "y/Assign", "y/read",
                     "mul", "mul_1", "add", "add_1/y", "add_1"]


# -- lookups
def test_get_operations_in_creation_order():
    g = tf.Graph()
    assert g.get_operations() == []
    with g.as_default():
        a = tf.constant(1.0, name="a")
        b = tf.constant(2.0, name="b")
        c = tf.add(a, b, name="c")
    assert g.get_operations() == [a.op, b.op, c.op]
    assert tf.get_default_graph().get_operations() == []


def test_get_operation_and_tensor_by_name():
    g = tf.get_default_graph()
    t = tf.constant([1, 2], name="x")
    assert g.get_operation_by_name("x") is t.op
    assert g.get_tensor_by_name("x:0") is t
    assert g.as_graph_element("x:0") is t and g.as_graph_element("x") is t.op


@pytest.mark.parametrize("call, exc, message", [
    (lambda g: g.get_operation_by_name("nope"), KeyError, "The name 'nope' refers to an Operation not in the graph."),
    (lambda g: g.get_operation_by_name("x:0"), ValueError, "Name 'x:0' appears to refer to a Tensor, not a Operation."),
    (lambda g: g.get_tensor_by_name("nope:0"), KeyError,
     "The name 'nope:0' refers to a Tensor which does not exist. The operation, 'nope', does not exist in the graph."),
    (lambda g: g.get_tensor_by_name("x:1"), KeyError,
     "The name 'x:1' refers to a Tensor which does not exist. The operation, 'x', exists but only has 1 outputs."),
    (lambda g: g.get_tensor_by_name("x"), ValueError,
     "The name 'x' refers to an Operation, not a Tensor. Tensor names must be of the form "
     "\"<op_name>:<output_index>\"."),
    (lambda g: g.get_tensor_by_name("nope"), ValueError,
     "The name 'nope' looks like an (invalid) Operation name, not a Tensor. Tensor names must be of the form "
     "\"<op_name>:<output_index>\"."),
    (lambda g: g.get_operation_by_name(3), TypeError, "Operation names are strings (or similar), not int."),
])
def test_lookup_errors_match_tf(call, exc, message):
    tf.constant(1, name="x")
    with pytest.raises(exc) as info:
        call(tf.get_default_graph())
    text = info.value.args[0]
    assert text == message


def test_finalize_forbids_new_ops():
    g = tf.get_default_graph()
    tf.constant(1)
    g.finalize()
    assert g.finalized
    for build in (lambda: tf.constant(2), lambda: tf.Variable(1), lambda: tf.placeholder(tf.float32)):
        with pytest.raises(RuntimeError, match="Graph is finalized and cannot be modified."):
            build()
    assert len(g.get_operations()) == 1
    with tf.Session() as sess:  # a finalized graph still runs
        assert sess.run("Const:0") == 1


def test_ops_from_two_graphs_do_not_mix():
    a = tf.constant(1)
    with tf.Graph().as_default():
        b = tf.constant(2)
    with pytest.raises(ValueError, match="must be from the same graph"):
        tf.add(a, b)


# -- tensors
def test_tensor_name_dtype_and_static_shape():
    p = tf.placeholder(tf.float32, shape=(None, 3), name="A")
    assert p.name == "A:0" and p.value_index == 0 and p.op.outputs == [p]
    assert p.dtype is tf.float32
    assert p.shape.as_list() == [None, 3]
    assert p.get_shape() == p.shape and p.shape.ndims == 2
    assert p.shape[0].value is None and p.shape[1].value == 3
    assert str(p.shape) == "(?, 3)"
    assert tf.placeholder(tf.int32).shape.ndims is None
    assert tf.constant([[1, 2, 3]]).shape.as_list() == [1, 3]


def test_static_shapes_broadcast():
    a = tf.placeholder(tf.float32, (3, 1))
    b = tf.placeholder(tf.float32, (1, 4))
    n = tf.placeholder(tf.float32, (None, 3))
    v = tf.placeholder(tf.float32, (3,))
    assert (a + b).shape.as_list() == [3, 4]
    assert (n + v).shape.as_list() == [None, 3]
    assert (2.0 * n).shape.as_list() == [None, 3]
    assert (a < b).dtype is tf.bool


def test_tensor_equality_is_identity():
    a = tf.constant(1)
    b = tf.constant(1)
    assert (a == a) is True and (a == b) is False and (a != b) is True
    assert {a: "a", b: "b"}[b] == "b"
    with pytest.raises(TypeError, match="as a Python `bool` is not allowed"):
        bool(a)
    with pytest.raises(TypeError, match="only iterable when eager execution is enabled"):
        iter(tf.constant([1, 2]))


def test_eval_and_run_use_the_default_or_given_session():
    v = tf.Variable(5)
    t = v * 2
    with pytest.raises(ValueError, match="No default session is registered"):
        t.eval()
    sess = tf.Session()
    v.initializer.run(session=sess)
    assert t.eval(session=sess) == 10
    with sess.as_default():
        assert t.eval() == 10
        assert v.initializer.run() is None
    other = tf.Session(graph=tf.Graph())
    with pytest.raises(ValueError, match="graph is different"):
        t.eval(session=other)


# -- dtypes
@pytest.mark.parametrize("value, dtype", [
    (1, tf.int32), (1.0, tf.float32), (True, tf.bool), ("s", tf.string), (b"s", tf.string), (2**40, tf.int64),
    ([1, 2.5], tf.float32), ([[1, 2], [3, 4]], tf.int32), (np.float64(1), tf.float64), (np.int64(3), tf.int64),
    (np.zeros(3, np.float32), tf.float32), (np.arange(3, dtype=np.int32), tf.int32),
])
def test_python_values_infer_tf1_dtypes(value, dtype):
    assert tf.constant(value).dtype is dtype


def test_dtype_names_and_numpy_types():
    for d, npt in ((tf.float32, np.float32), (tf.float64, np.float64), (tf.int32, np.int32),
                   (tf.int64, np.int64), (tf.bool, np.bool_)):
        assert tf.as_dtype(d.name) is d and tf.as_dtype(npt) is d and d.as_numpy_dtype is npt
    assert tf.as_dtype("string") is tf.string
    with pytest.raises(TypeError):
        tf.as_dtype("complex64")


def test_explicit_dtype_conversion_rules():
    assert tf.constant(1, dtype=tf.float64).dtype is tf.float64
    assert tf.constant(1.5, dtype=tf.float64).dtype is tf.float64
    with pytest.raises(TypeError, match="Expected int32, got 1.5 of type 'float' instead."):
        tf.constant(1.5, dtype=tf.int32)


def test_mixed_dtype_arithmetic_raises_like_tf1():
    i = tf.constant(1)
    f = tf.constant(1.0)
    with pytest.raises(TypeError) as info:
        tf.add(i, f)
    assert str(info.value) == "Input 'y' of 'Add' Op has type float32 that does not match type int32 of argument 'x'."
    with pytest.raises(TypeError, match="Input 'y' of 'Mul' Op has type float64"):
        tf.multiply(tf.constant(1.0), tf.constant(np.float64(2)))
    # operators convert the right operand to the left one's dtype first, as TF1's binary_op_wrapper does
    with pytest.raises(ValueError, match="Tensor conversion requested dtype int32 for Tensor with dtype float32"):
        i + f
    with pytest.raises(TypeError, match="Expected int32, got 2.5 of type 'float' instead."):
        tf.Variable(3) * 2.5


def test_integer_true_division_gives_float64():
    q = tf.constant(7) / tf.constant(2)
    assert q.dtype is tf.float64 and q.op.type == "RealDiv"
    assert [t.op.name for t in q.op.inputs] == ["truediv/Cast", "truediv/Cast_1"]
    assert (tf.constant(7.0) / 2).dtype is tf.float32
    with tf.Session() as sess:
        r = sess.run(q)
    assert r == 3.5 and type(r) is np.float64


def test_operators_on_variables_and_numpy_left_operands():
    v = tf.Variable([1.0, 2.0], name="v")
    t = tf.constant([3.0, 4.0])
    left = np.array([10.0, 20.0], np.float32)
    built = [v + 1, 1 - v, -v, abs(v), v ** 2, 2 ** v, v // 1.5, v % 1.5, v / 2, left + v, left * t,
             np.float32(3) - v, left < v]
    assert all(isinstance(b, tf.Tensor) for b in built)  # numpy defers to our operators
    with tf.Session() as sess:
        sess.run(v.initializer)
        got = sess.run(built)
    a = np.array([1.0, 2.0], np.float32)
    want = [a + 1, 1 - a, -a, abs(a), a ** 2, 2 ** a, np.floor(a / np.float32(1.5)), np.mod(a, np.float32(1.5)),
            a / 2, left + a, left * np.float32([3, 4]), 3 - a, left < a]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert (v == v) is True and (v != v) is False
