"""The lecture's first programs ("Up and Running with TensorFlow"), line for line, with the printed answers."""

import numpy as np

import pygraph as tf


def test_creating_and_running_a_graph():
    x = tf.Variable(3, name="x")
    y = tf.Variable(4, name="y")
    f = x*x*y + y + 2

    sess = tf.Session()
    sess.run(x.initializer)
    sess.run(y.initializer)
    result = sess.run(f)
    sess.close()
    assert result == 42
    assert type(result) is np.int32  # TF1 returns a numpy scalar of the tensor's dtype

    with tf.Session() as sess:
        x.initializer.run()
        y.initializer.run()
        result = f.eval()
    assert result == 42 and type(result) is np.int32

    init = tf.global_variables_initializer()
    with tf.Session() as sess:
        init.run()
        result = f.eval()
    assert result == 42

    sess = tf.InteractiveSession()
    init.run()
    result = f.eval()
    sess.close()
    assert result == 42
    assert tf.get_default_session() is None


def test_managing_graphs():
    x1 = tf.Variable(1)
    assert x1.graph is tf.get_default_graph()

    graph = tf.Graph()
    with graph.as_default():
        x2 = tf.Variable(2)
    assert x2.graph is graph
    assert x2.graph is not tf.get_default_graph()

    old = tf.get_default_graph()
    tf.reset_default_graph()
    assert tf.get_default_graph() is not old
    assert tf.get_default_graph().get_operations() == []


def test_lifecycle_of_a_node_value():
    w = tf.constant(3)
    x = w + 2
    y = x + 5
    z = x * 3

    with tf.Session() as sess:
        assert y.eval() == 10
        assert z.eval() == 15

    with tf.Session() as sess:
        y_val, z_val = sess.run([y, z])
    assert (y_val, z_val) == (10, 15)
    assert type(y_val) is np.int32 and type(z_val) is np.int32


def test_feeding_data_to_the_training_algorithm():
    A = tf.placeholder(tf.float32, shape=(None, 3))
    B = A + 5
    with tf.Session() as sess:  # noqa: F841 (the lecture's line)
        B_val_1 = B.eval(feed_dict={A: [[1, 2, 3]]})
        B_val_2 = B.eval(feed_dict={A: [[4, 5, 6], [7, 8, 9]]})

    np.testing.assert_array_equal(B_val_1, np.array([[6, 7, 8]], np.float32))
    np.testing.assert_array_equal(B_val_2, np.array([[9, 10, 11], [12, 13, 14]], np.float32))
    assert B_val_1.dtype == np.float32 and B_val_2.shape == (2, 3)
    assert B.shape.as_list() == [None, 3]
