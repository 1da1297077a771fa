"""tf.cond's Switch and Merge, and the guard that makes a cond branch a C++ `if`.

A node built inside a cond branch carries a guard ((predicate Ref, branch value), ...); its kernel is
wrapped in `if (pred && ...) { ... }` (lower.build_kernel via `wrap`), so only the taken branch runs.
Switch forwards its input into a branch: the outputs share the input's buffer (a copy only where a buffer
cannot be shared). Merge's last input is the predicate (plan.py adds it): it copies the taken branch's
value and sets the branch index.
"""

from __future__ import annotations

from .. import emit
from ..dims import cxx_dims
from . import common


def guard_expr(lw, guard):
    """The C++ condition under which a guarded kernel runs."""
    terms = []
    for ref, value in guard:
        terms.append(("" if value else "!") + f"({predicate(lw, ref)})")
    return " && ".join(terms)


def predicate(lw, ref):
    node = lw.nodes[ref.node]
    if node.op == "Const":
        return "true" if node.attrs["value"] else "false"
    return f"{lw.buffers[ref].name}[0]"


def guard_refs(lw):
    """Predicates read by guards: they need buffers of their own."""
    return {ref for node in lw.nodes for ref, _ in node.guard if lw.nodes[ref.node].op != "Const"}


def shape_time_guard(lw, guard):
    """The guard as a C++ condition the shape code (which runs before any kernel) can evaluate: its
    predicates must be fed or constant. None otherwise."""
    terms = []
    for ref, value in guard:
        node = lw.nodes[ref.node]
        if node.op == "Const":
            term = "true" if node.attrs["value"] else "false"
        elif node.op == "Arg" and node.attrs.get("kind") in ("feed", "const"):
            term = f"static_cast<const bool*>(args[{node.attrs['index']}].data)[0]"
        else:
            return None
        terms.append(("" if value else "!") + f"({term})")
    return " && ".join(terms)


def guard_shape_checks(lw):
    """Shape checks of a node in a cond branch fail only when the branch is taken, where its predicates
    are known before the kernels run (fed or constant); others stay unconditional (README)."""
    check = lw.table.check

    def guarded(cond, node_id, failure):
        guard = lw.nodes[node_id].guard if 0 <= node_id < len(lw.nodes) else ()
        expr = shape_time_guard(lw, guard) if guard else None
        check(f"!({expr}) || ({cond})" if expr else cond, node_id, failure)

    lw.table.check = guarded


def wrap(lw, kernel, block):
    """A kernel's (helper, code) with its code under the kernel's guard."""
    guard = lw.nodes[kernel.nodes[0]].guard if kernel.nodes else ()
    if not guard:
        return block
    helper, code = block
    return helper, f"if ({guard_expr(lw, guard)}) {{  // a tf.cond branch\n{code}\n}}"


def fetch_checks(lw):
    """TF's error for a fetched value of a branch that did not run (its buffer holds nothing)."""
    blocks = []
    for o, ref in enumerate(lw.req.outputs):
        guard = lw.nodes[ref.node].guard
        if guard:
            text = f"Retval[{o}] does not have value"
            blocks.append(("", f"if (!({guard_expr(lw, guard)})) "
                               f"return ctx->fail(ctx, PG_INVALID_ARGUMENT, {ref.node}, \"{text}\");"))
    return blocks


class Switch:
    def dims(self, lw, node, input_dims):
        return [input_dims[0], input_dims[0]]

    def alias(self, lw, node):
        return node.inputs[0]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        src = common.in_buf(lw, node, 0)
        lines = [f"// k{index}: Switch {node.name}"]
        for k in range(2):
            out = common.out_buf(lw, node, k)
            if out.name != src.name:  # a buffer it could not share (a variable's, or a fetched output)
                lines.append(f"memcpy({out.name}, {src.name}, sizeof(*{out.name}) * ({common.numel(out.dims)}));")
        return "", "\n".join(lines)


class Merge:
    def dims(self, lw, node, input_dims):
        """The taken branch's dims. Branches of different sizes (TF allows them) need a predicate known
        before the kernels run; ranks must agree."""
        if "frame" in node.attrs:  # a tf.while_loop's Merge
            return loop.loop_merge_dims(lw, node, input_dims)
        fd, td = tuple(input_dims[0]), tuple(input_dims[1])
        pred = shape_time_guard(lw, ((node.inputs[2], True),))
        if fd == td or pred is None or len(fd) != len(td):
            return [fd, ()]
        lw.__dict__.setdefault("_merge_sized", set()).add(node.id)
        return [tuple(a if a == b else lw.table.define(f"{pred} ? (int64_t)({b}) : (int64_t)({a})")
                      for a, b in zip(fd, td)), ()]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        if "frame" in node.attrs:
            return loop.loop_merge_kernel(lw, node, index)
        out, which = common.out_buf(lw, node, 0), common.out_buf(lw, node, 1)
        false_ref, true_ref, pred = node.inputs
        n = common.numel(out.dims)
        lines = [f"// k{index}: Merge {node.name}"]
        fd, td = lw.dims[false_ref], lw.dims[true_ref]
        if tuple(fd) != tuple(td) and node.id not in lw.__dict__.get("_merge_sized", ()):
            pairs = [f"(int64_t)({a}) == (int64_t)({b})" for a, b in zip(fd, td)]
            same = " && ".join(pairs or ["true"]) if len(fd) == len(td) else "false"
            decls = f"const int64_t fs[] = {cxx_dims(fd)}; const int64_t ts[] = {cxx_dims(td)};"
            lines.append(f"if (!({same})) " + common.fail(node.id, [
                "pygraph needs both branches of tf.cond to give the same shape: false branch ",
                ("shape", len(fd), "fs"), ", true branch ", ("shape", len(td), "ts")],
                code="PG_UNIMPLEMENTED", decls=decls))
        t_buf = lw.buffers.get(true_ref)
        f_buf = lw.buffers.get(false_ref)
        lines.append(f"if ({predicate(lw, pred)}) {{")
        lines.append(_copy(lw, out, true_ref, t_buf, n) + f" {which.name}[0] = 1;")
        lines.append("} else {")
        lines.append(_copy(lw, out, false_ref, f_buf, n) + f" {which.name}[0] = 0;")
        lines.append("}")
        return "", "\n".join(lines)


def _copy(lw, out, ref, buf, n):
    if buf is None:  # a scalar literal
        node = lw.nodes[ref.node]
        return f"{out.name}[0] = {emit.literal(node.attrs['value'], node.dtypes[0])};"
    return f"memcpy({out.name}, {buf.name}, sizeof(*{out.name}) * ({n}));"


from . import loop  # noqa: E402  (tf.while_loop's Merge; loop.py imports this module's helpers)

emit.register_structured("Switch", Switch())
emit.register_structured("Merge", Merge())
