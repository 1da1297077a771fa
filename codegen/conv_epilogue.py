"""A convolution layer's bias and Relu applied by its Conv2D: Conv2D -> BiasAdd/Add(conv, bias) [-> Relu] in one
"conv_bias" kernel.

`tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, f, ...), b))` lowers to a Conv2D kernel and an elementwise pass that
reads the whole activation back (N*OH*OW*O values, a CNN's largest tensor), adds the bias and applies Relu.
Folded, the direct loops of short windows (conv_small.h.j2) add the bias and apply Relu to each pixel's sums
while they are in registers, and the im2col + GEMM path runs the same add-then-Relu as a pass over rows
(pg_bias_pass): each output element is still the finished sum + bias, then pg_max(., 0), the float
operations of the unfused program in its order, so the same bits (tests/test_conv_epilogue.py). The
convolution's own buffer disappears.

The elementwise kernel may hold more than the add and Relu: a training graph's Relu gradient puts
Greater(relu, 0) beside them. Those other nodes stay behind as their own elementwise kernel right after the
fold (reading the stored activation); the add must come first in the kernel, and the conv's result (and the
sum, when Relu follows) must have no other reader and not be fetched. `disabled()` turns it off (tests compare
both programs); the request index keys on `ENABLED`.
"""

from __future__ import annotations

from .bias_epilogue import ADDS, BLAS_FLOATS
from .ir import Kernel, Ref, kernel_index, readers_of
from .switch import Rewrite

ENABLED = Rewrite()
disabled = ENABLED.disabled


def fold_bias_into_conv(lw, kernels, kernel_of):
    """Step: a "Conv2D" kernel followed by an elementwise kernel starting with [Add(conv, bias), Relu?] -> one
    "conv_bias" kernel, then the elementwise kernel's other nodes, if any. Returns (kernels, kernel_of) when
    something changed, else (kernels, None)."""
    if not ENABLED:
        return kernels, None
    readers, outputs = readers_of(lw.nodes), set(lw.req.outputs)
    changed = False
    for idx in range(len(kernels) - 1, 0, -1):
        prev, kern = kernels[idx - 1], kernels[idx]
        if prev.kind != "Conv2D" or len(prev.nodes) != 1 or kern.kind != "elementwise":
            continue
        match = _match(lw, prev.nodes[0], kern, readers, outputs)
        if match is None:
            continue
        add, bias, relu = match
        taken = 1 if relu is None else 2
        fused = [Kernel(kind="conv_bias", nodes=[kern.nodes[taken - 1]],
                        data={"conv": prev.nodes[0], "add": add, "bias": bias, "relu": relu is not None})]
        if kern.nodes[taken:]:
            fused.append(Kernel(kind="elementwise", nodes=kern.nodes[taken:], data={"loop": kern.data["loop"]}))
        kernels[idx - 1:idx + 1] = fused
        changed = True
    if not changed:
        return kernels, None
    return kernels, kernel_index(kernels)


def _plain(node):
    return not node.guard and not node.loop


def _match(lw, conv_id, kern, readers, outputs):
    """(add id, bias Ref, relu id or None) when `kern` starts with the conv's bias add, then maybe a Relu of it
    that is the sum's only reader."""
    nodes = lw.nodes
    if kern.data.get("prologue"):
        return None
    conv, add = nodes[conv_id], nodes[kern.nodes[0]]
    result = Ref(conv_id, 0)
    dtype = conv.dtypes[0]
    if conv.op != "Conv2D" or dtype not in BLAS_FLOATS or add.op not in ADDS or add.dtypes[0] != dtype:
        return None
    if add.op == "BiasAdd" and add.attrs.get("data_format", "NHWC") not in ("NHWC", b"NHWC"):
        return None
    if not (_plain(conv) and _plain(add)) or result in outputs or readers.get(result, []) != [add.id]:
        return None
    # conv + bias only: with NaN in both, x86 keeps the first operand's NaN
    if add.inputs[0] != result or add.inputs[1] == result:
        return None
    bias = add.inputs[1]
    if nodes[bias.node].op == "Const":  # literals may have no buffer of their own
        return None
    cdims, bdims = tuple(lw.dims[result]), tuple(lw.dims[bias])
    if len(cdims) != 4 or bdims != (cdims[3],) or lw.dtype(bias) != dtype or tuple(lw.dims[Ref(add.id, 0)]) != cdims:
        return None
    if len(kern.nodes) < 2:
        return add.id, bias, None
    relu, total = nodes[kern.nodes[1]], Ref(add.id, 0)
    if (relu.op != "Relu" or not _plain(relu) or list(relu.inputs) != [total] or total in outputs
            or readers.get(total, []) != [relu.id] or relu.dtypes[0] != dtype):
        return add.id, bias, None
    return add.id, bias, relu.id
