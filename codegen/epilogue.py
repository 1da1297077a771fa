"""GEMM epilogues: work that would otherwise be a separate pass over a GEMM's output, done by the GEMM call.

Plain SGD's update of a dense layer's kernel, `W -= lr * (X^T dY)` (AssignSub(W, Mul(MatMul(..), lr)), as
GradientDescentOptimizer builds it), becomes one gemm with alpha = -lr and beta = 1 writing into W: no
temporary for the gradient and no second pass reading it and W (for the MLP's 784x300 kernel, 2.8 MB less
memory traffic per step). The gemm then runs where the update ran (after every read of the old W).

It applies only when nothing else can tell: the gradient (and every Identity between it and the update) has
no other reader and is not fetched, the update's own value is not fetched, the learning rate is a scalar,
and the gemm reads no variable that the step writes (a gemm moved later must see the values it saw before).
`disabled()` turns the fold off (tests compare both programs); the request index keys on `ENABLED`.
"""

from __future__ import annotations

from .fold_pairs import BLAS_FLOATS
from .ir import Kernel, Ref, kernel_index, readers_of
from .switch import Rewrite

ENABLED = Rewrite()
disabled = ENABLED.disabled


def fold_sgd_into_gemm(lw, kernels, writes):
    """Step: AssignSub(var, Mul(Identity*(MatMul), lr)) -> one "gemm_update" kernel. `writes` is the set
    of WRITES_INPUT0 op types. Returns (kernels, kernel_of) when something changed, else (kernels, None)."""
    if not ENABLED:
        return kernels, None
    nodes, outputs = lw.nodes, set(lw.req.outputs)
    readers = readers_of(nodes)
    written = {n.inputs[0].node for n in nodes if n.op in writes}
    home = {i: kern for kern in kernels for i in kern.nodes + kern.data.get("prologue", [])}
    changed = False
    for kern in list(kernels):
        if kern.kind != "elementwise":
            continue
        for s in list(kern.nodes):
            match = _match(lw, nodes[s], home, readers, outputs, written)
            if match is None or _seen_in_loop(nodes, kern, nodes[s], match[1]):
                continue
            matmul, chain, lr = match
            _apply(lw, kernels, home, kern, nodes[s], matmul, chain, lr)
            changed = True
    if not changed:
        return kernels, None
    kernels[:] = [k for k in kernels if k.nodes or k.kind != "elementwise"]
    return kernels, kernel_index(kernels)


def _only_reader(readers, outputs, ref, reader):
    return ref not in outputs and readers.get(ref, []) == [reader]


def _match(lw, update, home, readers, outputs, written):
    """(matmul node id, [chain node ids], lr Ref) when `update` is a foldable SGD step, else None."""
    nodes = lw.nodes
    if update.op != "AssignSub" or Ref(update.id, 0) in outputs or readers.get(Ref(update.id, 0)):
        return None
    var, delta = update.inputs
    if nodes[var.node].op != "Arg" or nodes[var.node].attrs.get("kind") != "var":
        return None
    if update.dtypes[0] not in BLAS_FLOATS or delta.index != 0:
        return None
    mul = nodes[delta.node]
    if mul.op != "Mul" or not _only_reader(readers, outputs, delta, update.id) or not _movable(mul, update, home):
        return None
    for g, lr in (mul.inputs, mul.inputs[::-1]):
        if all(d == 1 for d in lw.dims[lr]) and len(lw.dims[lr]) <= len(lw.dims[g]) and lw.dtype(lr) == lw.dtype(g):
            break
    else:
        return None
    chain, ref, reader = [mul.id], g, mul.id
    while True:
        node = nodes[ref.node]
        if ref.index != 0 or not _only_reader(readers, outputs, ref, reader):
            return None
        if node.op == "MatMul":
            break
        if node.op != "Identity" or not _movable(node, update, home):
            return None
        chain.append(node.id)
        ref, reader = node.inputs[0], node.id
    matmul = node
    if (matmul.guard != update.guard or home.get(matmul.id) is None or home[matmul.id].kind != "MatMul"
            or tuple(lw.dims[Ref(matmul.id, 0)]) != tuple(lw.dims[var])):
        return None
    if any(_reads_variable(nodes, r, written | {var.node}) for r in matmul.inputs):
        return None
    return matmul.id, chain, lr


def _seen_in_loop(nodes, kern, update, chain):
    """Whether another node of the update's loop reads the variable or comes after the update: the loop
    runs before the gemm, so it would see the old value."""
    var = update.inputs[0]
    moving = set(chain) | {update.id}
    for i in kern.nodes:
        if i in moving:
            continue
        node = nodes[i]
        if update.id in node.after or any(r == var or r.node == update.id for r in node.inputs):
            return True
    return False


def _movable(node, update, home):
    """An elementwise node of the update's branch, computed in a loop (so removing it from there is safe)."""
    kern = home.get(node.id)
    return kern is not None and kern.kind == "elementwise" and node.guard == update.guard


def _reads_variable(nodes, ref, variables):
    """Whether `ref` is one of `variables` seen through Identity/Transpose/Reshape (the gemm reads its
    operands in place, and it now runs after writes it used to precede)."""
    node = nodes[ref.node]
    while node.op in ("Identity", "Transpose", "Reshape"):
        node = nodes[node.inputs[0].node]
    return node.id in variables


def _apply(lw, kernels, home, kern, update, matmul, chain, lr):
    for i in chain:
        home[i].nodes.remove(i)
    kern.nodes.remove(update.id)
    gemm_kernel = home[matmul]
    kernels.remove(gemm_kernel)
    fused = Kernel(kind="gemm_update", nodes=[update.id], data={"matmul": matmul, "lr": lr})
    # the remaining nodes of the update's loop read neither the variable nor the update (checked by the
    # graph: the variable's readers all run before its write), so the gemm may follow them
    kernels.insert(kernels.index(kern) + 1, fused)
    home[update.id] = fused
    home[matmul] = fused


def kernel(lw, kernel, index):
    """(helper code, block) of a "gemm_update" kernel: var += (-lr) * op(a) . op(b)."""
    from . import emit
    from .structured import common, linalg

    update = lw.nodes[kernel.nodes[0]]
    matmul = lw.nodes[kernel.data["matmul"]]
    lr = kernel.data["lr"]
    lr_node = lw.nodes[lr.node]
    if lr_node.op == "Const":
        rate = emit.literal(lr_node.attrs["value"], lw.dtype(lr))
    else:
        rate = f"{lw.buffers[lr].name}[0]"
    lw.libs.add("openblas")
    a, b, ta, tb, m, n, kk = linalg.gemm_operands(lw, matmul)
    var = lw.buffers[update.inputs[0]].name
    t = common.ctype(update.dtypes[0])
    big = common.fail(matmul.id, ["MatMul dimensions must be below 2^31 for BLAS"])
    block = (f"// k{index}: MatMul {matmul.name} folded into {update.name}: var -= lr * product, one gemm "
             f"(alpha = -lr, beta = 1)\n"
             f"if ({m} > INT32_MAX || {n} > INT32_MAX || {kk} > INT32_MAX) {big}\n"
             f"pg_matmul_blas_update<{t}>(ctx, {str(ta).lower()}, {str(tb).lower()}, {m}, {n}, {kk}, {a}, {b}, "
             f"{var}, -({rate}));")
    return common.library(lw, "linalg.h.j2"), block
