"""JAX: the same programs as `jax.jit` functions; every timed call ends in `block_until_ready` (training
loops block once at the end, as a JAX user writes them).  Fed inputs are passed as numpy arrays each
call (the analogue of feed_dict); tf.constant inputs are closed over, so XLA sees constants."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from . import nets
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


def _xent(logits, labels):
    log_p = jax.nn.log_softmax(logits, axis=1)
    return -jnp.mean(jnp.take_along_axis(log_p, labels[:, None], axis=1))


def _w9_loss(params, x, labels):
    """nets.w9_loss_and_grads' forward pass: dense (no bias) -> batch norm (batch statistics) -> ELU."""
    hidden = len(nets.W9_SIZES) - 2
    ws, bn, b_out = params[:hidden + 1], params[hidden + 1:-1], params[-1]
    h = x
    for k in range(hidden):
        z = h @ ws[k]
        mean, var = z.mean(0), z.var(0)
        h = jax.nn.elu(bn[2 * k] * (z - mean) / jnp.sqrt(var + nets.BN_EPSILON) + bn[2 * k + 1])
    return _xent(h @ ws[-1] + b_out, labels)


def _trained(step, loss, init, x, labels):
    """Case: one step; answer: the loss before and after nets.CHECK_STEPS steps (as tf1_programs)."""
    state = {"s": init()}

    def run():
        state["s"] = jax.block_until_ready(step(state["s"], x, labels))

    def answer():
        s = init()
        before = float(loss(s[0], x, labels))
        for _ in range(nets.CHECK_STEPS):
            s = step(s, x, labels)
        return np.float32(before), np.float32(loss(s[0], x, labels))

    return Case(run, answer)


def w9_deep(d):
    lr, b1, b2, eps = nets.ADAM
    grad = jax.grad(_w9_loss)

    @jax.jit
    def step(state, x, labels):  # tf.train.AdamOptimizer's update
        params, m, v, t = state
        g = grad(params, x, labels)
        t = t + 1
        lr_t = lr * jnp.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        m = [b1 * a + (1 - b1) * b for a, b in zip(m, g)]
        v = [b2 * a + (1 - b2) * b * b for a, b in zip(v, g)]
        params = [p - lr_t * a / (jnp.sqrt(b) + eps) for p, a, b in zip(params, m, v)]
        return params, m, v, t

    def init():
        params = [jnp.asarray(p) for p in nets.w9_params(d)]
        return params, [jnp.zeros_like(p) for p in params], [jnp.zeros_like(p) for p in params], jnp.float32(0)

    return _trained(step, jax.jit(_w9_loss), init, d.w9_x, d.w9_y)


def _w10_loss(params, x, labels):
    k, bk, w, bw = params
    conv = jax.lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    act = jax.nn.relu(conv + bk)
    pooled = jax.lax.reduce_window(act, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    return _xent(pooled.reshape(x.shape[0], -1) @ w + bw, labels)


def w10_cnn(d):
    grad = jax.grad(_w10_loss)
    lr = nets.W10_LEARNING_RATE
    step = jax.jit(lambda s, x, labels: ([p - lr * g for p, g in zip(s[0], grad(s[0], x, labels))],))
    init = lambda: ([jnp.asarray(p) for p in nets.w10_params(d)],)
    return _trained(step, jax.jit(_w10_loss), init, d.w10_x, d.w10_y)


CASES = dict(w1_run=w1_run, w1_callable=w1_callable, w2_feed=w2_feed, w3_const=w3_const, w3_fed=w3_fed,
             w4_gd=w4_gd, w5_minibatch=w5_minibatch, w6_mlp=w6_mlp, w9_deep=w9_deep, w10_cnn=w10_cnn,
             w7_fused=w7_fused)
