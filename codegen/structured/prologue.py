"""The input of a reduction as C++: a buffer, or the elementwise nodes fused into it (fuse.py's
fuse_into_reductions) as a struct whose operator[] computes one element from their flat or scalar inputs."""

from __future__ import annotations

from .. import emit
from . import common


def source(lw, kernel, index, node):
    """(file-scope code, C++ expression of a pg_src-like value) for the reduction node's input 0."""
    t = lw.ctype(node.inputs[0])
    ids = kernel.data.get("prologue")
    if not ids:
        return "", f"pg_src<{t}>{{{common.in_buf(lw, node).name}}}"
    members, loop = set(ids), tuple(lw.dims[node.inputs[0]])
    ptrs, lines = {}, []

    def operand(ref):
        producer = lw.nodes[ref.node]
        if ref.node in members:
            return f"v{ref.node}_{ref.index}"
        if producer.op == "Const":
            return emit.literal(producer.attrs["value"], producer.dtypes[0])
        buf = lw.buffers[ref]
        ptrs[buf.name] = emit.CXX[buf.dtype]
        return f"{buf.name}[{'i' if tuple(lw.dims[ref]) == loop else '0'}]"

    for i in ids:
        n = lw.nodes[i]
        ct = common.ctype(n.dtypes[0])
        expr = emit.ELEMENTWISE[n.op]([operand(r) for r in n.inputs], ct, n)
        lines.append(f"const {ct} v{i}_0 = {expr};  // {n.op} {n.name}")
    root = node.inputs[0]
    struct = f"K{index}_src"
    fields = "".join(f"  const {ct}* __restrict {name};\n" for name, ct in ptrs.items())
    body = "".join(f"    {line}\n" for line in lines)
    helper = (f"namespace {{\n// k{index}: the elementwise producers of {node.op} {node.name}, computed per element\n"
              f"struct {struct} {{\n  typedef {t} type;\n{fields}"
              f"  {t} operator[](int64_t i) const {{\n{body}    return v{root.node}_{root.index};\n  }}\n}};\n}}")
    return helper, f"{struct}{{{', '.join(ptrs)}}}"
