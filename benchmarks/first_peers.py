"""first_compile's workloads in JAX and PyTensor, one per fresh process (run by benchmarks.first_compile):

    python -m benchmarks.first_peers jax|pytensor small|mlpN|w6|ch11

Prints what first_compile's TF1/pygraph child prints: first result (ms: initialization + building + the first
jit/`function` compile + the first training step, after `import`), nan, 0, nan, and the median of 20 steps
after it (ms). The nets are first_compile's: normal(0.1) weights, zero biases, batch 50, Adam or (w6)
gradient descent at 0.01; ch11 normalizes with the batch's statistics as tf.nn.moments does (as
fw_jax/fw_pytensor's W9).
"""

from __future__ import annotations

import sys
import time

import numpy as np

ADAM = (1e-3, 0.9, 0.999, 1e-8)


def spec(kind):
    """(input width, [(width, activation, batch norm)], loss, optimizer) of first_compile's nets."""
    if kind.startswith("mlp"):
        return 64, [(64, "relu", False)] * int(kind[3:]) + [(1, None, False)], "mse", "adam"
    if kind == "w6":
        return 784, [(300, "relu", False), (100, "relu", False), (10, None, False)], "xent", "sgd"
    return 784, [(100, "elu", True)] * 5 + [(10, None, False)], "xent", "adam"


def batch(kind, n_in):
    rng = np.random.RandomState(0)
    if kind.startswith("mlp"):
        return rng.randn(50, n_in).astype(np.float32), rng.randn(50, 1).astype(np.float32)
    return rng.rand(50, n_in).astype(np.float32), rng.randint(0, 10, 50).astype(np.int32)


def forward(m, params, x, layers, where):
    """The net's loss-free output with `m` = jax.numpy or pytensor.tensor."""
    h, it = x, iter(params)
    for _, act, bn in layers:
        z = h @ next(it) + next(it)
        if bn:  # tf.nn.moments + tf.nn.batch_normalization(offset=beta, scale=gamma, 1e-3)
            mean = z.mean(0)
            var = m.square(z - mean).mean(0)
            z = next(it) * (z - mean) / m.sqrt(var + np.float32(1e-3)) + next(it)
        h = m.maximum(z, 0) if act == "relu" else where(z > 0, z, m.expm1(z)) if act == "elu" else z
    return h


def loss_of(m, out, y, loss, log_softmax):
    if loss == "mse":
        return m.mean(m.square(out - y))
    return -m.mean(log_softmax(out)[m.arange(y.shape[0]), y])


def shapes(n_in, layers):
    out = []
    for width, _, bn in layers:
        out += [("w", (n_in, width)), ("0", (width,))] + ([("1", (width,)), ("0", (width,))] if bn else [])
        n_in = width
    return out


def adam(m, params, grads, state, t):
    lr, b1, b2, eps = (np.float32(v) for v in ADAM)
    t = t + 1
    lr_t = lr * m.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    ms = [b1 * a + (1 - b1) * g for a, g in zip(state[0], grads)]
    vs = [b2 * a + (1 - b2) * g * g for a, g in zip(state[1], grads)]
    return [p - lr_t * a / (m.sqrt(b) + eps) for p, a, b in zip(params, ms, vs)], (ms, vs), t


def jax_step(kind):
    import jax
    import jax.numpy as jnp

    if kind == "small":
        def small(x):
            h = x
            for _ in range(5):
                h = jnp.tanh(h * 0.9 + 0.1) - jnp.square(h) * 0.01
            return jnp.sum(h)
        f = jax.jit(small)
        x = np.ones((8, 16), np.float32)
        return lambda: jax.block_until_ready(f(x))
    n_in, layers, loss, opt = spec(kind)
    x, y = batch(kind, n_in)
    keys = iter(jax.random.split(jax.random.PRNGKey(0), 4 * len(layers)))
    fill = {"w": lambda s: 0.1 * jax.random.normal(next(keys), s), "0": jnp.zeros, "1": jnp.ones}
    params = [fill[k](s) for k, s in shapes(n_in, layers)]
    objective = lambda p, x, y: loss_of(jnp, forward(jnp, p, x, layers, jnp.where), y, loss,  # noqa: E731
                                        jax.nn.log_softmax)

    @jax.jit
    def step(state, x, y):
        params, moments, t = state
        value, grads = jax.value_and_grad(objective)(params, x, y)
        if opt == "sgd":
            return ([p - np.float32(0.01) * g for p, g in zip(params, grads)], moments, t), value
        return adam(jnp, params, grads, moments, t), value

    zeros = [jnp.zeros_like(p) for p in params]
    state = [(params, (zeros, zeros), jnp.float32(0))]

    def run():
        state[0], value = step(state[0], x, y)
        return jax.block_until_ready(value)
    return run


def pytensor_step(kind):
    import pytensor
    import pytensor.tensor as pt

    if kind == "small":
        x = pt.tensor("x", dtype="float32", shape=(None, 16))
        h = x
        for _ in range(5):
            h = pt.tanh(h * np.float32(0.9) + np.float32(0.1)) - pt.sqr(h) * np.float32(0.01)
        f = pytensor.function([x], pt.sum(h))
        return lambda: f(np.ones((8, 16), np.float32))
    n_in, layers, loss, opt = spec(kind)
    xv, yv = batch(kind, n_in)
    rng = np.random.RandomState(1)
    fill = {"w": lambda s: (0.1 * rng.randn(*s)).astype(np.float32), "0": lambda s: np.zeros(s, np.float32),
            "1": lambda s: np.ones(s, np.float32)}
    params = [pytensor.shared(fill[k](s)) for k, s in shapes(n_in, layers)]
    x = pt.tensor("x", dtype="float32", shape=(None, n_in))
    y = pt.tensor("y", dtype="float32", shape=(None, 1)) if loss == "mse" else pt.tensor("y", dtype="int32",
                                                                                           shape=(None,))
    objective = loss_of(pt, forward(pt, params, x, layers, pt.where), y, loss, pt.special.log_softmax)
    grads = pytensor.grad(objective, params)
    if opt == "sgd":
        updates = [(p, p - np.float32(0.01) * g) for p, g in zip(params, grads)]
    else:
        moments = [[pytensor.shared(np.zeros_like(p.get_value())) for p in params] for _ in range(2)]
        t = pytensor.shared(np.float32(0))
        new, (ms, vs), t1 = adam(pt, params, grads, moments, t)
        updates = list(zip(params, new)) + list(zip(moments[0], ms)) + list(zip(moments[1], vs)) + [(t, t1)]
    f = pytensor.function([x, y], objective, updates=updates)
    return lambda: f(xv, yv)


def main(framework, kind):
    __import__("jax.numpy" if framework == "jax" else "pytensor.tensor")  # import is not timed (as TF's)
    t0 = time.perf_counter()
    run = (jax_step if framework == "jax" else pytensor_step)(kind)
    value = run()
    first = time.perf_counter() - t0
    assert np.isfinite(value)
    after = []
    for _ in range(20):
        t = time.perf_counter()
        run()
        after.append(time.perf_counter() - t)
    print(f"{first * 1e3:.1f} nan 0 nan {sorted(after)[10] * 1e3:.3f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
