"""tf.variable_scope / tf.get_variable / initializers: TF1's names, reuse rules and error messages."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import pygraph as tf


def _op_names():
    return [op.name for op in tf.get_default_graph().get_operations()]


# -- the lecture's programs

def test_relu_with_name_scope_gives_tf1_names():
    n_features = 3
    X = tf.placeholder(tf.float32, shape=(None, n_features), name="X")

    def relu(X):
        with tf.name_scope("relu"):
            w_shape = (int(X.get_shape()[1]), 1)
            w = tf.Variable(tf.random_normal(w_shape), name="weights")
            b = tf.Variable(0.0, name="bias")
            z = tf.add(tf.matmul(X, w), b, name="z")
            return tf.maximum(z, 0., name="relu")

    relus = [relu(X) for _ in range(5)]
    output = tf.add_n(relus, name="output")
    names = _op_names()
    assert {"relu/weights", "relu/bias", "relu/z", "relu/relu", "relu_1/weights", "relu_1/z", "relu_4/relu",
            "output"} <= set(names)
    assert output.op.name == "output" and relus[1].op.name == "relu_1/relu"
    assert not any(n.startswith("relu_5") for n in names)


def test_shared_threshold_with_variable_scope_runs():
    X = tf.placeholder(tf.float32, shape=(None, 2), name="X")
    with tf.variable_scope("relu"):
        threshold = tf.get_variable("threshold", shape=(), initializer=tf.constant_initializer(0.5))

    def relu(X):
        with tf.variable_scope("relu", reuse=True):
            t = tf.get_variable("threshold")
            w = tf.Variable(np.ones((2, 1), np.float32), name="weights")
            b = tf.Variable(0.0, name="bias")
            z = tf.add(tf.matmul(X, w), b, name="z")
            assert t is threshold
            return tf.maximum(z, t, name="max")

    relus = [relu(X) for _ in range(5)]
    output = tf.add_n(relus, name="output")
    assert threshold.name == "relu/threshold:0"
    names = _op_names()
    assert {"relu/threshold", "relu_1/weights", "relu_1/z", "relu_1/max", "relu_5/max", "output"} <= set(names)
    assert [v.name for v in tf.global_variables()].count("relu/threshold:0") == 1
    data = np.array([[1.0, 2.0], [-3.0, 1.0]], np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(output, {X: data}), 5 * np.maximum(data.sum(1, keepdims=True), 0.5))
        sess.run(threshold.assign(4.0))  # one variable: all five units see the new value
        np.testing.assert_allclose(sess.run(output, {X: data}), 5 * np.maximum(data.sum(1, keepdims=True), 4.0))


def test_reuse_loop_shares_one_threshold():
    X = tf.placeholder(tf.float32, shape=(None, 2), name="X")

    def relu(X):
        threshold = tf.get_variable("threshold", shape=(), initializer=tf.constant_initializer(0.0))
        z = tf.add(tf.reduce_sum(X, axis=1), 1.0, name="z")
        return tf.maximum(z, threshold, name="max"), threshold

    results = []
    for relu_index in range(5):
        with tf.variable_scope("relu", reuse=(relu_index >= 1)) as scope:
            results.append(relu(X))
            assert scope.name == "relu" and scope.reuse is (relu_index >= 1)
    thresholds = {id(t) for _, t in results}
    assert len(thresholds) == 1 and results[0][1].name == "relu/threshold:0"
    assert [r.op.name for r, _ in results] == ["relu/max", "relu_1/max", "relu_2/max", "relu_3/max", "relu_4/max"]


# -- reuse rules

def test_reuse_true_returns_the_same_object_and_ops_move_to_a_new_name_scope():
    with tf.variable_scope("layer") as layer:
        w = tf.get_variable("w", shape=(3, 2))
        a = tf.identity(w, name="a")
    with tf.variable_scope("layer", reuse=True):
        assert tf.get_variable("w") is w
        assert tf.get_variable("w", shape=(3, 2), dtype=tf.float32) is w
        b = tf.identity(w, name="a")
    assert (w.name, a.op.name, b.op.name) == ("layer/w:0", "layer/a", "layer_1/a")
    with tf.variable_scope(layer, reuse=True) as again:  # re-entry by scope object
        assert tf.get_variable("w") is w and again.name == "layer" and again.original_name_scope == "layer/"
        assert tf.identity(w, name="c").op.name == "layer_2/c"
    with tf.variable_scope(layer, reuse=True, auxiliary_name_scope=False):
        assert tf.identity(w, name="d").op.name == "d"


def test_reuse_is_inherited_and_auto_reuse():
    with tf.variable_scope("outer"):
        v = tf.get_variable("v", shape=())
        with tf.variable_scope("inner"):
            u = tf.get_variable("u", shape=())
    with tf.variable_scope("outer", reuse=True):
        with tf.variable_scope("inner", reuse=False) as inner:  # stays True: reuse is inherited
            assert inner.reuse is True and tf.get_variable("u") is u
        assert tf.get_variable_scope().reuse is True

    def shared():
        with tf.variable_scope("auto", reuse=tf.AUTO_REUSE):
            return tf.get_variable("v", shape=(2,))

    first, second = shared(), shared()
    assert first is second and first.name == "auto/v:0"
    with tf.variable_scope("outer") as outer:
        outer.reuse_variables()
        assert tf.get_variable("v") is v
    assert tf.get_variable_scope().name == "" and tf.get_variable_scope().reuse is False


def test_tf1_errors():
    with tf.variable_scope("layer"):
        tf.get_variable("w", shape=(3, 2))
    with pytest.raises(ValueError) as e, tf.variable_scope("layer"):
        tf.get_variable("w", shape=(3, 2))
    assert str(e.value).startswith("Variable layer/w already exists, disallowed. Did you mean to set reuse=True "
                                   "or reuse=tf.AUTO_REUSE in VarScope? Originally defined at:")
    assert "test_scopes.py" in str(e.value)
    with pytest.raises(ValueError, match=r"^Variable nope/w does not exist, or was not created with "
                                         r"tf.get_variable\(\). Did you mean to set reuse=tf.AUTO_REUSE in "
                                         r"VarScope\?$"):
        with tf.variable_scope("nope", reuse=True):
            tf.get_variable("w", shape=(1,))
    with pytest.raises(ValueError, match=r"^Trying to share variable layer/w, but specified shape \(4, 2\) and "
                                         r"found shape \(3, 2\).$"):
        with tf.variable_scope("layer", reuse=True):
            tf.get_variable("w", shape=(4, 2))
    with pytest.raises(ValueError, match="specified dtype float64 and found dtype float32"):
        with tf.variable_scope("layer", reuse=True):
            tf.get_variable("w", dtype=tf.float64)
    with pytest.raises(ValueError, match=r"^Shape of a new variable \(x\) must be fully defined"):
        tf.get_variable("x")
    with pytest.raises(ValueError, match="If initializer is a constant, do not specify shape."):
        tf.get_variable("y", shape=(2,), initializer=tf.constant([1.0, 2.0]))
    with pytest.raises(ValueError, match="Initializer type '<dtype: 'float32'>' and explicit dtype "
                                         "'<dtype: 'int32'>' don't match."):
        tf.get_variable("z", dtype=tf.int32, initializer=tf.constant([1.0]))
    with pytest.raises(TypeError, match="If default_name is None then name_or_scope is required"):
        tf.variable_scope(None)
    with pytest.raises(ValueError, match="reuse=True cannot be used without a name_or_scope"):
        with tf.variable_scope(None, default_name="d", reuse=True):
            pass
    with pytest.raises(ValueError, match="The reuse parameter must be True or False or None."):
        tf.variable_scope("s", reuse="yes")
    with pytest.raises(TypeError, match="name_or_scope must be a string or VariableScope"):
        with tf.variable_scope(3):
            pass
    assert tf.get_variable_scope().name == ""  # failed entries leave no scope behind


# -- names

def test_scope_and_variable_names():
    with tf.variable_scope("foo"):
        with tf.variable_scope("bar"):
            v = tf.get_variable("v", [1])
        with tf.name_scope("ns"):
            u = tf.get_variable("u", [1])  # variable names ignore name scopes
            plain = tf.Variable(1.0, name="plain")  # tf.Variable follows the name scope
    assert (v.name, u.name, plain.name) == ("foo/bar/v:0", "foo/u:0", "foo/ns/plain:0")
    assert v.initial_value.op.name.startswith("foo/bar/v/Initializer/random_uniform")  # glorot by default
    with tf.variable_scope("foo") as vs:  # leaving "foo" above reset the counters of its sub-scopes
        with tf.variable_scope(None, default_name="bar") as a:
            pass
        with tf.variable_scope(None, default_name="bar") as b:
            pass
    with tf.variable_scope(vs):  # counters restart when a saved scope is re-entered
        with tf.variable_scope(None, default_name="bar") as c:
            pass
    assert (a.name, b.name, c.name) == ("foo/bar", "foo/bar_1", "foo/bar")
    assert (a.original_name_scope, c.original_name_scope) == ("foo_1/bar/", "foo_2/bar/")
    with tf.variable_scope(None, default_name="dense") as d0, tf.variable_scope(None, default_name="sub") as s0:
        pass
    with tf.variable_scope(None, default_name="dense") as d1:
        pass
    assert (d0.name, s0.name, d1.name) == ("dense", "dense/sub", "dense_1")
    assert d0.original_name_scope == "dense/" and d1.original_name_scope == "dense_1/"


def test_store_belongs_to_the_graph_and_scope_to_the_thread():
    with tf.variable_scope("s"):
        v = tf.get_variable("v", shape=())
    g = tf.Graph()
    with g.as_default():
        w = tf.get_variable("s/v", shape=())  # another graph: another store
        assert w is not v and w.graph is g
    seen = []
    with tf.variable_scope("main_thread"):
        t = threading.Thread(target=lambda: seen.append(tf.get_variable_scope().name))
        t.start()
        t.join()
    assert seen == [""]


# -- get_variable options and initializers

def test_initializers_collections_and_options():
    c = tf.get_variable("c", shape=(2, 3), initializer=tf.constant_initializer(1.5))
    z = tf.get_variable("z", shape=(4,), dtype=tf.int32)  # integers default to zeros
    o = tf.get_variable("o", shape=(2,), dtype=tf.float64, initializer=tf.ones_initializer())
    f = tf.get_variable("f", initializer=np.array([[1, 2]], np.int64))  # from a value: shape and dtype
    lst = tf.get_variable("lst", shape=(2, 2), initializer=tf.constant_initializer([1, 2, 3, 4]))
    zi = tf.get_variable("zi", shape=(3,), initializer=tf.zeros_initializer)  # a class works too
    local = tf.get_local_variable("local", shape=(), initializer=tf.zeros_initializer())
    frozen = tf.get_variable("frozen", shape=(), trainable=False)
    with tf.variable_scope("reg", regularizer=lambda v: tf.reduce_sum(tf.square(v))):
        tf.get_variable("r", shape=(2,), initializer=tf.constant_initializer(3.0))
    assert (z.dtype, o.dtype, f.dtype, f.shape.as_list()) == (tf.int32, tf.float64, tf.int64, [1, 2])
    assert local in tf.local_variables() and local not in tf.global_variables()
    assert frozen not in tf.trainable_variables() and c in tf.trainable_variables()
    (loss,) = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    assert loss.op.name.startswith("reg/r/Regularizer/")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(tf.local_variables_initializer())
        values = sess.run([c, z, o, f, lst, zi, local, loss])
    np.testing.assert_array_equal(values[0], np.full((2, 3), 1.5, np.float32))
    np.testing.assert_array_equal(values[1], np.zeros(4, np.int32))
    np.testing.assert_array_equal(values[2], np.ones(2))
    np.testing.assert_array_equal(values[3], [[1, 2]])
    np.testing.assert_array_equal(values[4], [[1, 2], [3, 4]])
    np.testing.assert_array_equal(values[5], np.zeros(3))
    assert values[6] == 0.0 and values[7] == 18.0


def test_custom_getter_and_scope_defaults():
    calls = []

    def getter(getter, name, *args, **kwargs):
        calls.append(name)
        return getter(name + "_x", *args, **kwargs)

    with tf.variable_scope("cg", custom_getter=getter, dtype=tf.float64,
                           initializer=tf.constant_initializer(2.0)) as scope:
        v = tf.get_variable("v", shape=())
        assert scope.dtype == tf.float64
    assert calls == ["cg/v"] and v.name == "cg/v_x:0" and v.dtype == tf.float64


def test_default_and_random_initializers_draw_from_their_distributions():
    tf.set_random_seed(42)
    w = tf.get_variable("w", shape=(300, 200))  # glorot uniform: U(-sqrt(6/(in+out)), +sqrt(6/(in+out)))
    n = tf.get_variable("n", shape=(20000,), initializer=tf.random_normal_initializer(mean=1.0, stddev=2.0))
    t = tf.get_variable("t", shape=(20000,), initializer=tf.truncated_normal_initializer(stddev=0.5))
    u = tf.get_variable("u", shape=(20000,), initializer=tf.random_uniform_initializer(-3.0, -1.0))
    g = tf.get_variable("g", shape=(400, 100), initializer=tf.glorot_normal_initializer())
    vs = tf.get_variable("vs", shape=(500, 40), initializer=tf.variance_scaling_initializer(
        scale=2.0, mode="fan_in", distribution="untruncated_normal"))
    with tf.Session() as sess:
        sess.run(tf.initializers.global_variables())
        w_, n_, t_, u_, g_, vs_ = sess.run([w, n, t, u, g, vs])
    limit = np.sqrt(6.0 / 500)
    assert np.abs(w_).max() <= limit and np.abs(w_).max() > 0.99 * limit
    assert abs(w_.std() - limit / np.sqrt(3)) < 0.01 * limit
    assert abs(n_.mean() - 1.0) < 0.05 and abs(n_.std() - 2.0) < 0.05
    assert np.abs(t_).max() <= 1.0 and abs(t_.std() - 0.5 * 0.87962566) < 0.01
    assert u_.min() >= -3.0 and u_.max() < -1.0 and abs(u_.mean() + 2.0) < 0.03
    assert np.abs(g_).max() <= 2 * np.sqrt(2.0 / 500) / 0.87962566 * 1.0001  # truncated at 2 stddev
    assert abs(g_.std() - np.sqrt(2.0 / 500)) < 0.05 * np.sqrt(2.0 / 500)
    assert abs(vs_.std() - np.sqrt(2.0 / 500)) < 0.05 * np.sqrt(2.0 / 500)


def test_variance_scaling_fans_and_argument_checks():
    from pygraph.initializers import _compute_fans

    assert _compute_fans([]) == (1, 1) and _compute_fans([5]) == (5, 5) and _compute_fans([3, 4]) == (3, 4)
    assert _compute_fans([2, 3, 4, 5]) == (24, 30)
    with pytest.raises(ValueError, match="`scale` must be positive float."):
        tf.variance_scaling_initializer(scale=0.0)
    with pytest.raises(ValueError, match="Invalid `mode` argument: fan_sideways"):
        tf.variance_scaling_initializer(mode="fan_sideways")
    with pytest.raises(ValueError, match="Invalid `distribution` argument: cauchy"):
        tf.variance_scaling_initializer(distribution="cauchy")
    with pytest.raises(ValueError, match="Expected floating point type, got int32."):
        tf.random_normal_initializer(dtype=tf.int32)
    with pytest.raises(TypeError, match="Invalid type for initial value"):
        tf.constant_initializer({"a": 1})
    assert tf.glorot_uniform_initializer(seed=3).get_config() == {"seed": 3, "dtype": "float32"}
    assert tf.initializers.zeros is tf.zeros_initializer
