"""Opaque custom op kernels (tf.load_op_library): called between fused loops through abi.h's tables.

Per node the generated code holds a static pg_custom_node (the op table found through ctx->find_op and
the kernel matching the node's type attributes) and a static pg_attr array: the node's attributes as
data, each value rendered by the typed helpers of codegen/cxx.py (strings as byte arrays), never as text.
Output shapes come from the op's shape function: dims known when the graph was built are constants, the
others are read from a call of the shape function on the run's input shapes, before any allocation."""

from __future__ import annotations

from .. import cxx, emit
from ..dims import MAX_RANK
from ..ir import Ref
from . import common

_ATTR_KIND = {"int": "PG_ATTR_INT", "float": "PG_ATTR_FLOAT", "bool": "PG_ATTR_BOOL", "type": "PG_ATTR_TYPE",
              "string": "PG_ATTR_STRING", "list(int)": "PG_ATTR_LIST_INT", "list(type)": "PG_ATTR_LIST_TYPE"}
_DTYPE_CODE = {"float32": 1, "float64": 2, "int32": 3, "int64": 4, "bool": 5}  # pg_dtype


class CustomKernel:
    """Emitter for one custom op type. `attrs`: [(name, attr_schema type)] in the op's spec order (names
    are identifiers: spec.py checked them)."""

    def __init__(self, op_type, attrs):
        self.op_type = cxx.ident(op_type)
        self.attrs = [(cxx.ident(n), t) for n, t in attrs]

    def _attr_records(self, node):
        """Declarations of the node's static pg_attr array `pg_ca<id>` and the arrays its items live in."""
        decls, records = [], []
        for k, (name, kind) in enumerate(self.attrs):
            value = node.attrs[name]
            i, f, count, items = "0", "0.0", 0, "nullptr"
            if kind in ("int", "bool"):
                i = cxx.int64_lit(int(value)) if kind == "int" else cxx.bool_lit(value)
            elif kind == "float":
                f = cxx.float_lit(value, single=False)
            elif kind == "type":
                i = cxx.int_lit(_DTYPE_CODE[value])
            else:
                arr = f"pg_ca{node.id}_{k}"
                if kind == "string":
                    text = value.text if isinstance(value, cxx.Opaque) else value
                    data = text.encode() if isinstance(text, str) else bytes(text)
                    body = ", ".join(cxx.int_lit(b) for b in data) or "0"
                    decls.append(f"static const char {arr}[] = {{{body}}};")
                    count = len(data)
                elif kind == "list(int)":
                    body = ", ".join(cxx.int64_lit(v) for v in value) or "0"
                    decls.append(f"static const int64_t {arr}[] = {{{body}}};")
                    count = len(value)
                else:
                    body = ", ".join(cxx.int_lit(_DTYPE_CODE[v]) for v in value) or "0"
                    decls.append(f"static const int32_t {arr}[] = {{{body}}};")
                    count = len(value)
                items = arr
            records.append(f'{{"{name}", {_ATTR_KIND[kind]}, {count}, {i}, {f}, {items}}}')
        body = ", ".join(records) if records else '{"", 0, 0, 0, 0.0, nullptr}'
        decls.append(f"static const pg_attr pg_ca{node.id}[] = {{{body}}};")
        return decls

    def dims(self, lw, node, input_dims):
        n = node.id
        code = lw.table.code
        code.extend(self._attr_records(node))
        code.append(f"static pg_custom_node pg_cn{n} = {{nullptr, nullptr, nullptr}};")
        code.append(f'{{ const int32_t st = pg_custom_resolve(ctx, &pg_cn{n}, "{self.op_type}", pg_ca{n}, '
                    f"{len(self.attrs)}, {n}); if (st != PG_OK) return st; }}")
        outs = []
        for k, static in enumerate(node.shapes):
            if static is None:
                raise NotImplementedError(
                    f"pygraph cannot compile '{node.name}' ({node.op}, defined at {node.site}): its shape "
                    f"function leaves the rank of output {k} unknown; pygraph plans outputs before kernels run.")
            outs.append(list(static))
        if any(d is None for o in outs for d in o):
            self._run_shape_fn(lw, node, input_dims, outs)
        return [tuple(o) for o in outs]

    def _run_shape_fn(self, lw, node, input_dims, outs):
        n, code = node.id, lw.table.code
        rows = []
        for d in input_dims:
            rows.extend(str(x) for x in d)
            rows.extend("0" for _ in range(MAX_RANK - len(d)))
        ranks = ", ".join(str(len(d)) for d in input_dims) or "0"
        n_out = len(outs)
        code.append(f"int32_t pg_sr{n}[{n_out}]; int64_t pg_sd{n}[{n_out * MAX_RANK}];")
        fail = (f'{{ pg_msg m; m.len = 0; m.text[0] = 0; pg_msg_add(&m, "{self.op_type}: "); pg_msg_add(&m, err); '
                f"return ctx->fail(ctx, PG_INVALID_ARGUMENT, {n}, m.text); }}")
        code.append(
            f"{{ const int32_t ir[] = {{{ranks}}}; const int64_t id[] = {{{', '.join(rows) or '0'}}}; "
            f"char err[512]; err[0] = 0; pg_shape_call c = {{__atomic_load_n(&pg_cn{n}.op, __ATOMIC_ACQUIRE), "
            f"{len(input_dims)}, {n_out}, "
            f"{len(self.attrs)}, ir, id, pg_ca{n}, pg_sr{n}, pg_sd{n}, err, 512}}; "
            f"if (__atomic_load_n(&pg_cn{n}.op, __ATOMIC_ACQUIRE)->shape(&c) != PG_OK) {fail} }}")
        for k, o in enumerate(outs):
            code.append(f"if (pg_sr{n}[{k}] != {len(o)}) " + common.fail(
                n, [f"the shape function of {self.op_type} gave output {k} a rank other than {len(o)}"]))
            for j, d in enumerate(o):
                if d is None:
                    expr = f"pg_sd{n}[{k * MAX_RANK + j}]"
                    code.append(f"if ({expr} < 0) " + common.fail(
                        n, [f"the shape function of {self.op_type} leaves dimension {j} of output {k} unknown "
                            "for these inputs; pygraph needs every output shape before the kernel runs"]))
                    o[j] = lw.table.define(expr)

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        n = node.id
        lines = [f"// k{index}: custom op {self.op_type} {node.name}"]

        def tensor(var, buf, dims, dtype):
            shape = ", ".join(str(d) for d in dims) or "0"
            return (f"{var}.data = (void*){buf.name}; {var}.ndim = {len(dims)}; {var}.dtype = {emit.CODE[dtype]}; "
                    f"{{ const int64_t s[] = {{{shape}}}; for (int k = 0; k < {len(dims)}; ++k) "
                    f"{var}.shape[k] = s[k]; }}")

        n_in, n_out = len(node.inputs), len(node.dtypes)
        lines.append(f"pg_tensor ins[{max(n_in, 1)}]; pg_tensor outs[{max(n_out, 1)}];")
        for i, r in enumerate(node.inputs):
            lines.append(tensor(f"ins[{i}]", lw.buffers[r], lw.dims[r], lw.dtype(r)))
        for k in range(n_out):
            ref = Ref(n, k)
            lines.append(tensor(f"outs[{k}]", lw.buffers[ref], lw.dims[ref], node.dtypes[k]))
        lines.append(f"pg_kernel_call call = {{ctx, {n}, {n_in}, {n_out}, {len(self.attrs)}, ins, outs, "
                     f"pg_ca{n}, &pg_cn{n}.instance}};")
        lines.append(f"const int32_t st = __atomic_load_n(&pg_cn{n}.compute, __ATOMIC_ACQUIRE)(&call); "
                     "if (st != PG_OK) return st;")
        return common.library(lw, "custom.h.j2"), "\n".join(lines)


def register(op_type, attrs):
    """Called by the loader (pygraph/custom_ops) for each op of a library."""
    emit.register_structured(op_type, CustomKernel(op_type, attrs))
