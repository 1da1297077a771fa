"""tf.Session semantics (TF1's session.py): fetch structures, feeds, defaults, closing, make_callable,
variable state per session and run-once evaluation of shared nodes."""

import collections

import numpy as np
import pytest

import pygraph as tf

Pair = collections.namedtuple("Pair", "a b")


@pytest.fixture
def lecture():
    """The lecture's f = x*x*y + y + 2 (42), initialized in an open session."""
    x = tf.Variable(3, name="x")
    y = tf.Variable(4, name="y")
    f = x * x * y + y + 2
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    yield sess, x, y, f
    sess.close()


def test_fetch_tensor_operation_and_names(lecture):
    sess, x, y, f = lecture
    assert sess.run(f) == 42 and type(sess.run(f)) is np.int32
    assert sess.run(f.name) == 42  # "add_1:0"
    assert sess.run(x.initializer) is None
    assert sess.run(x.initializer.name) is None  # an operation's name fetches the operation
    assert sess.run(x) == 3  # a variable fetches its value


def test_fetch_structures_come_back_in_shape(lecture):
    sess, x, y, f = lecture
    out = sess.run([f, (x, y), {"f": f, "pair": Pair(x, [y, f])}, x.initializer])
    assert type(out) is list and len(out) == 4
    assert out[0] == 42
    assert type(out[1]) is tuple and out[1] == (3, 4)
    assert set(out[2]) == {"f", "pair"} and out[2]["f"] == 42
    pair = out[2]["pair"]
    assert type(pair) is Pair and pair.a == 3 and type(pair.b) is list and pair.b == [4, 42]
    assert out[3] is None
    assert sess.run([]) == [] and sess.run(()) == ()
    assert sess.run([f, f, f]) == [42, 42, 42]
    assert type(sess.run(collections.OrderedDict(a=f))) is collections.OrderedDict


def test_unhashable_fetch_structure_runs_every_time(lecture):
    sess, x, y, f = lecture
    for _ in range(3):
        assert sess.run({"f": [f, {"x": x}]}) == {"f": [42, {"x": 3}]}


def test_feeds_keyed_by_tensor_or_name():
    A = tf.placeholder(tf.float32, (None, 3), name="A")
    B = A + 5
    with tf.Session() as sess:
        by_tensor = sess.run(B, feed_dict={A: [[1, 2, 3]]})
        by_name = sess.run(B, feed_dict={"A:0": [[1, 2, 3]]})
        by_name_fetch = sess.run(B.name, {"A:0": np.array([[0, 0, 0]], np.float32)})
    np.testing.assert_array_equal(by_tensor, [[6, 7, 8]])
    np.testing.assert_array_equal(by_name, [[6, 7, 8]])
    np.testing.assert_array_equal(by_name_fetch, [[5, 5, 5]])


def test_scalar_and_unknown_rank_feeds():
    lr = tf.placeholder(tf.float32, shape=(), name="lr")
    u = tf.placeholder(tf.float32, name="u")  # no shape: any rank may be fed
    with tf.Session() as sess:
        r = sess.run(lr * 2, {lr: 0.25})
        assert r == 0.5 and type(r) is np.float32
        assert sess.run(u * 2, {u: 3}) == 6
        np.testing.assert_array_equal(sess.run(u * 2, {u: [[1, 2]]}), [[2, 4]])
        np.testing.assert_array_equal(sess.run(u * 2, {u: [[[1]], [[2]]]}), [[[2]], [[4]]])
        np.testing.assert_array_equal(sess.run(u * 2, {u: [5, 6, 7]}), [10, 12, 14])


def test_any_tensor_can_be_fed():
    a = tf.constant(3, name="a")
    b = a * 2
    c = b + 1
    with tf.Session() as sess:
        assert sess.run(c) == 7
        assert sess.run(c, {b: 10}) == 11  # feeding b cuts the graph there
        assert sess.run([b, c], {a: 0}) == [0, 1]


def test_placeholder_with_default():
    p = tf.placeholder_with_default(tf.constant([1.0, 2.0]), shape=(None,), name="p")
    q = p * 2
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(q), [2, 4])
        np.testing.assert_array_equal(sess.run(q, {p: [5.0, 6.0, 7.0]}), [10, 12, 14])
        np.testing.assert_array_equal(sess.run(q), [2, 4])
    assert p.shape.as_list() == [None] and p.op.type == "PlaceholderWithDefault"


def test_with_session_makes_it_default_and_closes_it():
    g = tf.Graph()
    with g.as_default():
        t = tf.constant(2) * 3
    assert tf.get_default_session() is None
    with tf.Session(graph=g) as sess:
        assert tf.get_default_session() is sess
        assert tf.get_default_graph() is g
        assert t.eval() == 6
    assert tf.get_default_session() is None
    assert tf.get_default_graph() is not g
    with pytest.raises(RuntimeError, match="Attempted to use a closed Session."):
        sess.run(t)


def test_closed_session_refuses_to_run(lecture):
    sess, x, y, f = lecture
    call = sess.make_callable(f)
    sess.close()
    with pytest.raises(RuntimeError, match="Attempted to use a closed Session."):
        sess.run(f)
    with pytest.raises(RuntimeError, match="Attempted to use a closed Session."):
        call()


def test_interactive_session_is_default_until_closed():
    x = tf.Variable(3)
    sess = tf.InteractiveSession()
    try:
        assert tf.get_default_session() is sess
        x.initializer.run()
        assert (x * 2).eval() == 6
    finally:
        sess.close()
    assert tf.get_default_session() is None
    with pytest.raises(ValueError, match="No default session"):
        x.eval()


def test_make_callable(lecture):
    sess, x, y, f = lecture
    run_f = sess.make_callable(f)
    assert run_f() == 42 and type(run_f()) is np.int32
    run_pair = sess.make_callable([f, (x, y)])
    assert run_pair() == [42, (3, 4)]

    A = tf.placeholder(tf.float32, (None, 3))
    B = A * 2 + 1
    C = B - 1
    call = sess.make_callable([B, C], feed_list=[A])
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    got_b, got_c = call(data)
    want_b, want_c = sess.run([B, C], {A: data})
    np.testing.assert_array_equal(got_b, data * 2 + 1)
    np.testing.assert_array_equal(got_b, want_b)
    np.testing.assert_array_equal(got_c, want_c)
    with pytest.raises(TypeError):
        call()  # one feed value is required


def test_variables_keep_values_across_runs_and_per_session():
    v = tf.Variable(10, name="v")
    inc = tf.assign_add(v, 1)
    s1, s2 = tf.Session(), tf.Session()
    s1.run(v.initializer)
    s2.run(v.initializer)
    assert [s1.run(inc) for _ in range(3)] == [11, 12, 13]
    assert s1.run(v) == 13
    assert s2.run(v) == 10  # each session has its own copy
    assert s2.run(tf.assign(v, 100)) == 100
    assert s1.run(v) == 13 and s2.run(v) == 100
    s1.run(v.initializer)  # re-initializing restores the initial value
    assert s1.run(v) == 10
    s1.close()
    s2.close()


def test_assign_family_and_variable_methods():
    v = tf.Variable([1.0, 2.0], name="v")
    with tf.Session() as sess:
        sess.run(v.initializer)
        np.testing.assert_array_equal(sess.run(v.assign([5.0, 6.0])), [5, 6])
        np.testing.assert_array_equal(sess.run(v.assign_sub([1.0, 1.0])), [4, 5])
        np.testing.assert_array_equal(sess.run(v.assign_add([0.5, 0.5])), [4.5, 5.5])
        np.testing.assert_array_equal(v.eval(), [4.5, 5.5])


def test_shared_nodes_run_once_per_run():
    counter = tf.Variable(0, name="counter")
    inc = tf.assign_add(counter, 1)
    y = inc * 2
    z = inc * 3
    with tf.Session() as sess:
        sess.run(counter.initializer)
        assert sess.run([y, z]) == [2, 3]  # one increment feeds both
        assert sess.run(counter) == 1
        assert sess.run([y, z, inc]) == [4, 6, 2]
        assert sess.run(counter) == 2


def test_global_variables_initializer_initializes_all():
    a = tf.Variable(1.5, name="a")
    b = tf.Variable([[1, 2]], name="b")
    assert tf.global_variables() == [a, b]
    init = tf.global_variables_initializer()
    with tf.Session() as sess:
        sess.run(init)
        got_a, got_b = sess.run([a, b])
    assert got_a == 1.5 and got_a.dtype == np.float32
    np.testing.assert_array_equal(got_b, [[1, 2]])


def test_reads_under_control_dependencies_see_the_write():
    v = tf.Variable(0, name="v")
    inc = tf.assign_add(v, 1)
    with tf.control_dependencies([inc]):
        after = v.read_value()
        doubled = tf.identity(v._ref) * 2
    w = tf.Variable(1.0, name="w")
    scale = w.assign(w * 2)
    with tf.control_dependencies([scale]):
        then_add = w.assign_add(0.5)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert [sess.run(after) for _ in range(3)] == [1, 2, 3]
        assert sess.run([inc, after]) == [4, 4]  # one increment, read after it
        assert sess.run(doubled) == 10
        assert sess.run(then_add) == 2.5  # (1 * 2) + 0.5: the second write sees the first
        assert sess.run(w) == 2.5


def test_list_and_dict_fetches_reuse_their_plan():
    from pygraph.codegen import toolchain

    a = tf.placeholder(tf.float32, (None,), name="a")
    b, c = a * 2, a + 1
    fetch_forms = ([b, c], {"b": b, "c": [c]}, [b, (c, {"k": b})], (b, [c]))
    with tf.Session() as sess:
        for fetches in fetch_forms:
            sess.run(fetches, {a: [1.0]})
            before = sum(toolchain.stats.values())
            for v in ([2.0], [3.0, 4.0]):
                out = sess.run(fetches, {a: v})
            assert sum(toolchain.stats.values()) == before, fetches  # no new program was looked up
            assert type(out) is type(fetches)
        assert sess.run([b, c], {a: [1.0]})[1] == 2.0
        assert sess.run((b, c), {a: [1.0]})[0] == 2.0  # a tuple of the same tensors is its own plan


def test_make_callable_with_a_placeholder_of_unknown_rank():
    u = tf.placeholder(tf.float32, name="u")
    with tf.Session() as sess:
        double = sess.make_callable(u * 2, feed_list=[u])
        both = sess.make_callable([u + 1, u * 2], feed_list=["u:0"])
        assert double(3.0) == 6.0
        np.testing.assert_array_equal(double([[1.0, 2.0]]), [[2.0, 4.0]])
        np.testing.assert_array_equal(both([1.0])[1], [2.0])
        with pytest.raises(TypeError, match="expects 1 feed values"):
            double()


def test_strings_come_back_as_bytes():
    s = tf.placeholder(tf.string, (None,), name="s")
    with tf.Session() as sess:
        hello = sess.run(tf.constant("hello"))
        assert hello == b"hello" and type(hello) is bytes
        words = sess.run(tf.constant(["a", "bé"]))
        assert words.dtype == object and words.tolist() == [b"a", "bé".encode()]
        fed = sess.run(s, {s: ["x", b"y"]})
        assert fed.tolist() == [b"x", b"y"]
