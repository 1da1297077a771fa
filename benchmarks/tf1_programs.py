"""The lecture's TF1 programs, written once against a `tf` module: pygraph runs exactly the code that
TensorFlow's tf.compat.v1 graph mode runs (the claim pygraph makes), so the two columns compare like
with like.  Every program builds its own Graph and Session; inputs come from the shared Data.
"""

from __future__ import annotations

from . import nets
from .case import Case
from .data import GD_STEPS, LEARNING_RATE, MLP_BATCHES, MLP_CHECK_STEPS


class TF1Programs:
    def __init__(self, tf, new_session):
        self.tf = tf
        self.new_session = new_session  # graph -> Session (lets TF set its thread counts)

    def _session(self, graph, *init_ops):
        sess = self.new_session(graph)
        for op in init_ops:
            sess.run(op)
        return sess

    def _w1_graph(self):
        tf = self.tf
        g = tf.Graph()
        with g.as_default():
            x = tf.Variable(3.0, name="x")
            y = tf.Variable(4.0, name="y")
            f = x * x * y + y + 2
            init = tf.global_variables_initializer()
        return self._session(g, init), f

    def w1_run(self, d):
        sess, f = self._w1_graph()
        return Case(lambda: sess.run(f), lambda: sess.run(f))

    def w1_callable(self, d):
        sess, f = self._w1_graph()
        call = sess.make_callable(f)
        return Case(call, call)

    def w2_feed(self, d):
        tf = self.tf
        g = tf.Graph()
        with g.as_default():
            A = tf.placeholder(tf.float32, shape=(None, 3))
            B = A + 5
        sess = self._session(g)
        run = lambda: sess.run(B, feed_dict={A: d.feed_A})
        return Case(run, run)

    def _normal_equation(self, X, y):
        tf = self.tf
        XT = tf.transpose(X)
        return tf.matmul(tf.matmul(tf.matrix_inverse(tf.matmul(XT, X)), XT), y)

    def w3_const(self, d):
        tf = self.tf
        g = tf.Graph()
        with g.as_default():
            X = tf.constant(d.housing_X, dtype=tf.float32, name="X")
            y = tf.constant(d.housing_y, dtype=tf.float32, name="y")
            theta = self._normal_equation(X, y)
        sess = self._session(g)
        run = lambda: sess.run(theta)
        return Case(run, run)

    def w3_fed(self, d):
        tf = self.tf
        g = tf.Graph()
        with g.as_default():
            X = tf.placeholder(tf.float32, shape=(None, d.housing_X.shape[1]), name="X")
            y = tf.constant(d.housing_y, dtype=tf.float32, name="y")
            theta = self._normal_equation(X, y)
        sess = self._session(g)
        run = lambda: sess.run(theta, feed_dict={X: d.housing_X})
        return Case(run, run)

    def _linear_regression(self, X, y, theta0):
        tf = self.tf
        theta = tf.Variable(theta0, name="theta")
        y_pred = tf.matmul(X, theta, name="predictions")
        error = y_pred - y
        mse = tf.reduce_mean(tf.square(error), name="mse")
        optimizer = tf.train.GradientDescentOptimizer(learning_rate=LEARNING_RATE)
        return theta, optimizer.minimize(mse), tf.global_variables_initializer()

    def w4_gd(self, d):
        tf = self.tf
        g = tf.Graph()
        with g.as_default():
            X = tf.constant(d.scaled_X, dtype=tf.float32, name="X")
            y = tf.constant(d.housing_y, dtype=tf.float32, name="y")
            theta, training_op, init = self._linear_regression(X, y, d.theta0)
        sess = self._session(g)

        def train():
            sess.run(init)
            for _ in range(GD_STEPS):
                sess.run(training_op)

        return Case(train, lambda: sess.run(theta))

    def w5_minibatch(self, d):
        tf = self.tf
        g = tf.Graph()
        with g.as_default():
            X = tf.placeholder(tf.float32, shape=(None, d.scaled_X.shape[1]), name="X")
            y = tf.placeholder(tf.float32, shape=(None, 1), name="y")
            theta, training_op, init = self._linear_regression(X, y, d.theta0)
        sess = self._session(g)
        batches = list(zip(d.batch_X, d.batch_y))

        def train():
            sess.run(init)
            for X_batch, y_batch in batches:
                sess.run(training_op, feed_dict={X: X_batch, y: y_batch})

        return Case(train, lambda: sess.run(theta), per_call=len(batches))

    def _neuron_layer(self, X, W0, b0, name, activation=None):
        tf = self.tf
        with tf.name_scope(name):
            W = tf.Variable(W0, name="kernel")
            b = tf.Variable(b0, name="bias")
            Z = tf.matmul(X, W) + b
            return activation(Z) if activation is not None else Z

    def w6_mlp(self, d):
        tf = self.tf
        W1, b1, W2, b2, W3, b3 = d.mlp_params()
        g = tf.Graph()
        with g.as_default():
            X = tf.placeholder(tf.float32, shape=(None, W1.shape[0]), name="X")
            y = tf.placeholder(tf.int32, shape=(None,), name="y")
            with tf.name_scope("dnn"):
                hidden1 = self._neuron_layer(X, W1, b1, "hidden1", activation=tf.nn.relu)
                hidden2 = self._neuron_layer(hidden1, W2, b2, "hidden2", activation=tf.nn.relu)
                logits = self._neuron_layer(hidden2, W3, b3, "outputs")
            with tf.name_scope("loss"):
                xentropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
                loss = tf.reduce_mean(xentropy, name="loss")
            with tf.name_scope("train"):
                training_op = tf.train.GradientDescentOptimizer(LEARNING_RATE).minimize(loss)
            params = tf.trainable_variables()
            init = tf.global_variables_initializer()
        sess = self._session(g, init)
        x0, y0 = d.mlp_batch(0)
        step = lambda: sess.run(training_op, feed_dict={X: x0, y: y0})

        def answer():
            sess.run(init)
            for s in range(MLP_CHECK_STEPS):
                xb, yb = d.mlp_batch(s % MLP_BATCHES)
                sess.run(training_op, feed_dict={X: xb, y: yb})
            return sess.run(loss, feed_dict={X: x0, y: y0}), sess.run(params)

        return Case(step, answer)

    def _trained_net(self, sess, init, training_op, loss, feed):
        """Case: one training step; answer: the loss before and after nets.CHECK_STEPS steps."""

        def answer():
            sess.run(init)
            before = sess.run(loss, feed_dict=feed)
            for _ in range(nets.CHECK_STEPS):
                sess.run(training_op, feed_dict=feed)
            return before, sess.run(loss, feed_dict=feed)

        return Case(lambda: sess.run(training_op, feed_dict=feed), answer)

    def _batch_norm(self, z, name, momentum=0.9, epsilon=nets.BN_EPSILON):
        """What tf.layers.batch_normalization(training=True) builds, in plain ops (TF 2.21's tf.compat.v1 has
        no tf.layers without tf_keras): batch statistics, gamma/beta, moving averages updated in UPDATE_OPS."""
        tf = self.tf
        n = z.shape[-1]
        with tf.variable_scope(name):
            gamma = tf.get_variable("gamma", [n], initializer=tf.ones_initializer())
            beta = tf.get_variable("beta", [n], initializer=tf.zeros_initializer())
            moving_mean = tf.get_variable("moving_mean", [n], initializer=tf.zeros_initializer(), trainable=False)
            moving_var = tf.get_variable("moving_variance", [n], initializer=tf.ones_initializer(), trainable=False)
            mean, var = tf.nn.moments(z, [0])
            for moving, value in ((moving_mean, mean), (moving_var, var)):
                update = tf.assign_sub(moving, (moving - value) * (1.0 - momentum))
                tf.add_to_collection(tf.GraphKeys.UPDATE_OPS, update)
            return tf.nn.batch_normalization(z, mean, var, beta, gamma, epsilon)

    def w9_deep(self, d):
        """Chapter 11's deep net: dense (no bias: batch norm's beta is the shift) -> batch norm -> ELU, five
        times, then dense 10; Adam; the batch-norm update ops run with each step. Written with variables and
        tf.nn ops (the graph tf.layers would build), so TF 2.21 without tf_keras runs it too."""
        tf = self.tf
        params = nets.w9_params(d)
        hidden = len(nets.W9_SIZES) - 2
        g = tf.Graph()
        with g.as_default():
            X = tf.placeholder(tf.float32, shape=(None, nets.W9_SIZES[0]), name="X")
            y = tf.placeholder(tf.int32, shape=(None,), name="y")
            h = X
            for k in range(hidden):
                kernel = tf.Variable(params[k], name=f"hidden{k + 1}/kernel")
                h = tf.nn.elu(self._batch_norm(tf.matmul(h, kernel), f"batch_normalization_{k}"))
            kernel = tf.Variable(params[hidden], name="outputs/kernel")
            bias = tf.Variable(tf.zeros([10]), name="outputs/bias")
            logits = tf.matmul(h, kernel) + bias
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
            with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
                training_op = tf.train.AdamOptimizer(nets.ADAM[0]).minimize(loss)
            init = tf.global_variables_initializer()
        sess = self._session(g, init)
        return self._trained_net(sess, init, training_op, loss, {X: d.w9_x, y: d.w9_y})

    def w10_cnn(self, d):
        """conv 3x3x32 SAME + bias + relu, max-pool 2x2, dense 10, SGD (tf.nn ops: no tf.layers in TF 2.21)."""
        tf = self.tf
        K, _, W, _ = nets.w10_params(d)
        g = tf.Graph()
        with g.as_default():
            X = tf.placeholder(tf.float32, shape=(None, 28, 28, 1), name="X")
            y = tf.placeholder(tf.int32, shape=(None,), name="y")
            kernel = tf.Variable(K, name="conv2d/kernel")
            conv_bias = tf.Variable(tf.zeros([nets.W10_FILTERS]), name="conv2d/bias")
            conv = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(X, kernel, [1, 1, 1, 1], "SAME"), conv_bias))
            pool = tf.nn.max_pool(conv, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
            dense = tf.Variable(W, name="dense/kernel")
            dense_bias = tf.Variable(tf.zeros([10]), name="dense/bias")
            logits = tf.matmul(tf.reshape(pool, [-1, 14 * 14 * nets.W10_FILTERS]), dense) + dense_bias
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
            training_op = tf.train.GradientDescentOptimizer(nets.W10_LEARNING_RATE).minimize(loss)
            init = tf.global_variables_initializer()
        sess = self._session(g, init)
        return self._trained_net(sess, init, training_op, loss, {X: d.w10_x, y: d.w10_y})

    def w7_fused(self, d):
        tf = self.tf
        g = tf.Graph()
        with g.as_default():
            x = tf.placeholder(tf.float32, shape=(None,), name="x")
            out = tf.maximum(x * 1.5 + 0.5, 0) * 2.0 - x
        sess = self._session(g)
        run = lambda: sess.run(out, feed_dict={x: d.w7_x})
        return Case(run, run)

    def cases(self):
        names = ["w1_run", "w1_callable", "w2_feed", "w3_const", "w3_fed", "w4_gd", "w5_minibatch", "w6_mlp",
                 "w9_deep", "w10_cnn", "w7_fused"]
        return {name: getattr(self, name) for name in names}
