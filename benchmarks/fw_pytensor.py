"""PyTensor: the same programs as `pytensor.function`s (shared variables + updates for training).
The runner sets PYTENSOR_FLAGS=floatX=float32 so Python constants stay float32, as in TF."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt

from . import nets
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


def _xent(logits, y):
    return -pt.mean(pt.special.log_softmax(logits, axis=1)[pt.arange(y.shape[0]), y])


def _trained(params, fresh, step, loss_fn, x, labels, reset=()):
    """Case: one step; answer: the loss before and after nets.CHECK_STEPS steps (as tf1_programs)."""

    def answer():
        for p, p0 in zip(params, fresh()):
            p.set_value(p0.copy())
        for s in reset:
            s.set_value(np.zeros_like(s.get_value()))
        before = loss_fn(x, labels)
        for _ in range(nets.CHECK_STEPS):
            step(x, labels)
        return before, loss_fn(x, labels)

    return Case(lambda: step(x, labels), answer)


def w9_deep(d):
    params = [pytensor.shared(p.copy()) for p in nets.w9_params(d)]
    hidden = len(nets.W9_SIZES) - 2
    ws, bn, b_out = params[:hidden + 1], params[hidden + 1:-1], params[-1]
    X = pt.tensor("X", dtype="float32", shape=(None, nets.W9_SIZES[0]))
    y = pt.tensor("y", dtype="int64", shape=(None,))
    h = X
    for k in range(hidden):
        z = h @ ws[k]
        a = bn[2 * k] * (z - z.mean(0)) / pt.sqrt(z.var(0) + np.float32(nets.BN_EPSILON)) + bn[2 * k + 1]
        h = pt.switch(a > 0, a, pt.expm1(a))  # ELU
    loss = _xent(h @ ws[-1] + b_out, y)
    lr, b1, b2, eps = (np.float32(v) for v in nets.ADAM)
    t = pytensor.shared(np.float32(0))
    ms = [pytensor.shared(np.zeros_like(p.get_value())) for p in params]
    vs = [pytensor.shared(np.zeros_like(p.get_value())) for p in params]
    t1 = t + 1
    lr_t = lr * pt.sqrt(1 - b2 ** t1) / (1 - b1 ** t1)
    updates = [(t, t1)]
    for p, g, m, v in zip(params, pt.grad(loss, params), ms, vs):  # tf.train.AdamOptimizer's update
        m1, v1 = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        updates += [(m, m1), (v, v1), (p, p - lr_t * m1 / (pt.sqrt(v1) + eps))]
    step = pytensor.function([X, y], [], updates=updates)
    return _trained(params, lambda: nets.w9_params(d), step, pytensor.function([X, y], loss), d.w9_x, d.w9_y,
                    reset=[t, *ms, *vs])


def w10_cnn(d):
    """PyTensor 3 has no conv2d/pooling ops: conv 3x3 SAME as nine shifted slices times the kernel
    (im2col), max-pool 2x2 as a reshape and max (the numpy baseline's formulation)."""
    params = [pytensor.shared(p.copy()) for p in nets.w10_params(d)]
    k, bk, w, bw = params
    X = pt.tensor("X", dtype="float32", shape=(None, 28, 28, 1))
    y = pt.tensor("y", dtype="int64", shape=(None,))
    n, f = X.shape[0], nets.W10_FILTERS
    xp = pt.zeros((n, 30, 30, 1), dtype="float32")
    xp = pt.set_subtensor(xp[:, 1:29, 1:29, :], X)
    cols = pt.concatenate([xp[:, i:i + 28, j:j + 28, :] for i in range(3) for j in range(3)], axis=3)
    conv = (cols.reshape((n * 784, 9)) @ k.reshape((9, f)) + bk).reshape((n, 28, 28, f))
    pooled = pt.maximum(conv, 0).reshape((n, 14, 2, 14, 2, f)).max(axis=(2, 4))
    loss = _xent(pooled.reshape((n, 14 * 14 * f)) @ w + bw, y)
    lr = np.float32(nets.W10_LEARNING_RATE)
    step = pytensor.function([X, y], [], updates=[(p, p - lr * g) for p, g in zip(params, pt.grad(loss, params))])
    return _trained(params, lambda: nets.w10_params(d), step, pytensor.function([X, y], loss), d.w10_x, d.w10_y)


CASES = dict(w1_run=w1_run, w1_callable=w1_callable, w2_feed=w2_feed, w3_const=w3_const, w3_fed=w3_fed,
             w4_gd=w4_gd, w5_minibatch=w5_minibatch, w6_mlp=w6_mlp, w9_deep=w9_deep, w10_cnn=w10_cnn,
             w7_fused=w7_fused)
