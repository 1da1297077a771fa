"""tf.while_loop's Enter, Merge, LoopCond, NextIteration and Exit, and the C++ `for` a loop runs in.

The nodes of a loop carry Node.loop ((frame, region, guard terms outside it), ...). The schedule keeps a
loop's nodes contiguous, its predicate region (Merges, cond's ops, LoopCond, Switches) before its body,
and `wrap_loops` puts their kernels into `for (int64_t itF = 0;; ++itF) { ... }`:

    Merge          the loop variable: the Enter's value when itF == 0, else the NextIteration's
    LoopCond       `if (!pred) break;` (scheduled after every Merge of its loop)
    NextIteration  copies the body's result aside, so the next Merges read a value no kernel of the body
                   overwrites while the Merges run
    Enter / Exit   share their input's buffer (a copy only where a buffer cannot be shared)

Shapes are computed once, before any kernel: a loop variable keeps the shape it entered with, and a body
result of another shape fails (checked with the other shape checks).
"""

from __future__ import annotations

from .. import emit
from ..dims import cxx_dims
from ..ir import Ref
from . import common
from .cond import guard_expr


class _Forward(common.InputValue):
    """Enter and Exit: the input's value, in the input's buffer when it can be shared."""

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        out = common.out_buf(lw, node, 0)
        lines = [f"// k{index}: {node.op} {node.name}"]
        lines.append(_copy(lw, out, node.inputs[0], common.numel(out.dims)))
        return "", "\n".join(line for line in lines if line)


class LoopCond:
    def dims(self, lw, node, input_dims):
        return [()]

    def alias(self, lw, node):
        return node.inputs[0]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        out = common.out_buf(lw, node, 0)
        copy = _copy(lw, out, node.inputs[0], 1)
        return "", f"// k{index}: LoopCond {node.name}\n{copy}\nif (!{out.name}[0]) break;"


class NextIteration:
    def dims(self, lw, node, input_dims):
        """The body's result must have the loop variable's shape (pygraph's compiled loop keeps it)."""
        merge = Ref(node.attrs["merge"], 0)
        want, got = tuple(lw.dims[merge]), tuple(input_dims[0])
        if want != got:
            same = " && ".join(f"(int64_t)({a}) == (int64_t)({b})" for a, b in zip(want, got)) or "true"
            if len(want) != len(got):
                same = "false"
            decls = f"const int64_t ws[] = {cxx_dims(want)}; const int64_t gs[] = {cxx_dims(got)};"
            lw.table.check(same, node.id, common.fail(node.id, [
                f"pygraph's tf.while_loop keeps each loop variable's shape: {lw.nodes[merge.node].name} entered "
                "the loop with shape ", ("shape", len(want), "ws"), " but the body gives ", ("shape", len(got), "gs"),
                " (a shape that varies across iterations is not supported yet)"], code="PG_UNIMPLEMENTED", decls=decls))
        return [want]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        out = common.out_buf(lw, node, 0)
        copy = _copy(lw, out, node.inputs[0], common.numel(out.dims))
        return "", f"// k{index}: NextIteration {node.name}\n{copy}"


def loop_merge_dims(lw, node, input_dims):
    return [tuple(input_dims[0]), ()]


def loop_merge_kernel(lw, node, index):
    """The loop variable at the top of an iteration: the Enter's value first, then the NextIteration's."""
    out, which = common.out_buf(lw, node, 0), common.out_buf(lw, node, 1)
    n = common.numel(out.dims)
    nxt = lw.buffers[Ref(node.attrs["next"], 0)]
    it = f"it{node.attrs['frame']}"
    first = _copy(lw, out, node.inputs[0], n) or ";"
    return "", (f"// k{index}: Merge {node.name} (tf.while_loop)\n"
                f"if ({it} == 0) {{ {first} {which.name}[0] = 0; }} else {{ "
                f"memcpy({out.name}, {nxt.name}, sizeof(*{out.name}) * ({n})); {which.name}[0] = 1; }}")


def _copy(lw, out, ref, n):
    """`out` = the value of `ref` ("" when `out` is its buffer)."""
    buf = lw.buffers.get(ref)
    if buf is None:  # a scalar literal
        node = lw.nodes[ref.node]
        return f"{out.name}[0] = {emit.literal(node.attrs['value'], node.dtypes[0])};"
    if buf.name == out.name:
        return ""
    return f"memcpy({out.name}, {buf.name}, sizeof(*{out.name}) * ({n}));"


def wrap_loops(lw, kernels, blocks):
    """`blocks` (one per kernel, then extra ones) with each loop's kernels inside its `for`."""
    n = len(kernels)
    loops = [lw.nodes[k.nodes[0]].loop if k.nodes else () for k in kernels]
    return _nest(lw, kernels, loops, blocks[:n], 0) + blocks[n:]


def _nest(lw, kernels, loops, blocks, depth):
    out, done, i = [], set(), 0
    while i < len(blocks):
        if len(loops[i]) <= depth:
            out.append(blocks[i])
            i += 1
            continue
        frame, _, outside = loops[i][depth]
        if frame in done:
            raise ValueError(f"internal: the kernels of while loop {frame} are not contiguous")
        done.add(frame)
        j = i
        while j < len(blocks) and len(loops[j]) > depth and loops[j][depth][0] == frame:
            j += 1
        inner = _nest(lw, kernels[i:j], loops[i:j], blocks[i:j], depth + 1)
        helpers = "\n".join(h for h, _ in inner if h)
        body = "\n".join(f"{{\n{c}\n}}" for _, c in inner)  # each kernel in its own scope, as at top level
        code = f"for (int64_t it{frame} = 0;; ++it{frame}) {{  // a tf.while_loop\n{body}\n}}"
        guard = lw.nodes[kernels[i].nodes[0]].guard[:outside]
        if guard:  # a loop inside a tf.cond branch runs only with its branch
            code = f"if ({guard_expr(lw, guard)}) {{\n{code}\n}}"
        out.append((helpers, code))
        i = j
    return out


emit.register_structured("Enter", _Forward())
emit.register_structured("Exit", _Forward())
emit.register_structured("LoopCond", LoopCond())
emit.register_structured("NextIteration", NextIteration())
