"""The lecture's computations written once in numpy, for any dtype.

In float64 they are the oracle every framework's answer is checked against; in float32 they are the
numpy baseline (hand-derived gradients, since numpy has no autodiff).
"""

from __future__ import annotations

import numpy as np

from .data import GD_STEPS, LEARNING_RATE, MLP_BATCHES, MLP_CHECK_STEPS


def normal_equation(X, y):
    XT = X.T
    return np.linalg.inv(XT @ X) @ XT @ y


def mse(theta, X, y):
    error = X @ theta - y
    return np.mean(error * error)


def gd_step(theta, X, y, lr):
    """theta - lr * d/dtheta mean((X theta - y)^2)."""
    error = X @ theta - y
    grad = (2.0 / X.shape[0]) * (X.T @ error)
    return theta - lr * grad


def gd(theta0, X, y, steps=GD_STEPS, lr=LEARNING_RATE):
    theta = theta0.copy()
    lr = X.dtype.type(lr)
    for _ in range(steps):
        theta = gd_step(theta, X, y, lr)
    return theta


def minibatch(theta0, batch_X, batch_y, lr=LEARNING_RATE):
    theta = theta0.copy()
    lr = batch_X.dtype.type(lr)
    for xb, yb in zip(batch_X, batch_y):
        theta = gd_step(theta, xb, yb, lr)
    return theta


def mlp_forward(params, x):
    W1, b1, W2, b2, W3, b3 = params
    h1 = np.maximum(x @ W1 + b1, 0)
    h2 = np.maximum(h1 @ W2 + b2, 0)
    return h1, h2, h2 @ W3 + b3


def mlp_loss(params, x, labels):
    """mean(sparse_softmax_cross_entropy_with_logits(labels, logits))."""
    logits = mlp_forward(params, x)[2]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -np.mean(log_softmax[np.arange(len(labels)), labels])


def mlp_step(params, x, labels, lr=LEARNING_RATE):
    """One SGD step on the mean softmax cross-entropy; returns the new parameter list."""
    W1, b1, W2, b2, W3, b3 = params
    h1, h2, logits = mlp_forward(params, x)
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    d_logits = e / e.sum(axis=1, keepdims=True)
    d_logits[np.arange(len(labels)), labels] -= 1
    d_logits /= len(labels)
    d_h2 = (d_logits @ W3.T) * (h2 > 0)
    d_h1 = (d_h2 @ W2.T) * (h1 > 0)
    grads = [x.T @ d_h1, d_h1.sum(0), h1.T @ d_h2, d_h2.sum(0), h2.T @ d_logits, d_logits.sum(0)]
    lr = x.dtype.type(lr)
    return [p - lr * g for p, g in zip(params, grads)]


def mlp_train(params, data, steps=MLP_CHECK_STEPS):
    """The W6 answer: `steps` SGD steps cycling over the batches, then the loss on batch 0."""
    params = [p.copy() for p in params]
    for s in range(steps):
        params = mlp_step(params, *data.mlp_batch(s % MLP_BATCHES))
    return mlp_loss(params, *data.mlp_batch(0)), params


def references(data):
    """Float64 answers for the checks, computed from the float32 inputs every framework receives."""
    f64 = lambda a: np.asarray(a, dtype=np.float64)
    X, y = f64(data.housing_X), f64(data.housing_y)
    Xs = f64(data.scaled_X)
    theta_ne = np.linalg.lstsq(X, y, rcond=None)[0]
    theta_gd = gd(f64(data.theta0), Xs, y)
    theta_mb = minibatch(f64(data.theta0), f64(data.batch_X), f64(data.batch_y))
    params64 = [f64(p) for p in data.mlp_params()]
    mlp_loss64, mlp_params64 = mlp_train(params64, _F64Batches(data))
    from . import nets

    w9 = [f64(p) for p in nets.w9_params(data)]
    w10 = [f64(p) for p in nets.w10_params(data)]
    return dict(
        w9_loss0=nets.w9_loss_and_grads(w9, f64(data.w9_x), data.w9_y)[0],
        w10_loss0=nets.w10_loss_and_grads(w10, f64(data.w10_x), data.w10_y)[0],
        ne_theta=theta_ne, ne_mse=mse(theta_ne, X, y),
        gd_theta=theta_gd, gd_mse=mse(theta_gd, Xs, y),
        mb_theta=theta_mb, mb_mse=mse(theta_mb, Xs, y),
        mlp_loss=mlp_loss64, mlp_params=mlp_params64,
    )


class _F64Batches:
    def __init__(self, data):
        self._data = data

    def mlp_batch(self, k):
        x, labels = self._data.mlp_batch(k)
        return x.astype(np.float64), labels


def save_references(path, refs):
    import os

    flat = {k: v for k, v in refs.items() if k != "mlp_params"}
    flat.update({f"mlp_params_{i}": p for i, p in enumerate(refs["mlp_params"])})
    tmp = f"{path}.tmp.npz"
    np.savez(tmp, **flat)
    os.replace(tmp, path)


def load_references(path):
    with np.load(path) as z:
        refs = {k: z[k] for k in z.files if not k.startswith("mlp_params_")}
        refs["mlp_params"] = [z[f"mlp_params_{i}"] for i in range(sum(k.startswith("mlp_params_") for k in z.files))]
    return refs
