"""Random ops: RandomUniform, RandomStandardNormal, TruncatedNormal, RandomUniformInt, RandomShuffle,
Multinomial.

The front end gives each op a last input: its per-session state buffer {seed, seed2, counter} (int64): the
kernel takes TF's Philox key and counter from it and advances the counter as TF does (templates/random.h.j2)."""

from __future__ import annotations

from .. import cxx, emit
from . import common

KINDS = {"RandomUniform": "PG_RAND_UNIFORM", "RandomStandardNormal": "PG_RAND_NORMAL",
         "TruncatedNormal": "PG_RAND_TRUNCATED", "RandomUniformInt": "PG_RAND_INT"}


class RandomOp:
    def __init__(self, op_type):
        self.kind = KINDS[op_type]

    def dims(self, lw, node, input_dims):
        return [common.shape_input_dims(lw, node, 0)]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        out = common.out_buf(lw, node)
        t = common.ctype(node.dtypes[0])
        state = lw.buffers[node.inputs[-1]].name
        n = common.numel(out.dims)
        seeds = f"seed={cxx.int_lit(node.attrs['seed'])}, seed2={cxx.int_lit(node.attrs['seed2'])}"
        lines = [f"// k{index}: {node.op} {node.name} ({seeds})"]
        if self.kind == "PG_RAND_INT":
            lo, hi = common.in_buf(lw, node, 1).name, common.in_buf(lw, node, 2).name
            lines.append(f"if (!({lo}[0] < {hi}[0])) " + common.fail(node.id, [
                "Need minval < maxval: ", ("int", f"{lo}[0]"), " >= ", ("int", f"{hi}[0]")]))
            lines.append(f"pg_random<{t}, {self.kind}>(ctx, {out.name}, {n}, {state}, {lo}[0], "
                         f"static_cast<uint64_t>({hi}[0]) - static_cast<uint64_t>({lo}[0]));")
        else:
            lines.append(f"pg_random<{t}, {self.kind}>(ctx, {out.name}, {n}, {state}, ({t})0, 0);")
        return common.library(lw, "random.h.j2"), "\n".join(lines)


class RandomShuffle:
    """TF's Fisher-Yates over the first dimension, one Philox word per swap (templates/random.h.j2)."""

    def dims(self, lw, node, input_dims):
        return [input_dims[0]]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        out, src = common.out_buf(lw, node), common.in_buf(lw, node, 0)
        state = lw.buffers[node.inputs[-1]].name
        dims = out.dims
        rows = common.numel(dims[:1]) if dims else "1"
        row = common.numel(dims[1:])
        slot = common.reserve_scratch(lw)
        perm = f"perm{index}"
        code = (f"// k{index}: RandomShuffle {node.name}\n"
                f"int64_t* {perm} = static_cast<int64_t*>(ctx->scratch(ctx, {slot}, sizeof(int64_t) * ({rows}) + 8));\n"
                f"if (!{perm}) return ctx->fail(ctx, PG_RESOURCE_EXHAUSTED, {node.id}, \"out of memory\");\n"
                f"pg_shuffle({out.name}, {src.name}, {rows}, {row}, {state}, {perm});")
        return common.library(lw, "random.h.j2"), code


class Multinomial:
    """TF's CPU MultinomialFunctor in one shard (templates/random.h.j2, pg_multinomial)."""

    def dims(self, lw, node, input_dims):
        source = lw.nodes[node.inputs[1].node]
        if source.op == "Const":
            n = int(source.attrs["value"])
        elif source.op == "Arg" and source.attrs.get("kind") in ("feed", "const"):
            n = lw.table.define(f"(int64_t)static_cast<const int32_t*>(args[{source.attrs['index']}].data)[0]")
            lw.table.check(f"{n} >= 0", node.id, common.fail(node.id, [
                "num_samples should be non-negative, got ", ("int", n)]))
        else:
            raise NotImplementedError(f"pygraph needs tf.multinomial's num_samples as a constant or a fed value "
                                      f"(node '{node.name}', defined at {node.site}).")
        return [(input_dims[0][0], n)]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        out, logits = common.out_buf(lw, node), common.in_buf(lw, node, 0)
        state = lw.buffers[node.inputs[-1]].name
        batch, classes = lw.dims[node.inputs[0]]
        n = out.dims[1]
        slot = common.reserve_scratch(lw)
        cdf = f"cdf{index}"
        code = (f"// k{index}: Multinomial {node.name}\n"
                f"if (({batch}) > 0 && ({n}) > 0 && ({classes}) <= 0) " + common.fail(node.id, [
                    "num_classes should be positive, got ", ("int", classes)]) + "\n"
                f"double* {cdf} = static_cast<double*>(ctx->scratch(ctx, {slot}, sizeof(double) * ({classes}) + 8));\n"
                f"if (!{cdf}) return ctx->fail(ctx, PG_RESOURCE_EXHAUSTED, {node.id}, \"out of memory\");\n"
                f"pg_multinomial({logits.name}, {out.name}, {batch}, {classes}, {n}, {state}, {cdf});")
        return common.library(lw, "random.h.j2"), code


for _op in KINDS:
    emit.register_structured(_op, RandomOp(_op))
emit.register_structured("RandomShuffle", RandomShuffle())
emit.register_structured("Multinomial", Multinomial())
