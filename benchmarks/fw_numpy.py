"""numpy: the baseline.  No graph, no autodiff: the lecture's formulas and hand-derived gradients
(benchmarks/reference.py) evaluated eagerly in float32."""

from __future__ import annotations

import numpy as np

from . import nets, reference
from .case import Case, NotApplicable

NAME = "numpy"


def version():
    return np.__version__


def w1_run(d):
    x, y = np.float32(3), np.float32(4)

    def f():
        return x * x * y + y + 2

    return Case(f, f)


def w1_callable(d):
    raise NotApplicable("no graph to make a callable of")


def w2_feed(d):
    A = d.feed_A
    five = np.float32(5)
    fn = lambda: A + five
    return Case(fn, fn)


def w3(d):
    fn = lambda: reference.normal_equation(d.housing_X, d.housing_y)
    return Case(fn, fn)


def w4_gd(d):
    state = {}

    def train():
        state["theta"] = reference.gd(d.theta0, d.scaled_X, d.housing_y)

    return Case(train, lambda: state["theta"])


def w5_minibatch(d):
    state = {}

    def train():
        state["theta"] = reference.minibatch(d.theta0, d.batch_X, d.batch_y)

    return Case(train, lambda: state["theta"], per_call=len(d.batch_X))


def w6_mlp(d):
    params = [p.copy() for p in d.mlp_params()]
    x, labels = d.mlp_batch(0)

    def step():
        params[:] = reference.mlp_step(params, x, labels)

    return Case(step, lambda: reference.mlp_train(d.mlp_params(), d))


def w9_deep(d):
    params = [p.copy() for p in nets.w9_params(d)]
    state = nets.w9_new_state(params)

    def answer():
        ps = [p.copy() for p in nets.w9_params(d)]
        st = nets.w9_new_state(ps)
        before = nets.w9_loss_and_grads(ps, d.w9_x, d.w9_y)[0]
        for _ in range(nets.CHECK_STEPS):
            nets.w9_adam_step(ps, st, d.w9_x, d.w9_y)
        return before, nets.w9_loss_and_grads(ps, d.w9_x, d.w9_y)[0]

    return Case(lambda: nets.w9_adam_step(params, state, d.w9_x, d.w9_y), answer)


def w10_cnn(d):
    params = [p.copy() for p in nets.w10_params(d)]

    def answer():
        ps = [p.copy() for p in nets.w10_params(d)]
        before = nets.w10_loss_and_grads(ps, d.w10_x, d.w10_y)[0]
        for _ in range(nets.CHECK_STEPS):
            nets.w10_sgd_step(ps, d.w10_x, d.w10_y)
        return before, nets.w10_loss_and_grads(ps, d.w10_x, d.w10_y)[0]

    return Case(lambda: nets.w10_sgd_step(params, d.w10_x, d.w10_y), answer)


def w7_fused(d):
    x = d.w7_x
    a, b, c, z = np.float32(1.5), np.float32(0.5), np.float32(2.0), np.float32(0)
    fn = lambda: np.maximum(x * a + b, z) * c - x
    return Case(fn, fn)


def w7_floor(d):
    out = np.empty_like(d.w7_x)

    def copy():
        np.copyto(out, d.w7_x)
        return out

    return Case(copy, copy)


def w7_floor_new(d):
    """Every framework returns a fresh 40 MB array; its first touch (page faults) is part of the floor."""
    copy = d.w7_x.copy
    return Case(copy, copy)


CASES = dict(w1_run=w1_run, w1_callable=w1_callable, w2_feed=w2_feed, w3_const=w3, w3_fed=w3, w4_gd=w4_gd,
             w5_minibatch=w5_minibatch, w6_mlp=w6_mlp, w9_deep=w9_deep, w10_cnn=w10_cnn, w7_fused=w7_fused,
             w7_floor=w7_floor, w7_floor_new=w7_floor_new)
