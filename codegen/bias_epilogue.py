"""A dense layer's bias and Relu applied by its GEMM: MatMul -> Add/BiasAdd(product, bias) [-> Relu] in one call.

`tf.matmul(x, W) + b` (and `tf.nn.relu` of it) lowers to a MatMul kernel and then an elementwise pass that
reads the product back, adds the broadcast bias row and applies Relu. When that pass is exactly those nodes
and comes right after the product, the two become one "gemm_bias" kernel: pygraph's GEMM (sgemm.h.j2) adds
the bias and applies Relu to each tile while it is in registers, and the other paths (OpenBLAS, gemv) run
the same add-then-Relu as a pass over rows (pg_bias_pass in linalg.h.j2). Each output element is still the
finished dot product + bias, then pg_max(., 0): the same float operations in the same order as the unfused
program, so the same bits (tests/test_bias_epilogue.py). The product's intermediate buffer disappears.

It applies only when nothing else can tell: the product (and the sum, when Relu follows) has no other reader
and is not fetched, the bias is a vector of the product's column count and dtype, and nothing runs between
the two kernels. `disabled()` turns it off (tests compare both programs); the request index keys on `ENABLED`.
"""

from __future__ import annotations

from .fold_pairs import bias_add, fold_adjacent, plain
from .ir import Kernel, Ref
from .switch import Rewrite

ENABLED = Rewrite()
disabled = ENABLED.disabled


def fold_bias_into_gemm(lw, kernels, kernel_of):
    """Step: a "MatMul" kernel followed by an elementwise [Add(product, bias), Relu?, Identity*] kernel -> one
    "gemm_bias" kernel in the second's place. Returns (kernels, kernel_of) when something changed, else
    (kernels, None)."""
    if not ENABLED:
        return kernels, None

    def fuse(kernels, idx, found, kernel_of):
        prev, kern = kernels[idx - 1], kernels[idx]
        add, bias, relu = found
        kernels[idx - 1:idx + 1] = [Kernel(kind="gemm_bias", nodes=[kern.nodes[-1]],
                                           data={"matmul": prev.nodes[0], "add": add, "bias": bias,
                                                 "relu": relu is not None, "between": kern.nodes[1:-1]})]
        return True

    return fold_adjacent(lw, kernels, "MatMul", _match, fuse)


def _match(lw, matmul_id, kern, readers, outputs):
    """(add id, bias Ref, relu id or None) when `kern` is exactly the product's bias add, then at most one Relu
    and Identities, each the only reader of the one before."""
    nodes = lw.nodes
    if nodes[matmul_id].op != "MatMul":
        return None
    found = bias_add(lw, matmul_id, 2, kern, readers, outputs)
    if found is None:
        return None
    (add, bias), dtype = found, nodes[matmul_id].dtypes[0]
    relu, ref = None, Ref(add.id, 0)
    for i in kern.nodes[1:]:  # then Relu, and Identities (tf.identity(logits, name=...)) of the result
        node = nodes[i]
        if node.op not in ("Relu", "Identity") or (node.op == "Relu" and (relu is not None or ref.node != add.id)):
            return None
        if (not plain(node) or list(node.inputs) != [ref] or ref in outputs or readers.get(ref, []) != [i]
                or node.dtypes[0] != dtype):
            return None
        relu = i if node.op == "Relu" else relu
        ref = Ref(i, 0)
    return add.id, bias, relu


def kernel(lw, kernel, index):
    """(helper code, block) of a "gemm_bias" kernel: out = relu?(op(a) . op(b) + bias)."""
    from .structured import common, linalg

    matmul, last = lw.nodes[kernel.data["matmul"]], lw.nodes[kernel.nodes[0]]
    lw.libs.add("openblas")
    a, b, ta, tb, m, n, kk = linalg.gemm_operands(lw, matmul)
    bias = lw.buffers[kernel.data["bias"]].name
    t = common.ctype(matmul.dtypes[0])
    big = common.fail(matmul.id, ["MatMul dimensions must be below 2^31 for BLAS"])
    what = "bias add and Relu" if kernel.data["relu"] else "bias add"
    block = (f"// k{index}: MatMul {matmul.name} with {last.name}'s {what} in its epilogue\n"
             f"if ({m} > INT32_MAX || {n} > INT32_MAX || {kk} > INT32_MAX) {big}\n"
             f"pg_matmul_blas<{t}>(ctx, {str(ta).lower()}, {str(tb).lower()}, {m}, {n}, {kk}, {a}, {b}, "
             f"{common.out_buf(lw, last).name}, {bias}, {str(kernel.data['relu']).lower()});")
    return common.library(lw, "linalg.h.j2"), block
