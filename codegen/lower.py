"""The lowering pipeline, one named step after another:

    schedule -> infer dims -> fuse -> plan buffers -> build kernels -> render -> compile

Each step's result can be printed with PYGRAPH_DEBUG (1: kernels, 2: + source, 3: + compiler command).
"""

from __future__ import annotations

import sys

from . import (
    bias_epilogue,
    chain,
    conv_epilogue,
    cxx,
    emit,
    epilogue,
    pool_epilogue,
    render,
    structured,  # noqa: F401  (registers the structured emitters)
    toolchain,
)
from .dims import MAX_RANK, DimTable, broadcast, cxx_dims, is_scalar, numel_expr
from .fuse import fuse, fuse_into_reductions, schedule
from .ir import Buffer, CompiledProgram, Program, Ref


class Lowering:
    """State shared by the steps for one Request."""

    def __init__(self, req):
        self.req = req
        self.nodes = req.nodes
        self.table = DimTable()
        self.dims = {}
        self.buffers = {}
        self.prologue = []  # argument checks, before dims
        self.allocs = []  # buffer declarations
        self.libs = set()  # extra link libraries asked for by structured kernels
        self.scratch_slots = 0
        self.forward = {}  # Identity output -> the ref whose buffer it shares (plan_buffers)
        self.conv_columns = {}  # a Conv2D's im2col key -> its scratch slot (structured/conv.py)

    # helpers for emitters
    def dtype(self, ref):
        return self.nodes[ref.node].dtypes[ref.index]

    def ctype(self, ref):
        return emit.CXX[self.dtype(ref)]

    def fail(self, code, node_id, message_expr):
        return f"return ctx->fail(ctx, {code}, {node_id}, {message_expr});"

    def fail_shapes(self, node, refs):
        """A C++ statement that reports `Incompatible shapes: [..] vs. [..]` for node's inputs."""
        decls = " ".join(f"const int64_t s{i}[] = {cxx_dims(self.dims[r])};" for i, r in enumerate(refs))
        arrays = ", ".join(f"s{i}" for i in range(len(refs)))
        ranks = ", ".join(str(len(self.dims[r])) for r in refs)
        return (f"{decls} const int64_t* ss[] = {{{arrays}}}; const int32_t rr[] = {{{ranks}}}; "
                f"return pg_fail_shapes(ctx, {node.id}, {len(refs)}, ss, rr);")


def compile_request(req, debug=0):
    source, summary, libs = render_request(req, debug)
    path = toolchain.build(source, libs, debug=debug)
    return CompiledProgram(path, len(req.outputs), source, summary, libs)


def render_request(req, debug=0):
    """(C++ source, one line per kernel, libraries to link) for `req`."""
    req = cxx.checked_request(req)  # typed attributes and comment-safe names only, from here on
    lw = Lowering(req)
    structured.cond.guard_shape_checks(lw)  # a cond branch's shape checks run only with the branch
    order = schedule(req)
    infer_dims(lw, order)
    kernels, kernel_of = fuse(req, order, {(r.node, r.index): d for r, d in lw.dims.items()})
    kernels, moved = fuse_into_reductions(lw, kernels)
    kernel_of = moved or kernel_of
    kernels, folded = epilogue.fold_sgd_into_gemm(lw, kernels, emit.WRITES_INPUT0)
    kernel_of = folded or kernel_of
    kernels, chained = chain.fuse_matmul_chains(lw, kernels, kernel_of)
    kernel_of = chained or kernel_of
    kernels, biased = bias_epilogue.fold_bias_into_gemm(lw, kernels, kernel_of)
    kernel_of = biased or kernel_of
    kernels, conv_biased = conv_epilogue.fold_bias_into_conv(lw, kernels, kernel_of)
    kernel_of = conv_biased or kernel_of
    kernels, masked = pool_epilogue.fold_relu_mask_into_max_pool_grad(lw, kernels, kernel_of)
    kernel_of = masked or kernel_of
    plan_buffers(lw, kernels, kernel_of)
    blocks = [structured.cond.wrap(lw, k, build_kernel(lw, k, i)) for i, k in enumerate(kernels)]
    blocks = structured.loop.wrap_loops(lw, kernels, blocks)  # a tf.while_loop's kernels inside its `for`
    blocks += structured.cond.fetch_checks(lw)
    program = Program(req, lw.dims, lw.table.code, lw.buffers, kernels, lw.scratch_slots)
    source = render.module(program, lw.prologue, lw.allocs, blocks)
    summary = [f"k{i} {k.kind}: " + ", ".join(f"{lw.nodes[j].op}({lw.nodes[j].name})"
                                              for j in k.data.get("prologue", []) + k.nodes)
               for i, k in enumerate(kernels)]
    if debug >= 1:
        print(f"[pygraph] {req.label}: {len(kernels)} kernel(s)", file=sys.stderr)
        for line in summary:
            print(f"[pygraph]   {line}", file=sys.stderr)
    if debug >= 2:
        print(source, file=sys.stderr)
    return source, summary, tuple(sorted(lw.libs))


# -- step: symbolic dims and argument checks
def infer_dims(lw, order):
    for i in order:
        node = lw.nodes[i]
        if node.op == "Arg":
            _arg_dims(lw, node)
        elif node.op == "Const":
            lw.dims[Ref(i, 0)] = tuple(node.shapes[0])
        elif node.op == "NoOp":
            continue
        elif node.op in emit.WRITES_INPUT0:
            var, value = node.inputs
            vd, xd = lw.dims[var], lw.dims[value]
            if len(vd) != len(xd):
                raise ValueError(f"internal: rank mismatch in {node.name}")
            for a, b in zip(vd, xd):
                if a != b:
                    fail = (f"const int64_t l[] = {cxx_dims(vd)}; const int64_t r[] = {cxx_dims(xd)}; "
                            f"pg_msg m; m.len = 0; m.text[0] = 0; "
                            f"pg_msg_add(&m, \"{node.op} requires shapes of both tensors to match. lhs shape= \"); "
                            f"pg_msg_shape(&m, {len(vd)}, l); pg_msg_add(&m, \" rhs "
                            f"shape= \"); pg_msg_shape(&m, {len(xd)}, r); "
                            f"return ctx->fail(ctx, PG_INVALID_ARGUMENT, {i}, m.text);")
                    lw.table.check(f"{a} == {b}", i, fail)
            lw.dims[Ref(i, 0)] = vd
        elif node.op in emit.ELEMENTWISE:
            ins = [lw.dims[r] for r in node.inputs]
            lw.dims[Ref(i, 0)] = broadcast(lw.table, node, ins, lw.fail_shapes(node, list(node.inputs)))
        elif node.op in emit.STRUCTURED:
            outs = emit.STRUCTURED[node.op].dims(lw, node, [lw.dims[r] for r in node.inputs])
            for k, d in enumerate(outs):
                lw.dims[Ref(i, k)] = tuple(d)
        else:
            raise NotImplementedError(f"pygraph cannot compile op type '{node.op}' (node '{node.name}', "
                                      f"defined at {node.site}) yet.")
        _check_sizes(lw, node)


def _check_sizes(lw, node):
    """Every output must be representable (dims.py): rank at most MAX_RANK (known here), sizes checked
    before the first allocation (run-time dims) or here (static dims)."""
    for k, dtype in enumerate(node.dtypes):
        ref = Ref(node.id, k)
        if ref not in lw.dims:
            continue
        dims = lw.dims[ref]
        if len(dims) > MAX_RANK:
            raise ValueError(f"pygraph supports tensors of rank at most {MAX_RANK}: '{node.name}' (op {node.op}, "
                             f"defined at {node.site}) would produce a tensor of rank {len(dims)}.")
        lw.table.check_shape(node, dims, dtype,
                             lambda code, msg: f'return ctx->fail(ctx, {code}, {node.id}, "{msg}");')


PG_INVALID = "PG_INVALID_ARGUMENT"


def _arg_dims(lw, node):
    index = node.attrs["index"]
    static = node.shapes[0]
    code = emit.CODE[node.dtypes[0]]
    a = f"args[{index}]"
    lw.prologue.append(
        f"if ({a}.ndim != {len(static)} || {a}.dtype != {code}) "
        f"return ctx->fail(ctx, PG_INVALID_ARGUMENT, {node.id}, \"argument {index} ({node.name}) must have "
        f"rank {len(static)} and dtype {node.dtypes[0]}\");")
    dims = []
    for k, d in enumerate(static):
        if d is None:
            dims.append(lw.table.define(f"{a}.shape[{k}]"))
        else:
            lw.prologue.append(
                f"if ({a}.shape[{k}] != {d}) return ctx->fail(ctx, PG_INVALID_ARGUMENT, {node.id}, "
                f"\"argument {index} ({node.name}) must have size {d} in dimension {k}\");")
            dims.append(d)
    lw.dims[Ref(node.id, 0)] = tuple(dims)


# -- step: buffers
def plan_buffers(lw, kernels, kernel_of):
    nodes = lw.nodes
    outputs = {r: o for o, r in enumerate(lw.req.outputs)}
    needs_buffer = set(outputs) | structured.cond.guard_refs(lw)
    for i, node in enumerate(nodes):
        for r in node.inputs:
            k = kernel_of.get(r.node)
            if k is None:
                if nodes[r.node].op == "Const" and i in kernel_of and kernels[kernel_of[i]].kind != "elementwise":
                    needs_buffer.add(r)
                continue
            if kernel_of.get(i) != k or kernels[k].kind != "elementwise":
                needs_buffer.add(r)
    for i, node in enumerate(nodes):  # arguments live in args[]
        if node.op == "Arg":
            b = Buffer(f"a{node.attrs['index']}", node.dtypes[0], lw.dims[Ref(i, 0)], "arg", node.attrs["index"])
            lw.buffers[Ref(i, 0)] = b
            t = emit.CXX[b.dtype]
            lw.allocs.append(f"{t}* {b.name} = static_cast<{t}*>(args[{b.index}].data);")
    for r in sorted(needs_buffer, key=lambda r: (r.node, r.index)):  # literals read by structured kernels
        node = nodes[r.node]
        if node.op == "Const" and r not in lw.buffers:
            buf = _new_buffer(lw, r, outputs.get(r))
            lw.buffers[r] = buf
            lw.allocs.append(f"{buf.name}[0] = {emit.literal(node.attrs['value'], node.dtypes[0])};")
    _alias_variable_reads(lw, kernels, kernel_of, needs_buffer, outputs)
    var_buffers = {lw.buffers[Ref(i, 0)].name for i, n in enumerate(nodes)
                   if n.op == "Arg" and n.attrs.get("kind") == "var"}
    copies = []
    for k in kernels:
        for i in k.nodes:
            node = nodes[i]
            for idx in range(len(node.dtypes)):
                ref = Ref(i, idx)
                if node.op in emit.WRITES_INPUT0:  # the value lives in the variable
                    lw.buffers[ref] = lw.buffers[node.inputs[0]]
                    if ref in outputs:
                        k.data.setdefault("extra_stores", []).append((ref, _new_buffer(lw, ref, outputs[ref])))
                elif ref not in outputs and (alias := _alias(lw, node, ref)) is not None:
                    lw.buffers[ref] = alias
                elif (k.kind == "elementwise" and ref not in outputs
                      and (src := _identity_source(lw, node, var_buffers)) is not None):
                    lw.buffers[ref] = lw.buffers[src]
                    lw.forward[ref] = src
                elif ref in needs_buffer or k.kind != "elementwise":
                    lw.buffers[ref] = _new_buffer(lw, ref, outputs.get(ref))
    for k in kernels:  # forwarded Identities compute nothing: their readers read the source (render.py)
        k.nodes = [i for i in k.nodes if Ref(i, 0) not in lw.forward]
    kernels[:] = [k for k in kernels if k.nodes or k.kind != "elementwise"]
    for ref, o in outputs.items():  # fetched arguments and constants are copied out
        op = nodes[ref.node].op
        if op == "Arg" or (op == "Const" and ref not in lw.buffers):
            copies.append((ref, _new_buffer(lw, ref, o)))
    for ref, buf in copies:
        kernels.insert(0, _copy_kernel(ref, buf))


def _alias_variable_reads(lw, kernels, kernel_of, needs_buffer, outputs):
    """`x/read` (Identity of a variable) read by other kernels would copy the variable on every run (all
    of an MLP's weights, each step). When every reader runs before the first kernel that writes the
    variable, the readers use the variable's buffer itself and the copy disappears."""
    nodes = lw.nodes
    first_write = {}
    for k, kern in enumerate(kernels):
        for i in kern.nodes:
            if nodes[i].op in emit.WRITES_INPUT0:  # in a tf.while_loop: before every kernel (it repeats)
                w = -1 if nodes[i].loop else k
                first_write[nodes[i].inputs[0]] = min(first_write.get(nodes[i].inputs[0], w), w)
    readers = {}
    for j, node in enumerate(nodes):
        for r in node.inputs:
            readers.setdefault(r, []).append(j)
    for kern in kernels:
        if kern.kind != "elementwise":
            continue
        for i in list(kern.nodes):
            node, ref = nodes[i], Ref(i, 0)
            if node.op != "Identity" or ref in outputs or ref not in needs_buffer:
                continue
            src = node.inputs[0]
            if nodes[src.node].op != "Arg" or nodes[src.node].attrs.get("kind") != "var":
                continue
            last_read = max(kernel_of.get(j, len(kernels)) for j in readers.get(ref, []))
            if last_read < first_write.get(src, len(kernels)):
                lw.buffers[ref] = lw.buffers[src]
                kern.nodes.remove(i)
    kernels[:] = [k for k in kernels if k.nodes or k.kind != "elementwise"]


def _identity_source(lw, node, var_buffers):
    """The input of an Identity whose output can share the input's buffer instead of copying it (a
    gradient's tuple/control_dependency: 6.4 MB per W10 step): an input that is materialised and never
    written after it is computed. Not a variable (updates write it; _alias_variable_reads decides for its
    reads) nor a value inside a tf.while_loop (rewritten each iteration)."""
    if node.op != "Identity" or node.loop:
        return None
    src = node.inputs[0]
    buf = lw.buffers.get(src)
    if buf is None or buf.name in var_buffers or lw.nodes[src.node].loop:
        return None
    return src


def _alias(lw, node, ref):
    """A structured op whose output is its input's memory viewed with other dims (reshape, or a reduction
    that reduces nothing) shares the input's buffer; never a variable's, which later writes could change."""
    hook = getattr(emit.STRUCTURED.get(node.op), "alias", None)
    src = hook(lw, node) if hook else None
    if src is None or src not in lw.buffers or lw.nodes[src.node].attrs.get("kind") == "var":
        return None
    b = lw.buffers[src]
    return Buffer(b.name, b.dtype, lw.dims[ref], b.storage, b.index)


def _new_buffer(lw, ref, output_index):
    dims = lw.dims[ref]
    dtype = lw.dtype(ref)
    t = emit.CXX[dtype]
    if output_index is not None:
        name = f"o{output_index}"
        lw.allocs.append(
            f"const int64_t {name}_shape[] = {cxx_dims(dims)}; "
            f"{t}* {name} = static_cast<{t}*>(ctx->alloc_output(ctx, {output_index}, {emit.CODE[dtype]}, "
            f"{len(dims)}, {name}_shape)); if (!{name}) return pg_fail_alloc(ctx, {ref.node}, {len(dims)}, "
            f"{name}_shape, \"{dtype}\", sizeof({t}));")
        return Buffer(name, dtype, dims, "output", output_index)
    slot = lw.scratch_slots
    lw.scratch_slots += 1
    name = f"t{slot}"
    lw.allocs.append(
        f"{t}* {name} = static_cast<{t}*>(ctx->scratch(ctx, {slot}, sizeof({t}) * ({numel_expr(dims)}))); "
        f"if (!{name}) {{ const int64_t s[] = {cxx_dims(dims)}; return pg_fail_alloc(ctx, {ref.node}, "
        f"{len(dims)}, s, \"{dtype}\", sizeof({t})); }}")
    return Buffer(name, dtype, dims, "scratch", slot)


def _copy_kernel(ref, buf):
    from .ir import Kernel

    return Kernel(kind="copy", nodes=[ref.node], data={"src": ref, "dst": buf})


# -- step: per-kernel template data
def build_kernel(lw, kernel, index):
    if kernel.kind == "elementwise":
        return render.elementwise(lw, kernel, index)
    if kernel.kind == "copy":
        src = lw.buffers.get(kernel.data["src"])
        dst = kernel.data["dst"]
        n = numel_expr(dst.dims)
        node = lw.nodes[kernel.data["src"].node]
        if src is None:  # a scalar literal
            value = emit.literal(node.attrs["value"], node.dtypes[0])
            return "", f"// k{index}: fetch of constant {node.name}\n{dst.name}[0] = {value};"
        return "", (f"// k{index}: fetch of {node.name}\n"
                    f"memcpy({dst.name}, {src.name}, sizeof(*{dst.name}) * ({n}));")
    if kernel.kind == "gemm_update":
        return epilogue.kernel(lw, kernel, index)
    if kernel.kind == "gemm_chain":
        return chain.kernel(lw, kernel, index)
    if kernel.kind == "gemm_bias":
        return bias_epilogue.kernel(lw, kernel, index)
    if kernel.kind == "conv_bias":
        return structured.conv.conv_bias_kernel(lw, kernel, index)
    if kernel.kind == "max_pool_grad_relu":
        return structured.conv.pool_relu_kernel(lw, kernel, index)
    return emit.STRUCTURED[kernel.kind].kernel(lw, kernel, index)


__all__ = ["compile_request", "CompiledProgram", "is_scalar"]
