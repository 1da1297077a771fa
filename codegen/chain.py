"""MatMul chains: `(A @ B) @ C` without the intermediate `A @ B` in memory.

The normal equation's `matmul(matmul(inv, XT), y)` makes a 9 x 20640 intermediate (inv @ X^T) that is read
once by the next product. When a MatMul's result has exactly one reader, a MatMul that reads it as its
(untransposed) left operand, and is not fetched, the pair becomes one "gemm_chain" kernel: the intermediate is
made a cache-sized block of columns at a time and each block's share of the second product is added to the
result (pg_matmul_chain in linalg.h.j2). The association the user wrote is kept (TF's answers: every
intermediate element is the same dot product); only the second product's sum is split at block edges, so
results agree with the unfused program to float32 rounding. `disabled()` turns it off (tests compare both
programs); the request index keys on `ENABLED`.
"""

from __future__ import annotations

from .fold_pairs import BLAS_FLOATS
from .ir import Kernel, kernel_index, readers_of
from .switch import Rewrite

ENABLED = Rewrite()
disabled = ENABLED.disabled


def fuse_matmul_chains(lw, kernels, kernel_of):
    """Step: a "MatMul" kernel whose left operand comes from another "MatMul" kernel read nowhere else ->
    one "gemm_chain" kernel in the second's place. Returns (kernels, kernel_of) when something changed, else
    (kernels, None)."""
    if not ENABLED:
        return kernels, None
    nodes, outputs = lw.nodes, set(lw.req.outputs)
    readers = readers_of(nodes)
    home = {kern.nodes[0]: kern for kern in kernels if kern.kind == "MatMul" and len(kern.nodes) == 1}
    changed = False
    for kern in list(kernels):
        if kern.kind != "MatMul" or len(kern.nodes) != 1:
            continue
        outer = nodes[kern.nodes[0]]
        left = outer.inputs[0]
        inner_kern = home.get(left.node)
        if inner_kern is None or inner_kern not in kernels or not _chainable(nodes[left.node], outer, left,
                                                                               readers, outputs):
            continue
        kernels.remove(inner_kern)
        kernels[kernels.index(kern)] = Kernel(kind="gemm_chain", nodes=[outer.id], data={"inner": left.node})
        changed = True
    if not changed:
        return kernels, None
    return kernels, kernel_index(kernels)


def _chainable(inner, outer, left, readers, outputs):
    return (inner.op == "MatMul" and left.index == 0 and left not in outputs
            and readers.get(left, []) == [outer.id] and outer.inputs[1] != left
            and not outer.attrs.get("transpose_a", False)
            and inner.dtypes[0] in BLAS_FLOATS and outer.dtypes[0] == inner.dtypes[0]
            and not inner.guard and not outer.guard and not inner.loop and not outer.loop)


def kernel(lw, kernel, index):
    """(helper code, block) of a "gemm_chain" kernel: out = (op(a) . op(b)) . op(c)."""
    from .structured import common, linalg

    outer = lw.nodes[kernel.nodes[0]]
    inner = lw.nodes[kernel.data["inner"]]
    lw.libs.add("openblas")
    a, b, ta, tb, m, n, kk = linalg.gemm_operands(lw, inner)
    _, c, _, tc, _, p, _ = linalg.gemm_operands(lw, outer, skip_left=True)
    t = common.ctype(outer.dtypes[0])
    slot = common.reserve_scratch(lw)
    big = common.fail(inner.id, ["MatMul dimensions must be below 2^31 for BLAS"])
    oom = f"return ctx->fail(ctx, PG_RESOURCE_EXHAUSTED, {outer.id}, \"out of memory\");"
    block = (f"// k{index}: MatMul {inner.name} chained into MatMul {outer.name}: the intermediate is made a "
             f"tile of columns at a time\n{{\n"
             f"  const int64_t m = {m}, n = {n}, kk = {kk}, p = {p};\n"
             f"  if (m > INT32_MAX || n > INT32_MAX || kk > INT32_MAX || p > INT32_MAX) {big}\n"
             f"  const int64_t nb = pg_chain_tile<{t}>(m) < n ? pg_chain_tile<{t}>(m) : pg_imax(1, n);\n"
             f"  {t}* tile = static_cast<{t}*>(ctx->scratch(ctx, {slot}, sizeof({t}) * pg_imax(1, m * nb)));\n"
             f"  if (!tile) {oom}\n"
             f"  pg_matmul_chain<{t}>(ctx, {str(ta).lower()}, {str(tb).lower()}, {str(tc).lower()}, m, kk, n, p, "
             f"{a}, {b}, {c}, {common.out_buf(lw, outer).name}, tile, nb);\n}}")
    return common.library(lw, "linalg.h.j2"), block

