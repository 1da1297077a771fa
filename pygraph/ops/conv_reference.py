"""numpy references of the convolution and pooling gradients (Conv2DBackpropInput/Filter, MaxPoolGrad,
AvgPoolGrad): the semantics the compiled kernels (codegen/templates/conv.h.j2) implement, for the tests and
the interpreter tier. Windows and padding are conv.py's (TF's SAME/VALID rules)."""

from __future__ import annotations

import numpy as np

from .conv import out_size, pad_before


def _geometry(h, w, kh, kw, sh, sw, padding):
    oh, ow = out_size(h, kh, sh, padding), out_size(w, kw, sw, padding)
    return oh, ow, pad_before(h, kh, sh, oh, padding), pad_before(w, kw, sw, ow, padding)


def _padded(n, h, w, c, kh, kw, sh, sw, oh, ow, pt, pl, dtype):
    """A zero array covering the input plus its padding on every side any window reaches."""
    return np.zeros((n, max(pt + h, (oh - 1) * sh + kh), max(pl + w, (ow - 1) * sw + kw), c), dtype)


def np_conv2d_backprop_input(sizes, f, dy, strides, padding):
    n, h, w, c = (int(s) for s in sizes)
    kh, kw = f.shape[0], f.shape[1]
    sh, sw = strides[1], strides[2]
    oh, ow, pt, pl = _geometry(h, w, kh, kw, sh, sw, padding)
    dxp = _padded(n, h, w, c, kh, kw, sh, sw, oh, ow, pt, pl, dy.dtype)
    for i in range(kh):
        for j in range(kw):  # each filter tap sends dy back through its transposed weights
            dxp[:, i:i + (oh - 1) * sh + 1:sh, j:j + (ow - 1) * sw + 1:sw, :] += np.tensordot(dy, f[i, j], ([3], [1]))
    return dxp[:, pt:pt + h, pl:pl + w, :].astype(dy.dtype)


def np_conv2d_backprop_filter(x, sizes, dy, strides, padding):
    kh, kw, c, k = (int(s) for s in sizes)
    n, h, w, _ = x.shape
    sh, sw = strides[1], strides[2]
    oh, ow, pt, pl = _geometry(h, w, kh, kw, sh, sw, padding)
    xp = _padded(n, h, w, c, kh, kw, sh, sw, oh, ow, pt, pl, x.dtype)
    xp[:, pt:pt + h, pl:pl + w, :] = x
    df = np.empty((kh, kw, c, k), dy.dtype)
    for i in range(kh):
        for j in range(kw):
            df[i, j] = np.tensordot(xp[:, i:i + (oh - 1) * sh + 1:sh, j:j + (ow - 1) * sw + 1:sw, :], dy,
                                    ([0, 1, 2], [0, 1, 2]))
    return df


def _windows_clipped(h, w, kh, kw, sh, sw, padding):
    """Per output cell (y, x): the input rows y0:y1 and columns x0:x1 its window covers (padding clipped)."""
    oh, ow, pt, pl = _geometry(h, w, kh, kw, sh, sw, padding)
    for y in range(oh):
        y0, y1 = max(0, y * sh - pt), min(h, y * sh - pt + kh)
        for xo in range(ow):
            x0, x1 = max(0, xo * sw - pl), min(w, xo * sw - pl + kw)
            if y0 < y1 and x0 < x1:
                yield y, xo, y0, y1, x0, x1


def np_max_pool_grad(x, _y, dy, ksize, strides, padding):
    """Each gradient goes to the first maximum of its window in row-major order (TF's rule)."""
    n, h, w, c = x.shape
    dx = np.zeros_like(x)
    rows = np.arange(n)[:, None]
    chans = np.arange(c)[None, :]
    for y, xo, y0, y1, x0, x1 in _windows_clipped(h, w, ksize[1], ksize[2], strides[1], strides[2], padding):
        win = x[:, y0:y1, x0:x1, :].reshape(n, -1, c)
        at = np.argmax(win, axis=1)  # the first maximum (windows holding NaN may route differently)
        iy, ix = y0 + at // (x1 - x0), x0 + at % (x1 - x0)
        np.add.at(dx, (rows, iy, ix, chans), dy[:, y, xo, :])
    return dx


def np_avg_pool_grad(sizes, dy, ksize, strides, padding):
    n, h, w, c = (int(s) for s in sizes)
    dx = np.zeros((n, h, w, c), dy.dtype)
    for y, xo, y0, y1, x0, x1 in _windows_clipped(h, w, ksize[1], ksize[2], strides[1], strides[2], padding):
        dx[:, y0:y1, x0:x1, :] += (dy[:, y, xo, :] / dy.dtype.type((y1 - y0) * (x1 - x0)))[:, None, None, :]
    return dx
