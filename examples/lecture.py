"""The lecture's TensorFlow 1.x programs, run unchanged on pygraph (`make demo`).

Each section is the lecture's code with `import pygraph as tf`; the data is the repository's copy of
California housing in data/ (nothing downloads). Checkpoints and TensorBoard logs go to one folder,
reused by every run: $PYGRAPH_DEMO_DIR, else pygraph-demo in the system's temp directory.
"""

import gzip
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import numpy as np

import pygraph as tf
from pygraph import config

HOUSING = config.housing_dir(Path(__file__).resolve().parents[1] / "data" / "california_housing") / \
    "california_housing.csv.gz"
if not HOUSING.exists():  # before any section runs, not halfway through
    sys.exit(f"California-housing data not found at {HOUSING}: restore data/ from the repository "
             "(git checkout -- data) or point PYGRAPH_HOUSING_DIR at a folder holding california_housing.csv.gz")
WORK = config.demo_dir(Path(tempfile.gettempdir()) / "pygraph-demo")
WORK.mkdir(parents=True, exist_ok=True)


def section(title):
    print(f"\n=== {title} ===")


def fetch_california_housing():
    """What sklearn.datasets.fetch_california_housing() returns (data, target), read from the local copy."""
    with gzip.open(HOUSING, "rt") as f:
        raw = np.loadtxt(f, delimiter=",", skiprows=1)
    return SimpleNamespace(data=raw[:, :8], target=raw[:, 8])


def standard_scale(data):
    return (data - data.mean(axis=0)) / data.std(axis=0)


# --------------------------------------------------------------------------------------------
section("Creating and running a graph")
tf.reset_default_graph()
x = tf.Variable(3, name="x")
y = tf.Variable(4, name="y")
f = x * x * y + y + 2
sess = tf.Session()
sess.run(x.initializer)
sess.run(y.initializer)
result = sess.run(f)
print(result)
sess.close()

with tf.Session() as sess:
    x.initializer.run()
    y.initializer.run()
    result = f.eval()
print(result)

init = tf.global_variables_initializer()
with tf.Session() as sess:
    init.run()
    result = f.eval()
print(result)

section("Managing graphs")
x1 = tf.Variable(1)
print(x1.graph is tf.get_default_graph())
graph = tf.Graph()
with graph.as_default():
    x2 = tf.Variable(2)
print(x2.graph is graph, x2.graph is tf.get_default_graph())

section("Lifecycle of a node value")
tf.reset_default_graph()
w = tf.constant(3)
x = w + 2
y = x + 5
z = x * 3
with tf.Session() as sess:
    print(y.eval())
    print(z.eval())
with tf.Session() as sess:
    y_val, z_val = sess.run([y, z])
    print(y_val, z_val)

# --------------------------------------------------------------------------------------------
section("Linear regression: the normal equation")
tf.reset_default_graph()
housing = fetch_california_housing()
m, n = housing.data.shape
housing_data_plus_bias = np.c_[np.ones((m, 1)), housing.data]
X = tf.constant(housing_data_plus_bias, dtype=tf.float32, name="X")
y = tf.constant(housing.target.reshape(-1, 1), dtype=tf.float32, name="y")
XT = tf.transpose(X)
theta = tf.matmul(tf.matmul(tf.matrix_inverse(tf.matmul(XT, X)), XT), y)
with tf.Session() as sess:
    theta_value = theta.eval()
print(theta_value.ravel())

scaled_housing_data_plus_bias = np.c_[np.ones((m, 1)), standard_scale(housing.data)]
n_epochs = 1000
learning_rate = 0.01


def batch_gradient_descent(label, make_training_op):
    tf.reset_default_graph()
    X = tf.constant(scaled_housing_data_plus_bias, dtype=tf.float32, name="X")
    y = tf.constant(housing.target.reshape(-1, 1), dtype=tf.float32, name="y")
    theta = tf.Variable(tf.random_uniform([n + 1, 1], -1.0, 1.0, seed=42), name="theta")
    y_pred = tf.matmul(X, theta, name="predictions")
    error = y_pred - y
    mse = tf.reduce_mean(tf.square(error), name="mse")
    training_op = make_training_op(X, theta, error, mse)
    init = tf.global_variables_initializer()
    section(f"Batch gradient descent: {label}")
    with tf.Session() as sess:
        sess.run(init)
        for epoch in range(n_epochs):
            if epoch % 100 == 0:
                print("Epoch", epoch, "MSE =", mse.eval())
            sess.run(training_op)
        best_theta = theta.eval()
    print("Best theta:", best_theta.ravel())
    return best_theta


def manual(X, theta, error, mse):
    gradients = 2 / m * tf.matmul(tf.transpose(X), error)
    return tf.assign(theta, theta - learning_rate * gradients)


def autodiff(X, theta, error, mse):
    gradients = tf.gradients(mse, [theta])[0]
    return tf.assign(theta, theta - learning_rate * gradients)


def gd_optimizer(X, theta, error, mse):
    return tf.train.GradientDescentOptimizer(learning_rate=learning_rate).minimize(mse)


def momentum_optimizer(X, theta, error, mse):
    return tf.train.MomentumOptimizer(learning_rate=learning_rate, momentum=0.9).minimize(mse)


batch_gradient_descent("manual gradients", manual)
batch_gradient_descent("autodiff (tf.gradients)", autodiff)
batch_gradient_descent("GradientDescentOptimizer", gd_optimizer)
batch_gradient_descent("MomentumOptimizer", momentum_optimizer)

# --------------------------------------------------------------------------------------------
section("Mini-batch gradient descent, with a saver and TensorBoard logs")
tf.reset_default_graph()
now = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
root_logdir = WORK / "tf_logs"
logdir = "{}/run-{}/".format(root_logdir, now)

X = tf.placeholder(tf.float32, shape=(None, n + 1), name="X")
y = tf.placeholder(tf.float32, shape=(None, 1), name="y")
theta = tf.Variable(tf.random_uniform([n + 1, 1], -1.0, 1.0, seed=42), name="theta")
y_pred = tf.matmul(X, theta, name="predictions")
with tf.name_scope("loss") as scope:
    error = y_pred - y
    mse = tf.reduce_mean(tf.square(error), name="mse")
optimizer = tf.train.GradientDescentOptimizer(learning_rate=learning_rate)
training_op = optimizer.minimize(mse)
init = tf.global_variables_initializer()
saver = tf.train.Saver()
mse_summary = tf.summary.scalar("MSE", mse)
file_writer = tf.summary.FileWriter(logdir, tf.get_default_graph())
print(error.op.name, mse.op.name)

n_epochs = 10
batch_size = 100
n_batches = int(np.ceil(m / batch_size))


def fetch_batch(epoch, batch_index, batch_size):
    np.random.seed(epoch * n_batches + batch_index)
    indices = np.random.randint(m, size=batch_size)
    X_batch = scaled_housing_data_plus_bias[indices]
    y_batch = housing.target.reshape(-1, 1)[indices]
    return X_batch, y_batch


checkpoint = str(WORK / "my_model.ckpt")
with tf.Session() as sess:
    sess.run(init)
    for epoch in range(n_epochs):
        save_path = saver.save(sess, checkpoint)
        for batch_index in range(n_batches):
            X_batch, y_batch = fetch_batch(epoch, batch_index, batch_size)
            if batch_index % 10 == 0:
                summary_str = mse_summary.eval(feed_dict={X: X_batch, y: y_batch})
                step = epoch * n_batches + batch_index
                file_writer.add_summary(summary_str, step)
            sess.run(training_op, feed_dict={X: X_batch, y: y_batch})
    best_theta = theta.eval()
    full_mse = mse.eval(feed_dict={X: scaled_housing_data_plus_bias, y: housing.target.reshape(-1, 1)})
    save_path = saver.save(sess, str(WORK / "my_model_final.ckpt"))
file_writer.close()
print("Best theta:", best_theta.ravel())
print("MSE on the full data:", full_mse)

with tf.Session() as sess:
    saver.restore(sess, save_path)
    best_theta_restored = theta.eval()
print("Restored theta equals the trained one:", np.allclose(best_theta, best_theta_restored))

# --------------------------------------------------------------------------------------------
section("Modularity: name scopes")
tf.reset_default_graph()
n_features = 3


def relu(X):
    with tf.name_scope("relu"):
        w_shape = (int(X.get_shape()[1]), 1)
        w = tf.Variable(tf.random_normal(w_shape), name="weights")
        b = tf.Variable(0.0, name="bias")
        z = tf.add(tf.matmul(X, w), b, name="z")
        return tf.maximum(z, 0., name="relu")


X = tf.placeholder(tf.float32, shape=(None, n_features), name="X")
relus = [relu(X) for i in range(5)]
output = tf.add_n(relus, name="output")
with tf.Session() as sess:
    tf.global_variables_initializer().run()
    print("output:", output.eval(feed_dict={X: np.ones((2, n_features))}).ravel())
print([op.name for op in tf.get_default_graph().get_operations() if op.name.endswith("/z")])

section("Sharing variables: variable scopes")
tf.reset_default_graph()


def relu(X):  # noqa: F811 (the lecture redefines it)
    with tf.variable_scope("relu", reuse=True):
        threshold = tf.get_variable("threshold")
        w_shape = int(X.get_shape()[1]), 1
        w = tf.Variable(tf.random_normal(w_shape), name="weights")
        b = tf.Variable(0.0, name="bias")
        z = tf.add(tf.matmul(X, w), b, name="z")
        return tf.maximum(z, threshold, name="max")


X = tf.placeholder(tf.float32, shape=(None, n_features), name="X")
with tf.variable_scope("relu"):
    threshold = tf.get_variable("threshold", shape=(), initializer=tf.constant_initializer(0.0))
relus = [relu(X) for relu_index in range(5)]
output = tf.add_n(relus, name="output")
print(threshold.name, [v.name for v in tf.global_variables()][:4], "...")

file_writer = tf.summary.FileWriter(str(root_logdir / "relu2"), tf.get_default_graph())
file_writer.close()

print(f"\nTensorBoard logs are in {root_logdir}; view them with:\n"
      f"  {sys.executable} -m tensorboard.main --logdir {root_logdir}")
