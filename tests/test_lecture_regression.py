"""The lecture's linear-regression sequence on California housing, checked against numpy oracles:
batch gradient descent by hand, with tf.gradients and with the optimizer, and mini-batch training."""

import housing
import numpy as np
import pytest

import pygraph as tf

N_EPOCHS = 1000
LEARNING_RATE = 0.01


@pytest.fixture(scope="module")
def data():
    features, target = housing.load()
    m = len(features)
    scaled = (features - features.mean(axis=0)) / features.std(axis=0)
    return np.c_[np.ones((m, 1)), scaled], target.reshape(-1, 1)


def run_batch_gd(data, variant):
    X_data, y_data = data
    m, n1 = X_data.shape
    tf.reset_default_graph()
    X = tf.constant(X_data, dtype=tf.float32, name="X")
    y = tf.constant(y_data, dtype=tf.float32, name="y")
    theta = tf.Variable(tf.random_uniform([n1, 1], -1.0, 1.0, seed=42), name="theta")
    y_pred = tf.matmul(X, theta, name="predictions")
    error = y_pred - y
    mse = tf.reduce_mean(tf.square(error), name="mse")
    if variant == "manual":
        gradients = 2 / m * tf.matmul(tf.transpose(X), error)
        training_op = tf.assign(theta, theta - LEARNING_RATE * gradients)
    elif variant == "autodiff":
        gradients = tf.gradients(mse, [theta])[0]
        training_op = tf.assign(theta, theta - LEARNING_RATE * gradients)
    else:
        training_op = tf.train.GradientDescentOptimizer(learning_rate=LEARNING_RATE).minimize(mse)
    mses = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        theta0 = theta.eval()
        for _ in range(N_EPOCHS):
            mses.append(mse.eval())
            sess.run(training_op)
        mses.append(mse.eval())
        return theta0, theta.eval(), np.array(mses)


def numpy_batch_gd(data, theta0):
    """The same loop in numpy float32, from the same initial theta."""
    X = data[0].astype(np.float32)
    y = data[1].astype(np.float32)
    m = np.float32(len(X))
    theta = theta0.astype(np.float32).copy()
    for _ in range(N_EPOCHS):
        theta = theta - np.float32(LEARNING_RATE) * (np.float32(2) / m * (X.T @ (X @ theta - y)))
    return theta, float(np.mean(np.square(X.astype(np.float64) @ theta - data[1])))


def test_manual_batch_gradient_descent_matches_numpy(data):
    theta0, theta, mses = run_batch_gd(data, "manual")
    assert np.all(np.diff(mses) <= 1e-7), "MSE must decrease at every epoch"
    want_theta, want_mse = numpy_batch_gd(data, theta0)
    assert abs(mses[-1] - want_mse) < 1e-3
    np.testing.assert_allclose(theta, want_theta, atol=1e-3)


@pytest.mark.parametrize("variant", ["autodiff", "optimizer"])
def test_autodiff_and_optimizer_give_the_manual_theta(data, variant):
    _, manual, _ = run_batch_gd(data, "manual")
    _, theta, _ = run_batch_gd(data, variant)
    np.testing.assert_allclose(theta, manual, atol=1e-5)


def test_mini_batch_gradient_descent_with_feeds(data):
    X_data, y_data = data
    m, n1 = X_data.shape
    n_epochs, batch_size = 10, 100
    n_batches = int(np.ceil(m / batch_size))
    X = tf.placeholder(tf.float32, shape=(None, n1), name="X")
    y = tf.placeholder(tf.float32, shape=(None, 1), name="y")
    theta = tf.Variable(tf.random_uniform([n1, 1], -1.0, 1.0, seed=42), name="theta")
    y_pred = tf.matmul(X, theta, name="predictions")
    mse = tf.reduce_mean(tf.square(y_pred - y), name="mse")
    training_op = tf.train.GradientDescentOptimizer(learning_rate=LEARNING_RATE).minimize(mse)

    def fetch_batch(epoch, batch_index, batch_size):
        np.random.seed(epoch * n_batches + batch_index)
        indices = np.random.randint(m, size=batch_size)
        return X_data[indices], y_data[indices]

    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for epoch in range(n_epochs):
            for batch_index in range(n_batches):
                X_batch, y_batch = fetch_batch(epoch, batch_index, batch_size)
                sess.run(training_op, feed_dict={X: X_batch, y: y_batch})
        best_theta = theta.eval()
        full_mse = mse.eval(feed_dict={X: X_data, y: y_data})
    assert full_mse < 0.56
    np.testing.assert_allclose(full_mse, np.mean(np.square(X_data @ best_theta - y_data)), rtol=1e-4)
