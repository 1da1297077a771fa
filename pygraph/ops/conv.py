"""Convolution and pooling (NHWC): tf.nn.conv2d, max_pool, avg_pool and the backprop ops their gradients
use (Conv2DBackpropInput/Filter, MaxPoolGrad, AvgPoolGrad, as TF names them). Code generation is in
codegen/structured/conv.py; the numpy rows below are the reference semantics the tests compare against.

Output sizes and padding are TF's: VALID gives ceil((in - k + 1) / s); SAME gives ceil(in / s) with
max((out - 1) * s + k - in, 0) padding, the smaller half before. Padded cells are zero for conv, ignored
by max_pool, and not counted by avg_pool's divisor."""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..shape import TensorShape
from . import attr_checks, registry
from .attr_schema import AttrError
from .core import convert_to_tensor, fmt_shape, make_op, op_scope

FLOATS = (dtypes.float32, dtypes.float64)


def out_size(size, k, s, padding):
    """TF's output length along one axis (None when `size` is unknown); raises ValueError when negative."""
    if size is None:
        return None
    out = -(-size // s) if padding == "SAME" else -(-(size - k + 1) // s)
    if out < 0 or (padding == "VALID" and size < k):
        raise ValueError(f"Computed output size would be negative: {size - k + 1} [input_size: {size}, "
                         f"effective_filter_size: {k}, stride: {s}]")
    return out


def pad_before(size, k, s, out, padding):
    return 0 if padding == "VALID" else max((out - 1) * s + k - size, 0) // 2


# ---- numpy references (the tests' oracle and constant folding) ----

def _windows(x, kh, kw, sh, sw, padding, fill):
    """x [N,H,W,C] -> windows [N,OH,OW,KH,KW,C] (padded cells = fill) and the output size."""
    n, h, w, c = x.shape
    oh, ow = out_size(h, kh, sh, padding), out_size(w, kw, sw, padding)
    pt, pl = pad_before(h, kh, sh, oh, padding), pad_before(w, kw, sw, ow, padding)
    ph, pw = max((oh - 1) * sh + kh - h - pt, 0), max((ow - 1) * sw + kw - w - pl, 0)
    xp = np.pad(x, ((0, 0), (pt, ph), (pl, pw), (0, 0)), constant_values=fill)
    win = np.empty((n, oh, ow, kh, kw, c), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            win[:, :, :, i, j, :] = xp[:, i:i + (oh - 1) * sh + 1:sh, j:j + (ow - 1) * sw + 1:sw, :]
    return win


def np_conv2d(x, f, strides, padding):
    win = _windows(x, f.shape[0], f.shape[1], strides[1], strides[2], padding, 0)
    return np.tensordot(win, f, axes=([3, 4, 5], [0, 1, 2])).astype(x.dtype)


def np_max_pool(x, ksize, strides, padding):
    win = _windows(x, ksize[1], ksize[2], strides[1], strides[2], padding, -np.inf)
    return win.max(axis=(3, 4)).astype(x.dtype)


def np_avg_pool(x, ksize, strides, padding):
    win = _windows(x, ksize[1], ksize[2], strides[1], strides[2], padding, 0)
    count = _windows(np.ones(x.shape[:3] + (1,), x.dtype), ksize[1], ksize[2], strides[1], strides[2], padding, 0)
    return (win.sum(axis=(3, 4)) / count.sum(axis=(3, 4))).astype(x.dtype)


def _row(op, name):
    return op.attrs[name]


def _window(op):
    return op.attrs["ksize"], op.attrs["strides"], op.attrs["padding"]


from . import conv_reference as ref  # noqa: E402 (it reads out_size and pad_before above)

registry.register("Conv2D", registry.STRUCTURED,
                  numpy=lambda x, f, op: np_conv2d(x, f, _row(op, "strides"), _row(op, "padding")),
                  attrs={"strides": "list(int)", "padding": "string", "data_format": "string",
                         "dilations": "list(int)", "use_cudnn_on_gpu": "bool", "T": "type"},
                  check=lambda a, i, o: _check_window(a, i, "strides", True))
# the size inputs' values also as attrs when known at build time (like Fill's "shape"): code generation
# reads the attr, or else the dims of the tensor a Shape op measured
registry.register("Conv2DBackpropInput", registry.STRUCTURED,
                  numpy=lambda s, f, dy, op: ref.np_conv2d_backprop_input(s, f, dy, _row(op, "strides"),
                                                                          _row(op, "padding")),
                  attrs={"strides": "list(int)", "padding": "string", "data_format": "string",
                         "dilations": "list(int)", "use_cudnn_on_gpu": "bool", "T": "type",
                         "input_sizes": "?list(int)"},
                  check=lambda a, i, o: _check_window(a, i[1:], "strides", True))
registry.register("Conv2DBackpropFilter", registry.STRUCTURED,
                  numpy=lambda x, s, dy, op: ref.np_conv2d_backprop_filter(x, s, dy, _row(op, "strides"),
                                                                           _row(op, "padding")),
                  attrs={"strides": "list(int)", "padding": "string", "data_format": "string",
                         "dilations": "list(int)", "use_cudnn_on_gpu": "bool", "T": "type",
                         "filter_sizes": "?list(int)"},
                  check=lambda a, i, o: _check_window(a, i, "strides", True))
_POOL_ATTRS = {"ksize": "list(int)", "strides": "list(int)", "padding": "string", "data_format": "string",
               "T": "type"}
registry.register("MaxPool", registry.STRUCTURED,
                  numpy=lambda x, op: np_max_pool(x, op.attrs["ksize"], op.attrs["strides"], op.attrs["padding"]),
                  attrs=dict(_POOL_ATTRS), check=lambda a, i, o: _check_window(a, i, "ksize", False))
registry.register("AvgPool", registry.STRUCTURED,
                  numpy=lambda x, op: np_avg_pool(x, op.attrs["ksize"], op.attrs["strides"], op.attrs["padding"]),
                  attrs=dict(_POOL_ATTRS), check=lambda a, i, o: _check_window(a, i, "ksize", False))
registry.register("MaxPoolGrad", registry.STRUCTURED, attrs=dict(_POOL_ATTRS),
                  numpy=lambda x, y, dy, op: ref.np_max_pool_grad(x, y, dy, *_window(op)),
                  check=lambda a, i, o: _check_window(a, i, "ksize", False))
registry.register("AvgPoolGrad", registry.STRUCTURED, attrs={**_POOL_ATTRS, "orig_input_shape": "?list(int)"},
                  numpy=lambda s, dy, op: ref.np_avg_pool_grad(s, dy, *_window(op)),
                  check=lambda a, i, o: _check_window(a, i[1:], "ksize", False))
attr_checks.ARITY.update({"Conv2D": 2, "Conv2DBackpropInput": 3, "Conv2DBackpropFilter": 3, "MaxPool": 1,
                          "AvgPool": 1, "MaxPoolGrad": 3, "AvgPoolGrad": 2})


def _check_window(attrs, inputs, window, is_conv):
    """The attribute values the code generator relies on, for built and imported nodes alike."""
    if attrs["padding"] not in ("SAME", "VALID"):
        raise AttrError(f"attr 'padding' must be 'SAME' or 'VALID', got {attrs['padding']!r}")
    if attrs["data_format"] != "NHWC":
        raise AttrError(f"attr 'data_format' = {attrs['data_format']!r}: pygraph supports 'NHWC' only")
    if attrs["T"] not in FLOATS:
        raise AttrError(f"attr 'T' = {attrs['T'].name}: not one of float32, float64")
    names = ("strides", "dilations") if is_conv else ("ksize", "strides")
    for name in names:
        v = attrs[name]
        if len(v) != 4 or any(s < 1 for s in v):
            raise AttrError(f"attr {name!r} must be 4 positive ints, got {list(v)}")
        if v[0] != 1 or v[3] != 1:
            raise AttrError(f"attr {name!r} = {list(v)}: the batch and depth entries must be 1")
    if is_conv and tuple(attrs["dilations"]) != (1, 1, 1, 1):
        raise AttrError(f"attr 'dilations' = {list(attrs['dilations'])}: pygraph supports dilation 1 only")
    for t in inputs:
        if t.dtype != attrs["T"] and t.dtype not in (dtypes.int32, dtypes.int64):
            raise AttrError(f"input {t.name} has dtype {t.dtype.name}, but attr 'T' is {attrs['T'].name}")


def _list4(value, what, op_type):
    if isinstance(value, int):
        value = [value]
    value = [int(v) for v in value]
    if len(value) == 1:
        value = [1, value[0], value[0], 1]
    elif len(value) == 2:
        value = [1, value[0], value[1], 1]
    if len(value) != 4:
        raise ValueError(f"{op_type}: {what} must have 1, 2 or 4 entries, got {value}")
    return value


def _padding(padding, op_type):
    padding = padding.decode() if isinstance(padding, bytes) else padding
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"{op_type}: padding must be 'SAME' or 'VALID', got {padding!r}")
    return padding.upper()


def _input4(value, param, op_type, scope):
    x = convert_to_tensor(value, name=param)
    if x.dtype not in FLOATS:
        raise TypeError(f"Value passed to parameter '{param}' has DataType {x.dtype.name} not in list of allowed "
                        f"values: float32, float64 (op {op_type})")
    if x.shape.ndims is not None and x.shape.ndims != 4:
        raise ValueError(f"Shape must be rank 4 but is rank {x.shape.ndims} for '{scope[:-1]}' (op: '{op_type}') "
                         f"with input shapes: {fmt_shape(x.shape)}.")
    return x, x.shape.with_rank(4).as_tuple() if x.shape.ndims is not None else (None,) * 4


def _format(data_format, op_type):
    if data_format not in ("NHWC", None):
        raise NotImplementedError(f"{op_type}: data_format {data_format!r} is not supported yet (NHWC only)")
    return "NHWC"


def conv2d(input, filter=None, strides=None, padding=None, use_cudnn_on_gpu=True, data_format="NHWC",  # noqa: A002
           dilations=(1, 1, 1, 1), name=None, filters=None):
    """tf.nn.conv2d: input [N,H,W,C] (NHWC) and filter [KH,KW,C,O]; dilations other than 1 are not
    supported yet."""
    filter = filters if filter is None else filter
    if strides is None or padding is None:
        raise TypeError("conv2d() needs strides and padding")
    with op_scope(name, "Conv2D", [input, filter]) as scope:
        x, (n, h, w, c) = _input4(input, "input", "Conv2D", scope)
        f, (kh, kw, fc, o) = _input4(filter, "filter", "Conv2D", scope)
        if f.dtype != x.dtype:
            raise TypeError(f"Input 'filter' of 'Conv2D' Op has type {f.dtype.name} that does not match type "
                            f"{x.dtype.name} of argument 'input'.")
        strides, padding = _list4(strides, "strides", "Conv2D"), _padding(padding, "Conv2D")
        if strides[0] != 1 or strides[3] != 1:
            raise ValueError("Current implementation does not yet support strides in the batch and depth "
                             "dimensions.")
        dilations = _list4(dilations, "dilations", "Conv2D")
        if dilations != [1, 1, 1, 1]:
            raise NotImplementedError(f"conv2d: dilations {dilations} are not supported yet (1 only)")
        if c is not None and fc is not None and c != fc:
            raise ValueError(f"input and filter must have the same depth: {c} vs {fc} for '{scope[:-1]}' (op: "
                             f"'Conv2D') with input shapes: {fmt_shape(x.shape)}, {fmt_shape(f.shape)}.")
        oh = out_size(h, kh, strides[1], padding) if kh is not None else None
        ow = out_size(w, kw, strides[2], padding) if kw is not None else None
        attrs = {"strides": tuple(strides), "padding": padding, "data_format": _format(data_format, "Conv2D"),
                 "dilations": (1, 1, 1, 1), "use_cudnn_on_gpu": bool(use_cudnn_on_gpu), "T": x.dtype}
        return make_op("Conv2D", [x, f], [(x.dtype, TensorShape([n, oh, ow, o]))], scope, attrs).outputs[0]


def _pool(op_type, value, ksize, strides, padding, data_format, name, default_name):
    with op_scope(name, default_name, [value]) as scope:
        x, (n, h, w, c) = _input4(value, "input", op_type, scope)
        ksize, strides = _list4(ksize, "ksize", op_type), _list4(strides, "strides", op_type)
        padding = _padding(padding, op_type)
        if ksize[0] != 1 or strides[0] != 1:
            raise ValueError("Pooling is not yet supported on the batch dimension.")
        if ksize[3] != 1 or strides[3] != 1:
            raise NotImplementedError(f"{op_type}: pooling across depth is not supported yet")
        oh, ow = out_size(h, ksize[1], strides[1], padding), out_size(w, ksize[2], strides[2], padding)
        attrs = {"ksize": tuple(ksize), "strides": tuple(strides), "padding": padding,
                 "data_format": _format(data_format, op_type), "T": x.dtype}
        return make_op(op_type, [x], [(x.dtype, TensorShape([n, oh, ow, c]))], scope, attrs).outputs[0]


def max_pool(value, ksize, strides, padding, data_format="NHWC", name=None, input=None):  # noqa: A002
    """tf.nn.max_pool (NHWC): the maximum of each window; padded cells never win."""
    return _pool("MaxPool", value if input is None else input, ksize, strides, padding, data_format, name, "MaxPool")


def avg_pool(value, ksize, strides, padding, data_format="NHWC", name=None, input=None):  # noqa: A002
    """tf.nn.avg_pool (NHWC): the mean of each window over its cells inside the input (padding not counted)."""
    return _pool("AvgPool", value if input is None else input, ksize, strides, padding, data_format, name, "AvgPool")
