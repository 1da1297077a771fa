"""JAX: the same programs as `jax.jit` functions; every timed call ends in `block_until_ready` (training
loops block once at the end, as a JAX user writes them).  Fed inputs are passed as numpy arrays each
call (the analogue of feed_dict); tf.constant inputs are closed over, so XLA sees constants."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from .case import Case
from .data import GD_STEPS, LEARNING_RATE, MLP_BATCHES, MLP_CHECK_STEPS

NAME = "jax"


def version():
    return jax.__version__


def runtime_info():
    return dict(backend=jax.default_backend(), devices=str(jax.devices()), xla_flags=os.environ.get("XLA_FLAGS", ""))


def _block(fn):
    return lambda *a: jax.block_until_ready(fn(*a))


def _w1():
    f = jax.jit(lambda x, y: x * x * y + y + 2)
    return f, jnp.asarray(3.0, dtype=jnp.float32), jnp.asarray(4.0, dtype=jnp.float32)


def w1_run(d):
    f, x, y = _w1()
    run = lambda: f(x, y).block_until_ready()
    return Case(run, run)


def w1_callable(d):
    f, x, y = _w1()
    compiled = f.lower(x, y).compile()  # the ahead-of-time compiled executable: no dispatch-cache lookup
    run = lambda: compiled(x, y).block_until_ready()
    return Case(run, run)


def w2_feed(d):
    f = jax.jit(lambda A: A + 5)
    run = lambda: np.asarray(f(d.feed_A).block_until_ready())
    return Case(run, run)


def _normal_equation(X, y):
    XT = X.T
    return jnp.linalg.inv(XT @ X) @ XT @ y


def w3_const(d):
    X, y = jnp.asarray(d.housing_X), jnp.asarray(d.housing_y)
    f = _block(jax.jit(lambda: _normal_equation(X, y)))
    return Case(f, f)


def w3_fed(d):
    y = jnp.asarray(d.housing_y)
    f = _block(jax.jit(lambda X: _normal_equation(X, y)))
    run = lambda: f(d.housing_X)
    return Case(run, run)


def _mse(theta, X, y):
    return jnp.mean(jnp.square(X @ theta - y))


def _sgd_step(loss):
    grad = jax.grad(loss)
    return jax.jit(lambda params, *args: jax.tree.map(lambda p, g: p - LEARNING_RATE * g, params, grad(params, *args)))


def w4_gd(d):
    X, y = jnp.asarray(d.scaled_X), jnp.asarray(d.housing_y)
    step = _sgd_step(lambda theta: _mse(theta, X, y))
    state = {}

    def train():
        theta = jnp.asarray(d.theta0)
        for _ in range(GD_STEPS):
            theta = step(theta)
        state["theta"] = theta.block_until_ready()

    return Case(train, lambda: np.asarray(state["theta"]))


def w5_minibatch(d):
    step = _sgd_step(_mse)
    batches = list(zip(d.batch_X, d.batch_y))
    state = {}

    def train():
        theta = jnp.asarray(d.theta0)
        for X_batch, y_batch in batches:
            theta = step(theta, X_batch, y_batch)
        state["theta"] = theta.block_until_ready()

    return Case(train, lambda: np.asarray(state["theta"]), per_call=len(batches))


def _mlp_loss(params, x, labels):
    W1, b1, W2, b2, W3, b3 = params
    hidden1 = jax.nn.relu(x @ W1 + b1)
    hidden2 = jax.nn.relu(hidden1 @ W2 + b2)
    logits = hidden2 @ W3 + b3
    log_p = jax.nn.log_softmax(logits, axis=1)
    return -jnp.mean(jnp.take_along_axis(log_p, labels[:, None], axis=1))


def w6_mlp(d):
    step = _sgd_step(_mlp_loss)
    loss = jax.jit(_mlp_loss)
    x0, y0 = d.mlp_batch(0)
    state = {"params": [jnp.asarray(p) for p in d.mlp_params()]}

    def run():
        state["params"] = jax.block_until_ready(step(state["params"], x0, y0))

    def answer():
        params = [jnp.asarray(p) for p in d.mlp_params()]
        for s in range(MLP_CHECK_STEPS):
            params = step(params, *d.mlp_batch(s % MLP_BATCHES))
        return float(loss(params, x0, y0)), [np.asarray(p) for p in params]

    return Case(run, answer)


def w7_fused(d):
    f = jax.jit(lambda x: jnp.maximum(x * 1.5 + 0.5, 0) * 2.0 - x)
    x = jax.device_put(d.w7_x)  # resident once, as a variable would be; the call reads it in place
    run = lambda: f(x).block_until_ready()
    return Case(run, lambda: np.asarray(run()))


CASES = dict(w1_run=w1_run, w1_callable=w1_callable, w2_feed=w2_feed, w3_const=w3_const, w3_fed=w3_fed,
             w4_gd=w4_gd, w5_minibatch=w5_minibatch, w6_mlp=w6_mlp, w7_fused=w7_fused)
