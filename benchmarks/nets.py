"""W9 (chapter 11's deep net: 5 x 100 ELU + batch norm, He init, Adam, batch 50) and W10 (a small CNN: conv
3x3x32 SAME + relu, max-pool 2x2, dense 10 on 28x28x1, batch 64, SGD): inputs, numpy forward passes in any
dtype (the float64 oracle of the checks: the framework's loss before training), and the float32 numpy
baseline's hand-derived training steps."""

from __future__ import annotations

import numpy as np

W9_SIZES = (784, 100, 100, 100, 100, 100, 10)
W9_BATCH = 50
W10_BATCH = 64
W10_FILTERS = 32
BN_EPSILON = 1e-3  # tf.layers.batch_normalization's default
ADAM = (0.001, 0.9, 0.999, 1e-8)  # tf.train.AdamOptimizer's defaults
W10_LEARNING_RATE = 0.01
CHECK_STEPS = 5  # the answer: the loss before and after this many steps on the same batch


def prepare(rng, truncated_normal):
    """The W9/W10 arrays (float64; data.prepare stores them as float32): He-initialised weights."""
    out = dict(w9_x=rng.uniform(0.0, 1.0, (W9_BATCH, W9_SIZES[0])), w9_y=rng.integers(0, 10, W9_BATCH))
    for i, (fan_in, fan_out) in enumerate(zip(W9_SIZES[:-1], W9_SIZES[1:]), start=1):
        out[f"w9_W{i}"] = truncated_normal(rng, (fan_in, fan_out), np.sqrt(2.0 / fan_in))
    out.update(w10_x=rng.uniform(0.0, 1.0, (W10_BATCH, 28, 28, 1)), w10_y=rng.integers(0, 10, W10_BATCH),
               w10_K=truncated_normal(rng, (3, 3, 1, W10_FILTERS), np.sqrt(2.0 / 9)),
               w10_W=truncated_normal(rng, (14 * 14 * W10_FILTERS, 10), np.sqrt(2.0 / (14 * 14 * W10_FILTERS))))
    return out


def _xent(logits, labels):
    """(mean sparse softmax cross-entropy, its gradient wrt the logits)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    p = e / e.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(len(labels)), labels]))
    p[np.arange(len(labels)), labels] -= 1
    return loss, p / len(labels)


# ---- W9: [dense (no bias) -> batch norm (training) -> ELU] x 5 -> dense 10 ----

def w9_params(d):
    """kernels W1..W6 and the layer biases/BN parameters: beta (zeros) and gamma (ones) per hidden layer,
    the output bias (zeros)."""
    ws = [getattr(d, f"w9_W{i}") for i in range(1, len(W9_SIZES))]
    dt = ws[0].dtype
    extra = []
    for n in W9_SIZES[1:-1]:
        extra += [np.ones(n, dt), np.zeros(n, dt)]  # gamma, beta
    return ws + extra + [np.zeros(W9_SIZES[-1], dt)]


def w9_loss_and_grads(params, x, labels):
    hidden = len(W9_SIZES) - 2
    ws, bn, b_out = params[:hidden + 1], params[hidden + 1:-1], params[-1]
    one, eps = x.dtype.type(1), x.dtype.type(BN_EPSILON)
    cache, h = [], x
    for k in range(hidden):
        z = h @ ws[k]
        mean, var = z.mean(0), z.var(0)
        inv = one / np.sqrt(var + eps)
        xhat = (z - mean) * inv
        a = bn[2 * k] * xhat + bn[2 * k + 1]
        out = np.where(a > 0, a, np.exp(np.minimum(a, 0)) - one)
        cache.append((h, xhat, inv, a, out))
        h = out
    loss, g = _xent(h @ ws[-1] + b_out, labels)
    grads_w = [None] * (hidden + 1)
    grads_bn = [None] * (2 * hidden)
    grads_w[-1], g_bout = h.T @ g, g.sum(0)
    g = g @ ws[-1].T
    n = x.dtype.type(x.shape[0])
    for k in reversed(range(hidden)):
        h_in, xhat, inv, a, out = cache[k]
        g = g * np.where(a > 0, one, out + one)
        grads_bn[2 * k], grads_bn[2 * k + 1] = (g * xhat).sum(0), g.sum(0)
        gx = g * bn[2 * k]
        gz = inv / n * (n * gx - gx.sum(0) - xhat * (gx * xhat).sum(0))
        grads_w[k] = h_in.T @ gz
        g = gz @ ws[k].T
    return loss, grads_w + grads_bn + [g_bout]


def w9_adam_step(params, state, x, labels):
    """One Adam step in place; state = [t, m..., v...]."""
    lr, b1, b2, eps = (x.dtype.type(v) for v in ADAM)
    _, grads = w9_loss_and_grads(params, x, labels)
    state[0] += 1
    t = state[0]
    m, v = state[1], state[2]
    lr_t = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    for i, g in enumerate(grads):
        m[i] = b1 * m[i] + (1 - b1) * g
        v[i] = b2 * v[i] + (1 - b2) * g * g
        params[i] = params[i] - lr_t * m[i] / (np.sqrt(v[i]) + eps)


def w9_new_state(params):
    return [0, [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params]]


# ---- W10: conv 3x3x32 SAME + bias + relu -> max-pool 2x2 -> dense 10 ----

def w10_params(d):
    dt = d.w10_K.dtype
    return [d.w10_K, np.zeros(W10_FILTERS, dt), d.w10_W, np.zeros(10, dt)]


def _im2col_same3(x):
    n, h, w, c = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    return np.stack([xp[:, i:i + h, j:j + w, :] for i in range(3) for j in range(3)], axis=3).reshape(n * h * w,
                                                                                                        9 * c)


def w10_loss_and_grads(params, x, labels):
    k, bk, w, bw = params
    n = x.shape[0]
    cols = _im2col_same3(x)
    conv = (cols @ k.reshape(-1, W10_FILTERS) + bk).reshape(n, 28, 28, W10_FILTERS)
    act = np.maximum(conv, 0)
    win = act.reshape(n, 14, 2, 14, 2, W10_FILTERS)
    pooled = win.max(axis=(2, 4))
    loss, g = _xent(pooled.reshape(n, -1) @ w + bw, labels)
    gw, gbw = pooled.reshape(n, -1).T @ g, g.sum(0)
    gp = (g @ w.T).reshape(n, 14, 1, 14, 1, W10_FILTERS)
    # the gradient goes to the first maximum of each window (TF's MaxPoolGrad)
    flat = win.transpose(0, 1, 3, 5, 2, 4).reshape(n, 14, 14, W10_FILTERS, 4)
    first = (np.arange(4) == flat.argmax(-1)[..., None]).reshape(n, 14, 14, W10_FILTERS, 2, 2)
    gact = (first.transpose(0, 1, 4, 2, 5, 3) * gp).reshape(n, 28, 28, W10_FILTERS) * (conv > 0)
    gflat = gact.reshape(-1, W10_FILTERS)
    return loss, [(cols.T @ gflat).reshape(k.shape), gflat.sum(0), gw, gbw]


def w10_sgd_step(params, x, labels):
    lr = x.dtype.type(W10_LEARNING_RATE)
    _, grads = w10_loss_and_grads(params, x, labels)
    params[:] = [p - lr * g for p, g in zip(params, grads)]
