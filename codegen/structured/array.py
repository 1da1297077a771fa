"""PgArrayUnstack, PgArrayRead, PgArrayWrite and PgArrayStack: tf.nn.dynamic_rnn's arrays of per-step
values (pygraph/ops/tensor_array.py). One array is one std::vector of bytes declared with the buffers, so
its contents live for one run of the program (its memory is kept for the calling thread's next run), and
it holds `size` slots of one shape: the shape of the node named by
`source_node` (an Unstack's input without its first dim, or a Write's value). Slots never written read as
zeros. A flow output is a float scalar 0 that only orders the array's users."""

from __future__ import annotations

from .. import emit
from . import common


def _array_var(lw, node):
    """The C++ name of the node's array (declared once per program)."""
    arrays = lw.__dict__.setdefault("tensor_arrays", {})
    name = node.attrs["array"]
    if name not in arrays:
        var = arrays[name] = f"pg_array{len(arrays)}"
        # its memory is kept for the thread's next run (no fresh pages each step); its contents are not
        lw.allocs.append(f"static thread_local std::vector<unsigned char> {var}; bool {var}_set = false;  "
                         "// a tf.nn.dynamic_rnn array")
    return arrays[name]


def _slot_dims(lw, node):
    src = lw.nodes[node.attrs["source_node"]]
    if src.op == "PgArrayUnstack":
        return tuple(lw.dims[src.inputs[0]])[1:]
    return tuple(lw.dims[src.inputs[2]])


def _value(lw, ref):
    """A C++ expression for the scalar `ref` (a buffer's first element or a literal)."""
    buf = lw.buffers.get(ref)
    if buf is None:
        node = lw.nodes[ref.node]
        return emit.literal(node.attrs["value"], node.dtypes[0])
    return f"{buf.name}[0]"


def _index(lw, node, ref):
    """Declares `idx` (the slot) and fails unless it lies in [0, size)."""
    size = int(node.attrs["size"])
    bad = common.fail(node.id, [f"{node.op} '{node.name}': index ", ("int", "idx"),
                                f" is out of range for an array of {size} steps"])
    return f"const int64_t idx = (int64_t)({_value(lw, ref)}); if (idx < 0 || idx >= {size}) {bad}"


def _copy_out(arr, out, n, offset):
    """C++ copying `n` elements of `out`'s type from byte `offset` of the array (zeros if it was never written)."""
    return (f"{{ const size_t nb = sizeof(*{out}) * (size_t)({n}); "
            f"if ({arr}_set) {{ if (nb) memcpy({out}, {arr}.data() + {offset}, nb); }} "
            f"else if (nb) memset({out}, 0, nb); }}")


class Unstack:
    def dims(self, lw, node, input_dims):
        return [()]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        out, src = common.out_buf(lw, node, 0), common.in_buf(lw, node, 0)
        arr, dims, size = _array_var(lw, node), tuple(lw.dims[node.inputs[0]]), int(node.attrs["size"])
        first = dims[0] if dims else 1
        bad = common.fail(node.id, [f"{node.op} '{node.name}': a value of ", ("int", f"(int64_t)({first})"),
                                    f" steps for an array of {size}"])
        return "", (f"// k{index}: PgArrayUnstack {node.name}\n"
                    f"if ((int64_t)({first}) != {size}) {bad}\n"
                    f"{{ const size_t nb = sizeof(*{src.name}) * (size_t)({common.numel(dims)}); {arr}.resize(nb); "
                    f"if (nb) memcpy({arr}.data(), {src.name}, nb); {arr}_set = true; }}\n{out.name}[0] = 0;")


class Read:
    def dims(self, lw, node, input_dims):
        return [_slot_dims(lw, node)]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        out, arr = common.out_buf(lw, node, 0), _array_var(lw, node)
        n = common.numel(out.dims)
        return "", (f"// k{index}: PgArrayRead {node.name}\n{_index(lw, node, node.inputs[1])}\n"
                    f"{_copy_out(arr, out.name, n, 'idx * nb')}")


class Write:
    def dims(self, lw, node, input_dims):
        return [()]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        out, arr, size = common.out_buf(lw, node, 0), _array_var(lw, node), int(node.attrs["size"])
        ctype = common.ctype(node.attrs["T"])
        n = common.numel(tuple(lw.dims[node.inputs[2]]))
        src = lw.buffers.get(node.inputs[2])
        lines = [f"// k{index}: PgArrayWrite {node.name}", _index(lw, node, node.inputs[1])]
        if src is None:  # a scalar literal
            lines.append(f"const {ctype} lit[1] = {{{_value(lw, node.inputs[2])}}};")
        name = src.name if src is not None else "lit"
        lines.append(f"const size_t nb = sizeof({ctype}) * (size_t)({n}); "
                     f"if (!{arr}_set) {{ {arr}.assign({size} * nb, 0); {arr}_set = true; }}")
        if node.attrs.get("accumulate"):
            lines.append(f"{ctype}* dst = ({ctype}*)({arr}.data() + idx * nb); "
                         f"for (int64_t i = 0; i < (int64_t)({n}); ++i) dst[i] += {name}[i];")
        else:
            lines.append(f"if (nb) memcpy({arr}.data() + idx * nb, {name}, nb);")
        lines.append(f"{out.name}[0] = 0;")
        return "", "\n".join(lines)


class Stack:
    def dims(self, lw, node, input_dims):
        return [(int(node.attrs["size"]),) + _slot_dims(lw, node)]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        out, arr = common.out_buf(lw, node, 0), _array_var(lw, node)
        n = common.numel(out.dims)
        return "", f"// k{index}: PgArrayStack {node.name}\n{_copy_out(arr, out.name, n, '0')}"


emit.register_structured("PgArrayUnstack", Unstack())
emit.register_structured("PgArrayRead", Read())
emit.register_structured("PgArrayWrite", Write())
emit.register_structured("PgArrayStack", Stack())
