"""check_gradient: tf.gradients against central finite differences in float64.

One compiled program serves every perturbation: the inputs and the output weights are placeholders,
and every run fetches the same tensors.
"""

from __future__ import annotations

import numpy as np

import pygraph as tf


def check_gradient(build, inputs, shapes=None, eps=1e-6, rtol=1e-5, atol=1e-7, seed=0):
    """`build(*xs)` returns a tensor or a list of tensors ys over float64 placeholders xs fed with
    `inputs` (placeholder shapes: `shapes`, None dims allowed; default the arrays' shapes).

    Checks tf.gradients(ys, xs, grad_ys=W) (W random, fed) against central differences of
    L = sum_k sum(W_k * ys_k). A None gradient must have a zero numerical gradient. Returns the list
    of analytic gradients (numpy arrays, or None where tf.gradients gave None).
    """
    rng = np.random.default_rng(seed)
    inputs = [np.asarray(a, dtype=np.float64) for a in inputs]
    shapes = shapes or [a.shape for a in inputs]
    g = tf.Graph()
    with g.as_default():
        xs = [tf.placeholder(tf.float64, s, name=f"x{i}") for i, s in enumerate(shapes)]
        ys = build(*xs)
        ys = list(ys) if isinstance(ys, (list, tuple)) else [ys]
        ws = [tf.placeholder(y.dtype, y.shape, name=f"w{k}") for k, y in enumerate(ys)]
        grads = tf.gradients(ys, xs, grad_ys=ws)
        present = [gr for gr in grads if gr is not None]
        with tf.Session(graph=g) as sess:
            base = dict(zip(xs, inputs))
            y_shapes = [tuple(y.shape.as_list()) if y.shape.is_fully_defined() else None for y in ys]
            if None in y_shapes:  # learn the run-time shapes once (a second, smaller program)
                y_shapes = [np.shape(v) for v in sess.run(ys, base)]
            w_vals = [rng.uniform(-1, 1, s) for s in y_shapes]
            program = sess.make_callable(ys + present, feed_list=xs + ws)

            def run(values):
                out = program(*values, *w_vals)
                loss = sum(float(np.sum(w * y)) for w, y in zip(w_vals, out[:len(ys)]))
                return loss, out[len(ys):]

            _, analytic_present = run(inputs)
            analytic = iter(analytic_present)
            results = [None if gr is None else next(analytic) for gr in grads]
            for i in range(len(xs)):
                numeric = np.zeros_like(inputs[i])
                for j in np.ndindex(inputs[i].shape):
                    h = eps * max(1.0, abs(inputs[i][j]))
                    plus, minus = list(inputs), list(inputs)
                    plus[i], minus[i] = inputs[i].copy(), inputs[i].copy()
                    plus[i][j] += h
                    minus[i][j] -= h
                    numeric[j] = (run(plus)[0] - run(minus)[0]) / (2 * h)
                if results[i] is None:
                    np.testing.assert_allclose(numeric, 0, atol=atol, err_msg=f"input {i}: None gradient, but "
                                               "the numerical gradient is not zero")
                else:
                    assert np.shape(results[i]) == inputs[i].shape, (i, np.shape(results[i]), inputs[i].shape)
                    np.testing.assert_allclose(results[i], numeric, rtol=rtol, atol=atol, err_msg=f"input {i}")
    return results
