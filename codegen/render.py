"""Program -> one C++ translation unit, through the Jinja templates in templates/."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jinja2

from . import cxx, emit, toolchain
from .dims import cxx_dims, is_scalar, numel_expr
from .ir import Ref

# elementwise loops split over threads in chunks of at least this many elements
PARALLEL_GRAIN = 1 << 15


@functools.lru_cache(maxsize=None)
def environment():
    # Compiled templates are kept beside the modules (same private directory): compiling them costs a
    # new process ~40 ms on its first program. Jinja keys them by the template source's checksum.
    from .template_cache import PrivateBytecodeCache

    return jinja2.Environment(
        loader=jinja2.PackageLoader(__package__, "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        # the pattern names the finalize hook: bytecode compiled without it must not be reused
        bytecode_cache=PrivateBytecodeCache(toolchain.private_subdir("templates"), "__jinja2_%s.finalized.cache"),
        finalize=_rendered,
    )


def _rendered(value):
    """Every {{ value }} in a template: C++ text pygraph built, an int or a bool; never a string attribute
    (cxx.Opaque) or a float (floats go through cxx.float_lit, which spells NaN and Inf)."""
    if not isinstance(value, (str, int)):  # bool is an int; numpy scalars and floats are refused
        raise cxx.RenderError(f"a {type(value).__name__} cannot be rendered into a template")
    return value


def template(name):
    return environment().get_template(name)


def module(program, prologue, allocs, kernels):
    """kernels: list of (helper, block) pairs: file-scope code and the statements inside pg_run."""
    req = program.request
    body = "\n".join([*prologue, *program.shape_code, *allocs, *(h for h, _ in kernels), *(b for _, b in kernels)])
    return template("module.cc.j2").render(
        heavy="std::" in body or "pg_shape_str" in body or "pg_fail_str" in body,
        label=req.label, nodes=req.nodes, nargs=len(req.args), prologue=prologue,
        shape_code=program.shape_code, allocs=allocs,
        helpers=[h for h, _ in kernels if h], blocks=[b for _, b in kernels],
        error_flags=emit.ERROR_FLAGS)


@dataclass
class Ptr:
    name: str
    ctype: str


def elementwise(lw, kernel, k):
    """One loop computing every node of the group; materialised values are stored, others stay in
    registers. Inputs of the loop's shape are read at the flat index, size-1 inputs once, and the rest
    through broadcast strides."""
    nodes = lw.nodes
    loop = kernel.data["loop"]
    members = set(kernel.nodes)
    ptrs, ptr_names = [], set()
    loads, strided = {}, []
    lines, stores = [], []
    flat = True

    def ptr(buf):
        if buf.name not in ptr_names:
            ptr_names.add(buf.name)
            ptrs.append(Ptr(buf.name, emit.CXX[buf.dtype]))
        return buf.name

    def classify(ref):
        d = lw.dims[ref]
        if tuple(d) == tuple(loop):
            return "flat"
        if is_scalar(d):
            return "scalar"
        return "strided"

    for i in kernel.nodes:
        for r in nodes[i].inputs:
            if r.node not in members and nodes[r.node].op != "Const" and classify(r) == "strided":
                flat = False

    def operand(ref):
        while ref in lw.forward:  # an Identity sharing its input's buffer (lower._identity_source)
            ref = lw.forward[ref]
        node = nodes[ref.node]
        if ref.node in members:  # computed earlier in this loop (a write's value too, after the write)
            return f"v{ref.node}_{ref.index}"
        if node.op == "Const":
            return emit.literal(node.attrs["value"], node.dtypes[0])
        if ref in loads:
            return loads[ref]
        buf = lw.buffers[ref]
        name = ptr(buf)
        mode = classify(ref)
        var = f"x{len(loads)}"
        if mode == "flat":
            index = "i"
        elif mode == "scalar":
            index = "0"
        else:
            s = len(strided)
            strided.append((s, ref, buf))
            index = f"@@{s}@@"  # strided, or flat when the run-time shapes turn out equal
        lines.append(f"const {emit.CXX[buf.dtype]} {var} = {name}[{index}];")
        loads[ref] = var
        return var

    for i in kernel.nodes:
        node = nodes[i]
        args = [operand(r) for r in node.inputs]
        t = emit.CXX[node.dtypes[0]]
        expr = emit.ELEMENTWISE[node.op](args, t, node)
        lines.append(f"const {t} v{i}_0 = {expr};  // {node.op} {node.name}")
        ref = Ref(i, 0)
        if node.op in emit.WRITES_INPUT0:
            target = lw.buffers[node.inputs[0]]
            stores.append(f"{ptr(target)}[i] = v{i}_0;")
            # nodes after the write in this loop depend on it (the schedule runs free reads first),
            # so they read the variable's new value, not the one loaded before the write
            loads[node.inputs[0]] = f"v{i}_0"
        elif ref in lw.buffers:
            stores.append(f"{ptr(lw.buffers[ref])}[i] = v{i}_0;")
    for ref, buf in kernel.data.get("extra_stores", []):
        stores.append(f"{ptr(buf)}[i] = v{ref.node}_{ref.index};")
    lines.extend(stores)

    comment = ", ".join(f"{nodes[i].op} {nodes[i].name}" for i in kernel.nodes)
    names = [s for s, _, _ in strided]

    inner = {s: _inner_step(lw.dims[ref], loop) for s, ref, _ in strided}
    runtime_strided = [s for s in names if inner[s] is None]

    def strided_index(s):
        return {1: f"off{s} + j", 0: f"off{s}", None: f"off{s} + j * si{s}"}[inner[s]]

    def body(fn, flat_loop, with_struct):
        fill = (lambda s: "i") if flat_loop else strided_index
        text = [_fill_markers(line, names, fill) for line in lines]
        return template("elementwise.cc.j2").render(k=k, comment=comment, ptrs=ptrs, strided=names, fn=fn,
                                                     flat=flat_loop, lines=text, with_struct=with_struct,
                                                     runtime_strided=runtime_strided)

    helper = body(f"k{k}_body", flat, True)
    if not flat:  # symbols that differ at compile time are often equal at run time: keep a flat loop too
        helper += "\n" + body(f"k{k}_flat", True, False)

    err_node = next((i for i in kernel.nodes if nodes[i].op in emit.INT_ERROR_OPS
                     and emit.CXX[nodes[i].dtypes[0]] not in emit.FLOATS), None)
    call = [f"K{k} c;"]
    call += [f"c.{p.name} = {p.name};" for p in ptrs]
    call.append("c.err = 0;")
    if flat:
        call.append(f"ctx->parallel_for(ctx, {numel_expr(loop)}, {PARALLEL_GRAIN}, k{k}_body, &c);")
    else:
        rank = len(loop)
        same = " && ".join(f"({numel_expr(lw.dims[ref])}) == n" for _, ref, _ in strided)
        call.append(f"const int64_t n = {numel_expr(loop)};")
        call.append(f"if ({same}) {{")
        call.append(f"  ctx->parallel_for(ctx, n, {PARALLEL_GRAIN}, k{k}_flat, &c);")
        call.append("} else {")
        call.append(f"const int64_t L[] = {cxx_dims(loop)};")
        call.append(f"c.orank = {rank - 1}; c.inner = L[{rank - 1}];")
        call.append(f"for (int32_t d = 0; d < {rank - 1}; ++d) c.od[d] = L[d];")
        for s, ref, _ in strided:
            d = lw.dims[ref]
            call.append(f"{{ const int64_t sh[] = {cxx_dims(d)}; "
                        f"pg_bcast_strides(sh, {len(d)}, L, {rank}, c.st{s}); }}")
        rows = numel_expr(loop[:-1])
        call.append(f"ctx->parallel_for(ctx, {rows}, pg_imax(1, {PARALLEL_GRAIN} / pg_imax(1, c.inner)), "
                    f"k{k}_body, &c);")
        call.append("}")
    if err_node is not None:
        call.append(f"if (c.err) return ctx->fail(ctx, PG_INVALID_ARGUMENT, {err_node}, pg_flag_text(c.err));")
    return helper, f"// k{k}: {comment}\n" + "\n".join(call)


def _inner_step(dims, loop):
    """A broadcast input's step along the loop's innermost dim when known at build time: 1 when its last dim
    is the loop's (contiguous: the inner loop vectorises, e.g. a bias over NHWC channels; when that dim is 1
    at run time the step is never taken), 0 when it is a literal 1, None: read at run time."""
    if dims[-1] == loop[-1]:
        return 1
    if dims[-1] == 1:
        return 0
    return None


def _fill_markers(line, names, fill):
    for s in names:
        line = line.replace(f"@@{s}@@", fill(s))
    return line
