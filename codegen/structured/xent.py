"""SparseSoftmaxCrossEntropyWithLogits: one pass over the labels (an out-of-range one fails the run with
TF's message), then per row the loss logsumexp(row) - row[label] and the backprop softmax - one_hot."""

from __future__ import annotations

from .. import cxx, emit
from . import common


class SparseSoftmaxXent:
    def dims(self, lw, node, input_dims):
        features, labels = input_dims
        if len(features) != 2 or len(labels) != 1:
            raise ValueError(f"SparseSoftmaxCrossEntropyWithLogits '{node.name}' (defined at {node.site}): needs "
                             f"features of rank 2 and labels of rank 1, got ranks {len(features)} and {len(labels)}")
        if features[0] != labels[0]:
            lw.table.check(f"{features[0]} == {labels[0]}", node.id, common.fail(node.id, [
                "logits and labels must have the same first dimension, got logits shape ", ("int", features[0]),
                "x", ("int", features[1]), " and labels shape [", ("int", labels[0]), "]"]))
        return [(features[0],), tuple(features)]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        rows, depth = (cxx.int_lit(d) if isinstance(d, int) else d for d in lw.dims[node.inputs[0]])
        t = common.ctype(node.dtypes[0])
        x, labels = common.in_buf(lw, node, 0).name, common.in_buf(lw, node, 1).name
        loss, back = common.out_buf(lw, node, 0).name, common.out_buf(lw, node, 1).name
        text = common.message(["Received a label value of ", ("int", "y"), " which is outside the valid range of [0, ",
                               ("int", "depth"), ").  Label values:"])
        bad = (f"{{ {text} for (int64_t i = 0; i < rows; ++i) {{ pg_msg_add(&m, \" \"); pg_msg_int(&m, "
               f"(int64_t){labels}[i]); }} return ctx->fail(ctx, PG_INVALID_ARGUMENT, {node.id}, m.text); }}")
        block = (f"// k{index}: SparseSoftmaxCrossEntropyWithLogits {node.name}\n{{\n"
                 f"  const int64_t rows = {rows}, depth = {depth};\n"
                 f"  for (int64_t r = 0; r < rows; ++r) {{\n"
                 f"    const int64_t y = (int64_t){labels}[r];\n"
                 f"    if (y < 0 || y >= depth) {bad}\n  }}\n"
                 f"  for (int64_t r = 0; r < rows; ++r) {{\n"
                 f"    const {t}* row = {x} + r * depth; {t}* g = {back} + r * depth;\n"
                 f"    {t} top = row[0];\n"
                 f"    for (int64_t j = 1; j < depth; ++j) top = row[j] > top ? row[j] : top;\n"
                 f"    {t} total = 0;\n"
                 f"    for (int64_t j = 0; j < depth; ++j) {{ g[j] = std::exp(row[j] - top); total += g[j]; }}\n"
                 f"    const int64_t y = (int64_t){labels}[r];\n"
                 f"    {loss}[r] = std::log(total) - (row[y] - top);\n"
                 f"    for (int64_t j = 0; j < depth; ++j) g[j] = g[j] / total - (j == y ? {t}(1) : {t}(0));\n"
                 f"  }}\n}}")
        return "", block


emit.register_structured("SparseSoftmaxCrossEntropyWithLogits", SparseSoftmaxXent())
