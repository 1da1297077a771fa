"""TopKV2 (tf.nn.top_k): std::partial_sort of each last-axis row's indices; templates/topk.h.j2."""

from __future__ import annotations

from .. import cxx, emit
from ..dims import INT64_MAX
from . import common


class TopK:
    def dims(self, lw, node, input_dims):
        d = input_dims[0]
        if not d:
            raise ValueError(f"internal: {node.name}: TopKV2 needs a rank >= 1 input")
        k = node.attrs["k"]
        n = d[-1]
        if isinstance(n, int):
            if n < k:
                raise ValueError(f"TopKV2 '{node.name}' (defined at {node.site}): input must have at least k "
                                 f"columns. Had {n}, needed {k}")
        else:
            lw.table.check(f"{n} >= {cxx.int_lit(k)}", node.id, common.fail(node.id, [
                "input must have at least k columns. Had ", ("int", n), f", needed {k}"]))
        out = (*d[:-1], k)
        return [out, out]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        d = lw.dims[node.inputs[0]]
        n, k = d[-1], cxx.int_lit(node.attrs["k"], 0, INT64_MAX)
        rows = common.numel(d[:-1])
        t = common.ctype(node.dtypes[0])
        lib = common.library(lw, "topk.h.j2")
        slot = common.reserve_scratch(lw)
        n_term = cxx.int_lit(n) if isinstance(n, int) else n
        block = (f"// k{index}: TopKV2 {node.name}\n{{\n"
                 f"  const int64_t rows = {rows}, n = {n_term}, k = {k};\n"
                 f"  if (n > INT32_MAX) {common.fail(node.id, ['TopKV2: rows must have fewer than 2^31 entries'])}\n"
                 f"  if (rows > 0 && k > 0) {{\n"
                 f"    int32_t* order = static_cast<int32_t*>(ctx->scratch(ctx, {slot}, sizeof(int32_t) * rows * n));\n"
                 f"    if (!order) return ctx->fail(ctx, PG_RESOURCE_EXHAUSTED, {node.id}, \"out of memory\");\n"
                 f"    pg_topk_job<{t}> s;\n"
                 f"    s.x = {common.in_buf(lw, node).name}, s.values = {common.out_buf(lw, node, 0).name}, "
                 f"s.indices = {common.out_buf(lw, node, 1).name}, s.n = n, s.k = k, s.order = order;\n"
                 f"    ctx->parallel_for(ctx, rows, pg_imax(1, (INT64_C(1) << 12) / pg_imax(1, n)), "
                 f"pg_topk_job<{t}>::run, &s);\n  }}\n}}")
        return lib, block


emit.register_structured("TopKV2", TopK())
