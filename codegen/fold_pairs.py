"""What the "producer kernel, then the elementwise pass over its result" folds share (bias_epilogue: MatMul,
conv_epilogue: Conv2D, pool_epilogue: MaxPoolGrad): the scan over adjacent kernel pairs, and the check that the
pass starts with the producer's bias add."""

from __future__ import annotations

from .ir import Kernel, Ref, kernel_index, readers_of

BLAS_FLOATS = ("float32", "float64")
ADDS = ("Add", "AddV2", "BiasAdd")


def plain(node):
    """Neither guarded by a tf.cond branch nor inside a tf.while_loop body."""
    return not node.guard and not node.loop


def fold_adjacent(lw, kernels, producer_kind, match, fuse):
    """For each single-node `producer_kind` kernel at idx - 1 followed by an elementwise kernel at idx, from the
    end: found = match(producer id, elementwise kernel, readers, outputs), and when it is not None,
    fuse(kernels, idx, found, kernel_of), which rewrites `kernels` in place and returns True when it folded the
    pair. Returns (kernels, kernel_of) when something changed, else (kernels, None)."""
    readers, outputs = readers_of(lw.nodes), set(lw.req.outputs)
    kernel_of, changed = kernel_index(kernels), False
    for idx in range(len(kernels) - 1, 0, -1):
        if idx >= len(kernels):  # a fold removed a kernel before this one
            continue
        prev, kern = kernels[idx - 1], kernels[idx]
        if prev.kind != producer_kind or len(prev.nodes) != 1 or kern.kind != "elementwise":
            continue
        found = match(lw, prev.nodes[0], kern, readers, outputs)
        if found is not None and fuse(kernels, idx, found, kernel_of):
            kernel_of, changed = kernel_index(kernels), True
    return kernels, (kernel_of if changed else None)


def rest_of(kern, taken):
    """The elementwise kernel's nodes after its first `taken`, as their own kernel (a list of 0 or 1)."""
    if not kern.nodes[taken:]:
        return []
    return [Kernel(kind="elementwise", nodes=kern.nodes[taken:], data={"loop": kern.data["loop"]})]


def bias_add(lw, producer_id, rank, kern, readers, outputs):
    """(add node, bias Ref) when `kern` starts with Add/AddV2/BiasAdd(producer's result, bias) of a float the
    BLAS paths take, the bias a vector of the result's last dim, and the result read by nothing else and not
    fetched; else None."""
    nodes = lw.nodes
    if kern.data.get("prologue"):
        return None
    producer, add = nodes[producer_id], nodes[kern.nodes[0]]
    result, dtype = Ref(producer_id, 0), producer.dtypes[0]
    if dtype not in BLAS_FLOATS or add.op not in ADDS or add.dtypes[0] != dtype:
        return None
    if add.op == "BiasAdd" and add.attrs.get("data_format", "NHWC") not in ("NHWC", b"NHWC"):
        return None
    if not (plain(producer) and plain(add)) or result in outputs or readers.get(result, []) != [add.id]:
        return None
    # result + bias only: with NaN in both, x86 keeps the first operand's NaN, so bias + result differs
    if add.inputs[0] != result or add.inputs[1] == result:
        return None
    bias = add.inputs[1]
    if nodes[bias.node].op == "Const":  # literals may have no buffer of their own
        return None
    rdims, bdims = tuple(lw.dims[result]), tuple(lw.dims[bias])
    if len(rdims) != rank or bdims != (rdims[-1],) or lw.dtype(bias) != dtype:
        return None
    if tuple(lw.dims[Ref(add.id, 0)]) != rdims:
        return None
    return add, bias
