"""PyTensor: the same programs as `pytensor.function`s (shared variables + updates for training).
The runner sets PYTENSOR_FLAGS=floatX=float32 so Python constants stay float32, as in TF."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt

from .case import Case
from .data import GD_STEPS, LEARNING_RATE, MLP_BATCHES, MLP_CHECK_STEPS

NAME = "pytensor"
LR = np.float32(LEARNING_RATE)


def version():
    return pytensor.__version__


def runtime_info():
    c = pytensor.config
    return dict(floatX=c.floatX, mode=str(c.mode), linker=str(c.linker), cxx=c.cxx, openmp=c.openmp,
                blas__ldflags=c.blas__ldflags or "(empty: BLAS through NumPy's C API)", compiledir=c.compiledir)


def _w1():
    x = pytensor.shared(np.float32(3), name="x")
    y = pytensor.shared(np.float32(4), name="y")
    return pytensor.function([], x * x * y + y + 2)


def w1_run(d):
    fn = _w1()
    return Case(fn, fn)


def w1_callable(d):
    fn = _w1()
    fn.trust_input = True  # PyTensor's way to skip per-call input checks, like make_callable
    return Case(fn, fn)


def w2_feed(d):
    A = pt.tensor("A", dtype="float32", shape=(None, 3))
    fn = pytensor.function([A], A + 5)
    run = lambda: fn(d.feed_A)
    return Case(run, run)


def _normal_equation(X, y):
    XT = X.T
    return pt.linalg.inv(XT @ X) @ XT @ y


def w3_const(d):
    fn = pytensor.function([], _normal_equation(pt.constant(d.housing_X), pt.constant(d.housing_y)))
    return Case(fn, fn)


def w3_fed(d):
    X = pt.tensor("X", dtype="float32", shape=(None, d.housing_X.shape[1]))
    fn = pytensor.function([X], _normal_equation(X, pt.constant(d.housing_y)))
    run = lambda: fn(d.housing_X)
    return Case(run, run)


def _sgd(loss, params):
    return [(p, p - LR * g) for p, g in zip(params, pytensor.grad(loss, params))]


def _linear_regression(X, y, d):
    theta = pytensor.shared(d.theta0.copy(), name="theta")
    mse = pt.mean(pt.sqr(X @ theta - y))
    return theta, _sgd(mse, [theta])


def w4_gd(d):
    theta, updates = _linear_regression(pt.constant(d.scaled_X), pt.constant(d.housing_y), d)
    step = pytensor.function([], [], updates=updates)

    def train():
        theta.set_value(d.theta0.copy())
        for _ in range(GD_STEPS):
            step()

    return Case(train, theta.get_value)


def w5_minibatch(d):
    X = pt.tensor("X", dtype="float32", shape=(None, d.scaled_X.shape[1]))
    y = pt.tensor("y", dtype="float32", shape=(None, 1))
    theta, updates = _linear_regression(X, y, d)
    step = pytensor.function([X, y], [], updates=updates)
    batches = list(zip(d.batch_X, d.batch_y))

    def train():
        theta.set_value(d.theta0.copy())
        for X_batch, y_batch in batches:
            step(X_batch, y_batch)

    return Case(train, theta.get_value, per_call=len(batches))


def w6_mlp(d):
    params = [pytensor.shared(p.copy()) for p in d.mlp_params()]
    W1, b1, W2, b2, W3, b3 = params
    X = pt.tensor("X", dtype="float32", shape=(None, d.mlp_x.shape[1]))
    y = pt.tensor("y", dtype="int32", shape=(None,))
    hidden1 = pt.maximum(X @ W1 + b1, 0)
    hidden2 = pt.maximum(hidden1 @ W2 + b2, 0)
    logits = hidden2 @ W3 + b3
    loss = -pt.mean(pt.special.log_softmax(logits, axis=1)[pt.arange(y.shape[0]), y])
    step = pytensor.function([X, y], [], updates=_sgd(loss, params))
    loss_fn = pytensor.function([X, y], loss)
    x0, y0 = d.mlp_batch(0)

    def answer():
        for p, p0 in zip(params, d.mlp_params()):
            p.set_value(p0.copy())
        for s in range(MLP_CHECK_STEPS):
            step(*d.mlp_batch(s % MLP_BATCHES))
        return loss_fn(x0, y0), [p.get_value() for p in params]

    return Case(lambda: step(x0, y0), answer)


def w7_fused(d):
    x = pt.tensor("x", dtype="float32", shape=(None,))
    fn = pytensor.function([x], pt.maximum(x * 1.5 + 0.5, 0) * 2.0 - x)
    run = lambda: fn(d.w7_x)
    return Case(run, run)


CASES = dict(w1_run=w1_run, w1_callable=w1_callable, w2_feed=w2_feed, w3_const=w3_const, w3_fed=w3_fed,
             w4_gd=w4_gd, w5_minibatch=w5_minibatch, w6_mlp=w6_mlp, w7_fused=w7_fused)
