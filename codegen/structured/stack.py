"""PgStackPush and PgStackPop: the stacks on which a tf.while_loop saves values for its gradient loop
(pygraph/ops/while_grad.py). The forward loop's body pushes a value every iteration; the gradient loop,
which runs as many iterations afterwards, pops them in reverse. One stack is one std::vector of bytes
declared with the buffers, so its contents live for one run of the program (its memory is kept for the
calling thread's next run: no fresh pages every training step). A `dims_only` pair copies nothing:
its readers use only the value's dims (the same in every iteration), and its buffer stays unwritten."""

from __future__ import annotations

from .. import emit
from ..ir import Ref
from . import common


def _stack_var(lw, node):
    """The C++ name of the node's stack (declared once per program)."""
    stacks = lw.__dict__.setdefault("loop_stacks", {})
    name = node.attrs["stack"]
    if name not in stacks:
        stacks[name] = f"pg_stack{len(stacks)}"
        lw.allocs.append(f"static thread_local std::vector<unsigned char> {stacks[name]}; {stacks[name]}.clear();  "
                         "// a tf.while_loop stack (its memory kept for the thread's next run)")
    return stacks[name]


class StackPush(common.InputValue):
    """Appends its input's bytes to the stack; its output is the input (in the input's buffer)."""

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        out = common.out_buf(lw, node, 0)
        stack, n = _stack_var(lw, node), common.numel(out.dims)
        src = lw.buffers.get(node.inputs[0])
        lines = [f"// k{index}: PgStackPush {node.name}"]
        if node.attrs.get("dims_only"):  # the gradient reads only its dims, known before the loops run
            copy = f"memcpy({out.name}, {src.name}, sizeof(*{out.name}) * ({n}));"
            return "", "\n".join(lines + ([copy] if src is not None and src.name != out.name else []))
        if src is None:  # a scalar literal
            value = lw.nodes[node.inputs[0].node].attrs["value"]
            lines.append(f"{out.name}[0] = {emit.literal(value, node.dtypes[0])};")
            src = out
        elif src.name != out.name:
            lines.append(f"memcpy({out.name}, {src.name}, sizeof(*{out.name}) * ({n}));")
        lines.append(f"{{ const size_t nb = sizeof(*{src.name}) * (size_t)({n}); const size_t at = {stack}.size(); "
                     f"{stack}.resize(at + nb); if (nb) memcpy({stack}.data() + at, {src.name}, nb); }}")
        return "", "\n".join(lines)


class StackPop:
    """The value pushed last (the push node's shape), taken off the stack."""

    def dims(self, lw, node, input_dims):
        return [lw.dims[Ref(node.attrs["push"], 0)]]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        out = common.out_buf(lw, node, 0)
        stack, n = _stack_var(lw, node), common.numel(out.dims)
        if node.attrs.get("dims_only"):
            return "", f"// k{index}: PgStackPop {node.name}: only its dims are read (nothing saved)"
        empty = common.fail(node.id, ["internal: the gradient loop popped more values than its forward loop "
                                      "pushed"], code="PG_INTERNAL")
        return "", (f"// k{index}: PgStackPop {node.name}\n"
                    f"{{ const size_t nb = sizeof(*{out.name}) * (size_t)({n}); if ({stack}.size() < nb) {{ {empty} }} "
                    f"const size_t at = {stack}.size() - nb; if (nb) memcpy({out.name}, {stack}.data() + at, nb); "
                    f"{stack}.resize(at); }}")


emit.register_structured("PgStackPush", StackPush())
emit.register_structured("PgStackPop", StackPop())
