"""A Relu gradient's mask applied by the MaxPoolGrad under it: MaxPoolGrad(act, pooled, g) -> Select(Greater(act,
0), dx, ZerosLike(dx)) in one "max_pool_grad_relu" kernel.

A CNN layer conv -> Relu -> max_pool differentiates to MaxPoolGrad, which routes each window's gradient to its
maximum (a tensor of the activation's size, mostly zeros), then the Relu gradient, which keeps it where the
activation is positive: a mask pass (Greater) in the forward program and a Select pass in the backward one,
each over the layer's largest tensor. Folded, MaxPoolGrad writes `act > 0 ? routed : 0` directly
(pg_pool's mask: the tiled loop per cell, the general one per image after its scatter); a Select moves
values and computes nothing, so these are the unfused program's bits (tests/test_conv_small.py).

It applies only when nothing else can tell: the elementwise kernel right after the MaxPoolGrad starts with a
ZerosLike of the routed gradient and the Select (its other nodes stay behind as their own loop), the mask
is Greater(MaxPoolGrad's input, a literal 0), and the routed gradient, the mask and the zeros have no other
reader and are not fetched. The mask's own loop loses the Greater (and goes when it held nothing else).
`disabled()` turns it off; the request index keys on `ENABLED`.
"""

from __future__ import annotations

import numpy as np

from .fold_pairs import fold_adjacent, plain, rest_of
from .ir import Kernel, Ref
from .switch import Rewrite

ENABLED = Rewrite()
disabled = ENABLED.disabled


def fold_relu_mask_into_max_pool_grad(lw, kernels, kernel_of):
    """Step: a "MaxPoolGrad" kernel followed by an elementwise [ZerosLike, Select, ...] kernel -> one
    "max_pool_grad_relu" kernel; the Greater leaves its kernel. Returns (kernels, kernel_of) when something
    changed, else (kernels, None)."""
    if not ENABLED:
        return kernels, None

    def fuse(kernels, idx, found, kernel_of):
        prev, kern = kernels[idx - 1], kernels[idx]
        select, greater, zeros = found
        home = kernel_of.get(greater)
        mask_kernel = kernels[home] if home is not None else None
        if mask_kernel is None or mask_kernel.kind != "elementwise" or greater not in mask_kernel.nodes:
            return False
        mask_kernel.nodes.remove(greater)
        # its other nodes (tf.gradients' Identity of the result) read the stored Select
        fused = [Kernel(kind="max_pool_grad_relu", nodes=[select],
                        data={"pool": prev.nodes[0], "greater": greater, "zeros": zeros})] + rest_of(kern, 2)
        kernels[idx - 1:idx + 1] = fused
        if not mask_kernel.nodes:
            kernels.remove(mask_kernel)
        return True

    return fold_adjacent(lw, kernels, "MaxPoolGrad", _match, fuse)


def _is_zero_literal(node):
    if node.op != "Const":
        return False
    value = np.asarray(node.attrs.get("value"))
    return value.size == 1 and value.reshape(()) == 0


def _match(lw, pool_id, kern, readers, outputs):
    """(select id, greater id, zeros id) when `kern` starts with ZerosLike(dx), Select(Greater(act, 0), dx, zeros)
    with dx the MaxPoolGrad's result and act its input."""
    nodes = lw.nodes
    if kern.data.get("prologue") or len(kern.nodes) < 2:
        return None
    pool = nodes[pool_id]
    zeros, select = (nodes[i] for i in kern.nodes[:2])
    dx, act = Ref(pool_id, 0), pool.inputs[0]
    if zeros.op != "ZerosLike" or select.op != "Select" or list(zeros.inputs) != [dx]:
        return None
    if not all(plain(n) for n in (pool, zeros, select)):
        return None
    mask, routed, other = select.inputs
    if routed != dx or other != Ref(zeros.id, 0) or dx in outputs or sorted(readers.get(dx, [])) != sorted(
            [zeros.id, select.id]):
        return None
    if Ref(zeros.id, 0) in outputs or readers.get(Ref(zeros.id, 0), []) != [select.id]:
        return None
    greater = nodes[mask.node]
    if (greater.op != "Greater" or mask.index != 0 or not plain(greater) or mask in outputs
            or readers.get(mask, []) != [select.id]):
        return None
    if greater.inputs[0] != act or not _is_zero_literal(nodes[greater.inputs[1].node]):
        return None
    # the mask is now read when MaxPoolGrad runs, not where the Greater was: only for a computed value (an
    # argument, or an Identity that may share a variable's buffer, could be assigned in between)
    if nodes[act.node].op in ("Arg", "Identity"):
        return None
    dtype = pool.dtypes[0]
    if select.dtypes[0] != dtype or tuple(lw.dims[Ref(select.id, 0)]) != tuple(lw.dims[act]):
        return None
    return select.id, greater.id, zeros.id
