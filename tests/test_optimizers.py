"""tf.train optimizers: TF1's update formulas (numpy references of its training_ops kernels), slot
variables, names, global step, and one compiled program per training step."""


import housing as housing_data
import numpy as np
import pytest
from pygraph.codegen import toolchain

import pygraph as tf

STEPS = 10
THETA0 = np.array([[1.0, -2.0, 0.5], [0.25, -0.75, 1.5]], dtype=np.float32)
DATA = np.random.default_rng(7).uniform(-1, 1, (STEPS, 2, 3)).astype(np.float32)


def loss_and_grad():
    """loss = 0.5 (theta - x)^2 + 0.25 theta^4 summed (through the default grad_ys of ones); its
    gradient theta - x + theta^3 for the numpy references."""
    theta = tf.Variable(THETA0, name="theta")
    x = tf.placeholder(tf.float32, [2, 3], name="x")
    loss = 0.5 * tf.square(theta - x) + 0.25 * tf.square(tf.square(theta))
    return theta, x, loss, lambda th, xv: th - xv + th ** 3


def f32(v):
    return np.float32(v)


def ref_gd(grad, lr):
    th = THETA0.copy()
    for xv in DATA:
        th = th - grad(th, xv) * f32(lr)
    return th


def ref_momentum(grad, lr, momentum, nesterov):
    th, accum = THETA0.copy(), np.zeros_like(THETA0)
    lr, momentum = f32(lr), f32(momentum)
    for xv in DATA:
        g = grad(th, xv)
        accum = accum * momentum + g
        th = th - (g * lr + accum * momentum * lr if nesterov else accum * lr)
    return th


def ref_adam(grad, lr, b1, b2, eps):
    th, m, v = THETA0.copy(), np.zeros_like(THETA0), np.zeros_like(THETA0)
    lr, b1, b2, eps = f32(lr), f32(b1), f32(b2), f32(eps)
    b1p, b2p = b1, b2  # float32 accumulators, as TF1 keeps them
    for xv in DATA:
        g = grad(th, xv)
        alpha = lr * np.sqrt(f32(1) - b2p) / (f32(1) - b1p)
        m = m + (g - m) * (f32(1) - b1)
        v = v + (g * g - v) * (f32(1) - b2)
        th = th - m * alpha / (np.sqrt(v) + eps)
        b1p, b2p = b1p * b1, b2p * b2
    return th


def ref_adagrad(grad, lr, init):
    th, accum = THETA0.copy(), np.full_like(THETA0, init)
    for xv in DATA:
        g = grad(th, xv)
        accum = accum + g * g
        th = th - g * f32(lr) / np.sqrt(accum)
    return th


def ref_rmsprop(grad, lr, decay, momentum, eps, centered):
    th, ms, mg, mom = THETA0.copy(), np.ones_like(THETA0), np.zeros_like(THETA0), np.zeros_like(THETA0)
    lr, rho, momentum, eps = f32(lr), f32(decay), f32(momentum), f32(eps)
    for xv in DATA:
        g = grad(th, xv)
        ms = ms + (g * g - ms) * (f32(1) - rho)
        if centered:
            mg = mg + (g - mg) * (f32(1) - rho)
            denom = ms - mg * mg + eps
        else:
            denom = ms + eps
        mom = mom * momentum + g * lr / np.sqrt(denom)
        th = th - mom
    return th


CASES = {
    "gd": (lambda: tf.train.GradientDescentOptimizer(0.1), lambda g: ref_gd(g, 0.1)),
    "momentum": (lambda: tf.train.MomentumOptimizer(0.05, 0.9), lambda g: ref_momentum(g, 0.05, 0.9, False)),
    "nesterov": (lambda: tf.train.MomentumOptimizer(0.05, 0.9, use_nesterov=True),
                 lambda g: ref_momentum(g, 0.05, 0.9, True)),
    "adam": (lambda: tf.train.AdamOptimizer(0.1), lambda g: ref_adam(g, 0.1, 0.9, 0.999, 1e-8)),
    "adagrad": (lambda: tf.train.AdagradOptimizer(0.3), lambda g: ref_adagrad(g, 0.3, 0.1)),
    "rmsprop": (lambda: tf.train.RMSPropOptimizer(0.01, momentum=0.5),
                lambda g: ref_rmsprop(g, 0.01, 0.9, 0.5, 1e-10, False)),
    "rmsprop-centered": (lambda: tf.train.RMSPropOptimizer(0.01, decay=0.8, momentum=0.3, centered=True),
                         lambda g: ref_rmsprop(g, 0.01, 0.8, 0.3, 1e-10, True)),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_ten_steps_match_tf1_update_formulas(kind):
    make, reference = CASES[kind]
    theta, x, loss, grad = loss_and_grad()
    train = make().minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for xv in DATA:
            sess.run(train, {x: xv})
        got = sess.run(theta)
    np.testing.assert_allclose(got, reference(grad), rtol=1e-5, atol=1e-6)


SLOTS = [
    (lambda: tf.train.MomentumOptimizer(0.1, 0.9), {"momentum": "theta/Momentum"}, []),
    (lambda: tf.train.AdamOptimizer(), {"m": "theta/Adam", "v": "theta/Adam_1"}, ["beta1_power", "beta2_power"]),
    (lambda: tf.train.AdagradOptimizer(0.1), {"accumulator": "theta/Adagrad"}, []),
    (lambda: tf.train.RMSPropOptimizer(0.1), {"rms": "theta/RMSProp", "momentum": "theta/RMSProp_1"}, []),
    (lambda: tf.train.RMSPropOptimizer(0.1, centered=True),
     {"rms": "theta/RMSProp", "mg": "theta/RMSProp_1", "momentum": "theta/RMSProp_2"}, []),
]


@pytest.mark.parametrize("make,slots,non_slots", SLOTS, ids=["momentum", "adam", "adagrad", "rmsprop", "centered"])
def test_slot_variables_are_named_like_tf1_and_not_trainable(make, slots, non_slots):
    theta = tf.Variable(THETA0, name="theta")
    opt = make()
    opt.minimize(tf.square(theta))
    assert opt.get_slot_names() == sorted(slots)
    for slot_name, var_name in slots.items():
        slot = opt.get_slot(theta, slot_name)
        assert slot.op.name == var_name
        assert slot.dtype is tf.float32 and slot.shape.as_list() == [2, 3]
    assert [v.op.name for v in tf.trainable_variables()] == ["theta"]
    expected = sorted(non_slots + list(slots.values()))
    assert [v.op.name for v in opt.variables()] == expected
    assert sorted(v.op.name for v in tf.global_variables()) == sorted(["theta"] + expected)
    assert opt.get_slot(theta, "nonexistent") is None


def test_slots_start_at_tf1_initial_values():
    theta = tf.Variable(THETA0, name="theta")
    rms, ada = tf.train.RMSPropOptimizer(0.1), tf.train.AdagradOptimizer(0.1, initial_accumulator_value=0.25)
    rms.minimize(tf.square(theta))
    ada.minimize(tf.square(theta))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(rms.get_slot(theta, "rms")), np.ones((2, 3)))
        np.testing.assert_array_equal(sess.run(rms.get_slot(theta, "momentum")), np.zeros((2, 3)))
        np.testing.assert_array_equal(sess.run(ada.get_slot(theta, "accumulator")), np.full((2, 3), 0.25))


def test_train_op_names_and_global_step():
    theta, x, loss, _ = loss_and_grad()
    step = tf.train.get_or_create_global_step()
    assert tf.train.get_or_create_global_step() is step and tf.train.get_global_step() is step
    assert step.op.name == "global_step" and step.dtype is tf.int64 and not step.trainable
    assert tf.get_collection(tf.GraphKeys.GLOBAL_STEP) == [step]
    with pytest.raises(ValueError, match='"global_step" already exists'):
        tf.train.create_global_step()
    gd = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    assert gd.name == "GradientDescent" and gd.type == "NoOp"
    names = {op.name for op in tf.get_default_graph().get_operations()}
    assert "GradientDescent/update_theta/ApplyGradientDescent" in names
    adam = tf.train.AdamOptimizer(0.1).minimize(loss, global_step=step)
    assert adam.name == "Adam"  # the global-step increment, after the group "Adam/update"
    assert [c.name for c in adam.control_inputs] == ["Adam/update"]
    assert tf.get_collection(tf.GraphKeys.TRAIN_OP) == [gd, adam]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for xv in DATA[:3]:
            sess.run(adam, {x: xv})
        assert tf.train.global_step(sess, step) == 3
        before = sess.run(theta)
        sess.run(gd, {x: DATA[0]})
        assert tf.train.global_step(sess, step) == 3  # only minimize(global_step=...) increments it
        assert not np.array_equal(before, sess.run(theta))


def test_one_training_step_is_one_compiled_program():
    theta, x, loss, _ = loss_and_grad()
    train = tf.train.AdamOptimizer(0.1).minimize(loss, global_step=tf.train.get_or_create_global_step())
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {x: DATA[0]})  # compiles (and folds the constant-only hyperparameter math once)
        (plan, _), = [entry for key, entry in sess._plans.items() if key[0] is train]
        assert plan.host_steps is None  # gradients, slot and variable updates, global step: all compiled
        before = dict(toolchain.stats)
        for xv in DATA[1:]:
            sess.run(train, {x: xv})
        assert toolchain.stats == before  # each later step is one call of the same compiled kernel


def test_compute_and_apply_gradients_separately():
    theta, x, loss, grad = loss_and_grad()
    opt = tf.train.GradientDescentOptimizer(0.1)
    other = tf.Variable(1.0, name="other")
    pairs = opt.compute_gradients(loss)
    assert [v for _, v in pairs] == [theta, other] and pairs[1][0] is None
    clipped = [(tf.maximum(tf.minimum(g, 0.5), -0.5), v) for g, v in pairs if g is not None]
    train = opt.apply_gradients(clipped)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {x: DATA[0]})
        expected = THETA0 - f32(0.1) * np.clip(grad(THETA0, DATA[0]), -0.5, 0.5)
        np.testing.assert_allclose(sess.run(theta), expected, rtol=1e-6)


def test_optimizer_errors():
    theta = tf.Variable(THETA0, name="theta")
    opt = tf.train.GradientDescentOptimizer(0.1)
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        opt.minimize(tf.constant(1.0) * 2.0, var_list=[theta])
    with pytest.raises(ValueError, match="Invalid type tf.int32"):
        opt.minimize(tf.constant(1) * 2)
    with pytest.raises(ValueError, match="gate_gradients must be one of"):
        opt.compute_gradients(tf.square(theta), gate_gradients=7)
    with pytest.raises(ValueError, match="No variables provided"):
        opt.apply_gradients([])
    with pytest.raises(ValueError, match="initial_accumulator_value must be positive"):
        tf.train.AdagradOptimizer(0.1, initial_accumulator_value=0.0)
    with pytest.raises(ValueError, match="Must specify the optimizer name"):
        tf.train.Optimizer(False, "")


@pytest.fixture(scope="module")
def housing():
    """The lecture's scaled California housing data with a bias column (float32)."""
    features, target = housing_data.load()
    target = target.reshape(-1, 1)
    scaled = (features - features.mean(axis=0)) / features.std(axis=0)
    return np.c_[np.ones((len(features), 1)), scaled].astype(np.float32), target.astype(np.float32)


def _regression(X_data, y_data):
    X = tf.constant(X_data, dtype=tf.float32, name="X")
    y = tf.constant(y_data, dtype=tf.float32, name="y")
    theta = tf.Variable(tf.random_uniform([X_data.shape[1], 1], -1.0, 1.0, seed=42), name="theta")
    error = tf.matmul(X, theta, name="predictions") - y
    return X, theta, error, tf.reduce_mean(tf.square(error), name="mse")


def test_gradient_descent_optimizer_equals_the_manual_update():
    m = 200
    X_data = np.c_[np.ones((m, 1)), np.random.default_rng(0).normal(size=(m, 3))].astype(np.float32)
    y_data = (X_data @ [[0.5], [1.0], [-2.0], [0.25]]).astype(np.float32)
    X, theta, error, mse = _regression(X_data, y_data)
    manual_step = tf.assign(theta, theta - 0.1 * (2 / m * tf.matmul(tf.transpose(X), error)))
    optimizer_step = tf.train.GradientDescentOptimizer(0.1).minimize(mse)
    starts, thetas = [], []
    for step in (manual_step, optimizer_step):
        with tf.Session() as sess:  # a new session: the seeded initializer starts from the same values
            sess.run(tf.global_variables_initializer())
            starts.append(sess.run(theta))
            for _ in range(20):
                sess.run(step)
            thetas.append(sess.run(theta))
    np.testing.assert_array_equal(starts[0], starts[1])
    np.testing.assert_allclose(thetas[1], thetas[0], rtol=1e-5, atol=1e-5)
    assert np.abs(thetas[0] - starts[0]).max() > 0.1  # it did move


def test_momentum_beats_plain_gradient_descent_on_california_housing(housing):
    X_data, y_data = housing
    mses = {}
    for name, make in (("gd", lambda: tf.train.GradientDescentOptimizer(0.01)),
                       ("momentum", lambda: tf.train.MomentumOptimizer(0.01, 0.9))):
        with tf.Graph().as_default():
            _, _, _, mse = _regression(X_data, y_data)
            train = make().minimize(mse)
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                start = sess.run(mse)
                for _ in range(100):
                    sess.run(train)
                mses[name] = sess.run(mse)
        assert mses[name] < start
    assert mses["momentum"] < mses["gd"], mses
