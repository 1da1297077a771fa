"""Conv2D (im2col + BLAS gemm), its two backprops, and max/avg pooling with their gradients, NHWC; the C++
is templates/conv.h.j2. Output sizes follow TF (pygraph/ops/conv.py); sizes known only at run time get
run-time checks, so a graph read from a file cannot make a kernel index outside its buffers."""

from __future__ import annotations

from .. import cxx, emit
from ..dims import INT64_MAX
from ..ir import Ref
from . import common

INT32_MAX = 2**31 - 1


def _term(d):
    return cxx.int_lit(d) if isinstance(d, int) else d


def _out_size(lw, node, size, k, stride, padding):
    """The output length along one axis, an int when size and k are."""
    if isinstance(size, int) and isinstance(k, int):
        out = -(-size // stride) if padding == "SAME" else -(-(size - k + 1) // stride)
        if padding == "VALID" and size < k:
            raise ValueError(f"{node.op} '{node.name}' (defined at {node.site}): Computed output size would be "
                             f"negative: {size - k + 1} [input_size: {size}, effective_filter_size: {k}, stride: "
                             f"{stride}]")
        return out
    s = cxx.int_lit(stride, 1, INT64_MAX)
    if padding == "SAME":
        return lw.table.define(f"({_term(size)} + {s} - 1) / {s}")
    lw.table.check(f"{_term(size)} >= {_term(k)}", node.id, common.fail(node.id, [
        f"{node.op}: Computed output size would be negative: input size ", ("int", _term(size)),
        ", window size ", ("int", _term(k))]))
    return lw.table.define(f"({_term(size)} - {_term(k)}) / {s} + 1")


def _same(lw, node, a, b, what):
    """Run-time (or build-time) check that two dims agree."""
    if isinstance(a, int) and isinstance(b, int):
        if a != b:
            raise ValueError(f"{node.op} '{node.name}' (defined at {node.site}): {what}: {a} vs {b}")
        return
    lw.table.check(f"{_term(a)} == {_term(b)}", node.id, common.fail(node.id, [
        f"{node.op}: {what}: ", ("int", _term(a)), " vs ", ("int", _term(b))]))


def _rank4(node, dims, what):
    if len(dims) != 4:
        raise ValueError(f"{node.op} '{node.name}' (defined at {node.site}): {what} must be rank 4, got rank "
                         f"{len(dims)}")
    return tuple(dims)


_SIZE_ATTRS = {"Conv2DBackpropInput": "input_sizes", "Conv2DBackpropFilter": "filter_sizes",
               "AvgPoolGrad": "orig_input_shape"}


def _sizes(lw, node, k):
    static = node.attrs.get(_SIZE_ATTRS[node.op])
    if static is not None:
        return _rank4(node, static, "the size input")
    producer = lw.nodes[node.inputs[k].node]
    if producer.op != "Shape":
        raise NotImplementedError(f"pygraph cannot compile '{node.name}' ({node.op}, defined at {node.site}): its "
                                  "size input must be the result of tf.shape()")
    return _rank4(node, lw.dims[producer.inputs[0]], "the size input")


def _window(node):
    """(kh, kw) for pooling ops (from ksize), None for convolutions (the filter's dims)."""
    ksize = node.attrs.get("ksize")
    return (ksize[1], ksize[2]) if ksize is not None else None


def _geometry(lw, node, x, f_dims, y):
    """x dims, filter dims (kh, kw, c, o) and output dims, checked against each other at run time."""
    kh, kw, fc, o = f_dims
    strides, padding = node.attrs["strides"], node.attrs["padding"]
    oh = _out_size(lw, node, x[1], kh, strides[1], padding)
    ow = _out_size(lw, node, x[2], kw, strides[2], padding)
    if y is not None:
        _same(lw, node, y[0], x[0], "batch size of the gradient")
        _same(lw, node, y[1], oh, "output height of the gradient")
        _same(lw, node, y[2], ow, "output width of the gradient")
        _same(lw, node, y[3], o, "output depth of the gradient")
    _same(lw, node, x[3], fc, "input and filter must have the same depth")
    return (x[0], oh, ow, o)


def _geom_decl(node, x, f_dims, out):
    n, h, w, c = x
    kh, kw, _, o = f_dims
    s = node.attrs["strides"]
    terms = [n, h, w, c, kh, kw, o, out[1], out[2], s[1], s[2], 0, 0]
    same = "true" if node.attrs["padding"] == "SAME" else "false"
    return f"pg_conv_geom g = {{{', '.join(_term(t) for t in terms)}}}; pg_conv_pads(g, {same});"


class Conv:
    """Conv2D (inputs x, f), Conv2DBackpropInput (sizes, f, dy), Conv2DBackpropFilter (x, sizes, dy)."""

    def dims(self, lw, node, input_dims):
        if node.op == "Conv2D":
            x, f = _rank4(node, input_dims[0], "input"), _rank4(node, input_dims[1], "filter")
            return [_geometry(lw, node, x, f, None)]
        if node.op == "Conv2DBackpropInput":
            x, f, dy = _sizes(lw, node, 0), _rank4(node, input_dims[1], "filter"), input_dims[2]
        else:
            x, f, dy = _rank4(node, input_dims[0], "input"), _sizes(lw, node, 1), input_dims[2]
        _geometry(lw, node, x, f, _rank4(node, dy, "out_backprop"))
        return [x if node.op == "Conv2DBackpropInput" else f]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        return _conv_block(lw, node, common.out_buf(lw, node).name, f"// k{index}: {node.op} {node.name}")


def conv_bias_kernel(lw, kernel, index):
    """(helper code, block) of a "conv_bias" kernel (codegen/conv_epilogue.py): out = relu?(conv2d + bias)."""
    conv, last = lw.nodes[kernel.data["conv"]], lw.nodes[kernel.nodes[0]]
    what = "bias add and Relu" if kernel.data["relu"] else "bias add"
    return _conv_block(lw, conv, common.out_buf(lw, last).name,
                       f"// k{index}: Conv2D {conv.name} with {last.name}'s {what} in its epilogue",
                       bias=lw.buffers[kernel.data["bias"]].name, relu=kernel.data["relu"])


def _conv_block(lw, node, out, title, bias=None, relu=False):
    """(helper code, block) of one convolution op writing `out`; a Conv2D may add `bias` and apply Relu."""
    dims = [lw.dims[r] for r in node.inputs]
    if node.op == "Conv2D":
        x, f = dims
        out_dims = lw.dims[Ref(node.id, 0)]
        epilogue = "" if bias is None else f", {bias}, {str(relu).lower()}"
        call = "pg_conv2d<{T}>(ctx, g, {a}, {b}, {o}, {slot}" + epilogue + ")"
        a, b = common.in_buf(lw, node, 0).name, common.in_buf(lw, node, 1).name
    elif node.op == "Conv2DBackpropInput":
        x, f, out_dims = _sizes(lw, node, 0), dims[1], dims[2]
        call = "pg_conv2d_backprop_input<{T}>(ctx, g, {a}, {b}, {o}, {slot})"
        a, b = common.in_buf(lw, node, 1).name, common.in_buf(lw, node, 2).name
    else:
        x, f, out_dims = dims[0], _sizes(lw, node, 1), dims[2]
        call = "pg_conv2d_backprop_filter<{T}>(ctx, g, {a}, {b}, {o}, {slot}, {reuse})"
        a, b = common.in_buf(lw, node, 0).name, common.in_buf(lw, node, 2).name
    lw.libs.add("openblas")
    lib = common.library(lw, "linalg.h.j2") + common.library(lw, "conv.h.j2")
    t = common.ctype(node.dtypes[0])
    key = _columns_key(lw, node, f)
    if node.op == "Conv2DBackpropFilter" and key in lw.conv_columns:
        slot, reuse = lw.conv_columns[key], "true"
    else:
        slot, reuse = common.reserve_scratch(lw), "false"
        if node.op == "Conv2D" and key is not None:
            lw.conv_columns[key] = slot
    call = call.format(T=t, a=a, b=b, o=out, slot=slot, reuse=reuse)
    big = common.fail(node.id, [f"{node.op}: dimensions must be below 2^31 for BLAS"])
    oom = f"return ctx->fail(ctx, PG_RESOURCE_EXHAUSTED, {node.id}, \"out of memory\");"
    block = (f"{title}\n{{\n  {_geom_decl(node, x, f, out_dims)}\n"
             f"  if (g.n * g.pixels() > {INT32_MAX} || g.cols() > {INT32_MAX} || g.o > {INT32_MAX}) {big}\n"
             f"  if (!{call}) {oom}\n}}")
    return lib, block


def _columns_key(lw, node, f_dims):
    """What determines the column matrix (im2col) of a Conv2D or Conv2DBackpropFilter: the same input value
    with the same filter window, strides, padding and dtype. None where a Conv2D's columns may not survive
    until a later Conv2DBackpropFilter reads them: inside a tf.cond branch or tf.while_loop (either may
    not run, or run again), or an input that a variable update could rewrite in between."""
    if node.op not in ("Conv2D", "Conv2DBackpropFilter") or node.guard or node.loop:
        return None
    x = node.inputs[0]
    buf = lw.buffers.get(x)
    variables = {lw.buffers[Ref(n.id, 0)].name for n in lw.nodes
                 if n.op == "Arg" and n.attrs.get("kind") == "var" and Ref(n.id, 0) in lw.buffers}
    if buf is None or buf.name in variables:
        return None
    return (x, f_dims[0], f_dims[1], tuple(node.attrs["strides"]), node.attrs["padding"], node.dtypes[0])


class Pool:
    """MaxPool, AvgPool (x), MaxPoolGrad (x, y, dy), AvgPoolGrad (sizes, dy)."""

    def dims(self, lw, node, input_dims):
        kh, kw = _window(node)
        if node.op == "AvgPoolGrad":
            x = _sizes(lw, node, 0)
        else:
            x = _rank4(node, input_dims[0], "input")
        out = _geometry(lw, node, x, (kh, kw, x[3], x[3]), None)
        if node.op in ("MaxPool", "AvgPool"):
            return [out]
        dy = _rank4(node, input_dims[-1], "grad")
        for k, what in enumerate(("batch size", "output height", "output width", "depth")):
            _same(lw, node, dy[k], out[k], f"{what} of the gradient")
        if node.op == "MaxPoolGrad":
            y = _rank4(node, input_dims[1], "orig_output")
            for k in range(4):
                _same(lw, node, y[k], out[k], "orig_output shape")
        return [x]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        return _pool_block(lw, node, common.out_buf(lw, node).name, f"// k{index}: {node.op} {node.name}")


def pool_relu_kernel(lw, kernel, index):
    """(helper code, block) of a "max_pool_grad_relu" kernel (codegen/pool_epilogue.py): MaxPoolGrad's dx where
    its input is positive, else 0."""
    pool, select = lw.nodes[kernel.data["pool"]], lw.nodes[kernel.nodes[0]]
    return _pool_block(lw, pool, common.out_buf(lw, select).name,
                       f"// k{index}: MaxPoolGrad {pool.name} with {select.name}'s Relu mask in its epilogue",
                       relu_mask=True)


def _pool_block(lw, node, out, title, relu_mask=False):
    kh, kw = _window(node)
    if node.op == "AvgPoolGrad":
        x, out_dims = _sizes(lw, node, 0), lw.dims[node.inputs[1]]
    elif node.op in ("MaxPool", "AvgPool"):
        x, out_dims = lw.dims[node.inputs[0]], lw.dims[Ref(node.id, 0)]
    else:
        x, out_dims = lw.dims[node.inputs[0]], lw.dims[node.inputs[2]]
    mode = {"MaxPool": 0, "AvgPool": 1, "MaxPoolGrad": 2, "AvgPoolGrad": 3}[node.op]
    xs = "nullptr" if node.op == "AvgPoolGrad" else common.in_buf(lw, node, 0).name
    dy = common.in_buf(lw, node, len(node.inputs) - 1).name if mode >= 2 else "nullptr"
    t = common.ctype(node.dtypes[0])
    lib = common.library(lw, "linalg.h.j2") + common.library(lw, "conv.h.j2")
    lw.libs.add("openblas")
    mask = ", true" if relu_mask else ""
    block = (f"{title}\n{{\n  {_geom_decl(node, x, (kh, kw, x[3], x[3]), out_dims)}\n"
             f"  pg_pool<{t}>(ctx, g, {mode}, {xs}, {dy}, {out}{mask});\n}}")
    return lib, block


for _t in ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"):
    emit.register_structured(_t, Conv())
for _t in ("MaxPool", "AvgPool", "MaxPoolGrad", "AvgPoolGrad"):
    emit.register_structured(_t, Pool())
