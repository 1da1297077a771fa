"""MatMul (BLAS gemm/gemv for floats, a loop for integers), MatrixInverse (LAPACK), Transpose.

A rank-2 Transpose whose only readers are MatMuls is not computed: each MatMul reads the transpose's input
with its transpose flag flipped (the normal equation's X^T X then is one gemm over X)."""

from __future__ import annotations

from .. import cxx, emit
from ..ir import Ref
from . import common

FLOATS = ("float32", "float64")


def _absorbed_transpose(lw, ref):
    """The input Ref of a 2-D Transpose producing `ref` that a MatMul may read directly, else None."""
    node = lw.nodes[ref.node]
    if node.op != "Transpose" or list(node.attrs.get("perm") or ()) != [1, 0]:
        return None
    src = node.inputs[0]
    if lw.nodes[src.node].attrs.get("kind") == "var" or src not in lw.buffers:
        return None
    return src


def gemm_operands(lw, node, skip_left=False):
    """(a, b, ta, tb, m, n, kk) of a MatMul: buffer names and BLAS transpose flags, reading through an
    absorbed Transpose instead of materialising it. `skip_left`: a is None (a chained MatMul's left operand
    is never stored, codegen/chain.py)."""
    ta, tb = bool(node.attrs.get("transpose_a", False)), bool(node.attrs.get("transpose_b", False))
    refs = list(node.inputs)
    for side in (0, 1):
        src = _absorbed_transpose(lw, refs[side])
        if src is not None:
            refs[side] = src
            if side == 0:
                ta = not ta
            else:
                tb = not tb
    a, b = lw.dims[node.inputs[0]], lw.dims[node.inputs[1]]
    m = a[1] if node.attrs.get("transpose_a") else a[0]
    kk = a[0] if node.attrs.get("transpose_a") else a[1]
    n = b[0] if node.attrs.get("transpose_b") else b[1]
    a_name = None if skip_left else lw.buffers[refs[0]].name
    return a_name, lw.buffers[refs[1]].name, ta, tb, m, n, kk


class MatMul:
    def dims(self, lw, node, input_dims):
        a, b = input_dims
        if len(a) != 2 or len(b) != 2:
            raise ValueError(f"internal: {node.name}: MatMul needs rank-2 inputs, got ranks {len(a)} and {len(b)}")
        ta, tb = node.attrs.get("transpose_a", False), node.attrs.get("transpose_b", False)
        m, ka = (a[1], a[0]) if ta else (a[0], a[1])
        kb, n = (b[1], b[0]) if tb else (b[0], b[1])
        if ka != kb:
            decls = common.dims_array("sa", a) + " " + common.dims_array("sb", b)
            lw.table.check(f"{ka} == {kb}", node.id, common.fail(node.id, [
                "Matrix size-incompatible: In[0]: ", ("shape", 2, "sa"), ", In[1]: ", ("shape", 2, "sb")],
                decls=decls))
        return [(m, n)]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        a, b, ta, tb, m, n, kk = gemm_operands(lw, node)
        dtype = node.dtypes[0]
        blas = dtype in FLOATS
        if blas:
            lw.libs.add("openblas")
        fail_big = common.fail(node.id, ["MatMul dimensions must be below 2^31 for BLAS"])
        block = common.macros("linalg.cc.j2").matmul(
            k=index, node=node, T=common.ctype(dtype), a=a, b=b,
            c=common.out_buf(lw, node).name, ta=ta, tb=tb, m=m, n=n, kk=kk, blas=blas, fail_big=fail_big)
        return common.library(lw, "linalg.h.j2"), block


class BatchMatMul:
    """TF1's BatchMatMul: one gemm (MatMul's code path) per matrix of the batch."""

    def dims(self, lw, node, input_dims):
        a, b = input_dims
        if len(a) != len(b) or len(a) < 3:
            raise ValueError(f"BatchMatMul '{node.name}' (defined at {node.site}): needs inputs of the same rank >= "
                             f"3, got ranks {len(a)} and {len(b)}")
        ta, tb = node.attrs["adj_x"], node.attrs["adj_y"]
        m, ka = (a[-1], a[-2]) if ta else (a[-2], a[-1])
        kb, n = (b[-1], b[-2]) if tb else (b[-2], b[-1])
        fail = lw.fail_shapes(node, [node.inputs[0], node.inputs[1]])
        batch = []
        for x, y in [*zip(a[:-2], b[:-2]), (ka, kb)]:
            if x != y:
                lw.table.check(f"{x} == {y}", node.id, fail)
            batch.append(x)
        return [(*batch[:-1], m, n)]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        a, b = lw.dims[node.inputs[0]], lw.dims[node.inputs[1]]
        ta, tb = node.attrs["adj_x"], node.attrs["adj_y"]
        m, kk = (a[-1], a[-2]) if ta else (a[-2], a[-1])
        n = b[-2] if tb else b[-1]
        dtype = node.dtypes[0]
        blas = dtype in FLOATS
        if blas:
            lw.libs.add("openblas")
        fn = "pg_matmul_blas" if blas else "pg_matmul_int"
        terms = [cxx.int_lit(d) if isinstance(d, int) else d for d in (m, n, kk)]
        big = common.fail(node.id, ["BatchMatMul dimensions must be below 2^31 for BLAS"])
        block = (f"// k{index}: BatchMatMul {node.name}\n{{\n"
                 f"  const int64_t batch = {common.numel(a[:-2])}, m = {terms[0]}, n = {terms[1]}, kk = {terms[2]};\n"
                 f"  if (m > INT32_MAX || n > INT32_MAX || kk > INT32_MAX) {big}\n"
                 f"  for (int64_t i = 0; i < batch; ++i)\n"
                 f"    {fn}<{common.ctype(dtype)}>(ctx, {str(ta).lower()}, {str(tb).lower()}, m, n, kk, "
                 f"{lw.buffers[node.inputs[0]].name} + i * m * kk, {lw.buffers[node.inputs[1]].name} + i * kk * n, "
                 f"{common.out_buf(lw, node).name} + i * m * n);\n}}")
        return common.library(lw, "linalg.h.j2"), block


class MatrixInverse:
    """One LU inverse per matrix of the batch (the leading dims)."""

    def dims(self, lw, node, input_dims):
        (d,) = input_dims
        if len(d) < 2:
            raise ValueError(f"MatrixInverse '{node.name}' (defined at {node.site}): Input must have rank >= 2, got "
                             f"rank {len(d)}")
        if d[-1] != d[-2]:
            lw.table.check(f"{d[-1]} == {d[-2]}", node.id, common.fail(node.id, ["Input matrix must be square."]))
        return [tuple(d)]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        d = lw.dims[node.inputs[0]]
        lw.libs.add("openblas")
        lib = common.library(lw, "linalg.h.j2")
        adjoint = bool(node.attrs.get("adjoint", False))
        block = common.macros("linalg.cc.j2").inverse(
            k=index, node=node, T=common.ctype(node.dtypes[0]), src=common.in_buf(lw, node).name,
            dst=common.out_buf(lw, node).name, n=d[-1], adjoint=adjoint, slot=common.reserve_scratch(lw, 2),
            batch=common.numel(d[:-2]), fail_singular=common.fail(node.id, ["Input is not invertible."]),
            fail_big=common.fail(node.id, ["MatrixInverse: matrix too large for 32-bit LAPACK"]))
        return lib, block


class Transpose:
    def dims(self, lw, node, input_dims):
        d = input_dims[0]
        perm = _perm(node, len(d))
        return [tuple(d[p] for p in perm)]

    def alias(self, lw, node):  # the identity permutation is a no-op
        perm = _perm(node, len(lw.dims[node.inputs[0]]))
        return node.inputs[0] if perm == sorted(perm) else None

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        d = lw.dims[node.inputs[0]]
        perm = _perm(node, len(d))
        src, dst = common.in_buf(lw, node).name, common.out_buf(lw, node).name
        if src == dst:
            return "", f"// k{index}: Transpose {node.name}: identity permutation (aliases its input)"
        ref = Ref(node.id, 0)
        readers = common.consumers(lw, node.id)
        if (perm == [1, 0] and readers and all(r.op == "MatMul" for r in readers)
                and not common.is_output(lw, ref) and _absorbed_transpose(lw, ref) is not None):
            return "", f"// k{index}: Transpose {node.name}: read directly by the MatMul(s) that use it"
        lib = common.library(lw, "layout.h.j2")
        t = common.ctype(node.dtypes[0])
        if len(d) == 2 and perm == [1, 0]:
            return lib, f"// k{index}: Transpose {node.name}\npg_transpose2<{t}>(ctx, {src}, {dst}, {d[0]}, {d[1]});"
        # source element strides of each input axis, then permuted into the output's order
        strides = []
        for k in range(len(d)):
            strides.append(common.numel(d[k + 1:]))
        block = (f"// k{index}: Transpose {node.name} perm=[{', '.join(cxx.int_lit(p) for p in perm)}]\n"
                 f"{common.dims_array('od', [d[p] for p in perm])} "
                 f"const int64_t st[] = {{{', '.join(strides[p] for p in perm)}}};\n"
                 f"pg_gather<{t}>(ctx, {src}, {dst}, {len(d)}, od, st, nullptr, 0);")
        return lib, block


def _perm(node, rank):
    perm = node.attrs.get("perm")
    if perm is None:
        return list(range(rank))[::-1]
    # Graph.create_op checks it where the rank is known; here the rank always is
    if len(perm) != rank or sorted(p % rank for p in perm) != list(range(rank)):
        raise ValueError(f"Transpose '{node.name}' (defined at {node.site}): perm {list(perm)} is not a permutation "
                         f"of the input's {rank} axes")
    return [p % rank for p in perm]


emit.register_structured("MatMul", MatMul())
emit.register_structured("BatchMatMul", BatchMatMul())
emit.register_structured("MatrixInverse", MatrixInverse())
emit.register_structured("Transpose", Transpose())
