"""Collectives of pygraph.distribute: PgAllreduce, PgBroadcast, PgAllgather.

Each op calls the host's collective engine (ctx->collectives, abi.h) from inside the compiled step, so a
data-parallel training step stays one call from Python. PgAllreduce takes a bucket of tensors: they are
packed into one scratch buffer, reduced (summed or averaged) by one engine call, then unpacked, so
many small gradients cost one network round, not one each."""

from __future__ import annotations

from .. import cxx, emit
from ..dims import cxx_dims, numel_expr
from . import common


def _engine_call(node, fn, args):
    """The engine call and its error path: the engine's message, reported for this node."""
    return (f"{{ char err[1024]; err[0] = 0; const pg_collectives* c = ctx->collectives; "
            f"int32_t st = c->{fn}(c->engine, {cxx.int_lit(node.attrs['key'])}, "
            f"{cxx.int_lit(node.attrs['signature'])}, {args}, err, sizeof(err)); "
            f"if (st != PG_OK) return ctx->fail(ctx, st, {node.id}, err); }}")


class _Bucket:
    """N tensors in, the same N shapes out."""

    def dims(self, lw, node, input_dims):
        return list(input_dims)

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        t = common.ctype(node.dtypes[0])
        code = emit.CODE[node.dtypes[0]]
        counts = [numel_expr(lw.dims[r]) for r in node.inputs]
        ins = [lw.buffers[r].name for r in node.inputs]
        outs = [common.out_buf(lw, node, k).name for k in range(len(node.inputs))]
        lines = [f"// k{index}: {node.op} {node.name}: {len(ins)} tensor(s) in one bucket", "{"]
        lines += [f"const int64_t c{k} = {c};" for k, c in enumerate(counts)]
        if len(ins) == 1:  # one tensor: reduce in its output buffer, no fusion buffer
            lines.append(f"{t}* fused = {outs[0]}; const int64_t total = c0;")
            lines.append(f"memcpy(fused, {ins[0]}, sizeof({t}) * c0);")
            lines.append(_engine_call(node, *self.call(node, code)))
            lines.append("}")
            return "", "\n".join(lines)
        slot = common.reserve_scratch(lw)
        lines.append("const int64_t total = " + " + ".join(f"c{k}" for k in range(len(counts))) + ";")
        lines.append(f"{t}* fused = static_cast<{t}*>(ctx->scratch(ctx, {slot}, sizeof({t}) * (total ? total : 1)));")
        lines.append(f'if (!fused) return ctx->fail(ctx, PG_RESOURCE_EXHAUSTED, {node.id}, '
                     f'"OOM allocating the fusion buffer of a collective");')
        offset = "0"
        for k, src in enumerate(ins):
            lines.append(f"memcpy(fused + {offset}, {src}, sizeof({t}) * c{k});")
            offset = f"{offset} + c{k}"
        lines.append(_engine_call(node, *self.call(node, code)))
        offset = "0"
        for k, dst in enumerate(outs):
            lines.append(f"memcpy({dst}, fused + {offset}, sizeof({t}) * c{k});")
            offset = f"{offset} + c{k}"
        lines.append("}")
        return "", "\n".join(lines)


class Allreduce(_Bucket):
    def call(self, node, code):
        op = "PG_REDUCE_AVERAGE" if node.attrs["average"] else "PG_REDUCE_SUM"
        if node.attrs.get("fp16"):
            op += " | PG_REDUCE_FP16"
        return "allreduce", f"fused, total, {code}, {op}"


class Broadcast(_Bucket):
    def call(self, node, code):
        return "broadcast", f"fused, total, {code}, {cxx.int_lit(node.attrs['root'], 0, 2**31 - 1)}"


class Allgather:
    """One tensor in; out: every rank's tensor stacked along the first dimension, rank 0's first. The first
    dimension may differ across ranks (as in Horovod): the shape code exchanges every rank's dims (the
    engine's `exchange`), checks that the others agree and sizes the output; the kernel then gathers
    counts[r] elements from rank r (`allgather`)."""

    def dims(self, lw, node, input_dims):
        d = input_dims[0]
        rank, size, nid = len(d), node.attrs["size"], node.id
        shapes = f"pg_gathered_dims{nid}"
        lw.table.code.append(
            f"int64_t {shapes}[{size * rank}];\n"
            f"{{ const int64_t mine[] = {cxx_dims(d)};\n"
            + _engine_call(node, "exchange", f"mine, {rank}, {shapes}, {size}") + "\n"
            f"  for (int r = 0; r < {size}; ++r) for (int k = 1; k < {rank}; ++k) if ({shapes}[r * {rank} + k] != "
            f"mine[k]) {{ char msg[256]; snprintf(msg, sizeof(msg), \"allgather: dimension %d of the tensor is "
            f"%lld on rank %d but %lld on this rank; only the first dimension may differ across ranks\", k, "
            f"(long long){shapes}[r * {rank} + k], r, (long long)mine[k]); "
            f"return ctx->fail(ctx, PG_INVALID_ARGUMENT, {nid}, msg); }} }}")
        rows = lw.table.define(f"[&] {{ int64_t s = 0; for (int r = 0; r < {size}; ++r) "
                               f"s = pg_dadd(s, {shapes}[r * {rank}]); return s; }}()")
        return [(rows,) + tuple(d[1:])]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        d = lw.dims[node.inputs[0]]
        src = lw.buffers[node.inputs[0]].name
        dst = common.out_buf(lw, node).name
        size, rank = node.attrs["size"], len(d)
        code = emit.CODE[node.dtypes[0]]
        return "", (f"// k{index}: {node.op} {node.name}\n{{ int64_t counts[{size}]; "
                    f"for (int r = 0; r < {size}; ++r) counts[r] = pg_gathered_dims{node.id}[r * {rank}] * "
                    f"({numel_expr(d[1:])});\n"
                    + _engine_call(node, "allgather", f"{src}, {dst}, counts, {size}, {code}") + " }")


emit.register_structured("PgAllreduce", Allreduce())
emit.register_structured("PgBroadcast", Broadcast())
emit.register_structured("PgAllgather", Allgather())
