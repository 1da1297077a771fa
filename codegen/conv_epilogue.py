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

from .fold_pairs import bias_add, fold_adjacent, plain, rest_of
from .ir import Kernel, Ref
from .switch import Rewrite

ENABLED = Rewrite()
disabled = ENABLED.disabled


def fold_bias_into_conv(lw, kernels, kernel_of):
    """Step: a "Conv2D" kernel followed by an elementwise kernel starting with [Add(conv, bias), Relu?] -> one
    "conv_bias" kernel, then the elementwise kernel's other nodes, if any. Returns (kernels, kernel_of) when
    something changed, else (kernels, None)."""
    if not ENABLED:
        return kernels, None

    def fuse(kernels, idx, found, kernel_of):
        prev, kern = kernels[idx - 1], kernels[idx]
        add, bias, relu = found
        taken = 1 if relu is None else 2
        kernels[idx - 1:idx + 1] = [Kernel(kind="conv_bias", nodes=[kern.nodes[taken - 1]],
                                           data={"conv": prev.nodes[0], "add": add, "bias": bias,
                                                 "relu": relu is not None})] + rest_of(kern, taken)
        return True

    return fold_adjacent(lw, kernels, "Conv2D", _match, fuse)


def _match(lw, conv_id, kern, readers, outputs):
    """(add id, bias Ref, relu id or None) when `kern` starts with the conv's bias add, then maybe a Relu of it
    that is the sum's only reader."""
    nodes = lw.nodes
    if nodes[conv_id].op != "Conv2D":
        return None
    found = bias_add(lw, conv_id, 4, kern, readers, outputs)
    if found is None:
        return None
    add, bias = found
    if len(kern.nodes) < 2:
        return add.id, bias, None
    relu, total = nodes[kern.nodes[1]], Ref(add.id, 0)
    if (relu.op != "Relu" or not plain(relu) or list(relu.inputs) != [total] or total in outputs
            or readers.get(total, []) != [relu.id] or relu.dtypes[0] != add.dtypes[0]):
        return add.id, bias, None
    return add.id, bias, relu.id
