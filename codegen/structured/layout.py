"""Shape queries and broadcasting: Shape, Size, BroadcastLike (value broadcast to another tensor's
run-time shape, the gradient helper's counterpart of SumToShape)."""

from __future__ import annotations

from .. import emit
from . import common


class ShapeOf:
    """Shape(x): a rank-1 tensor of x's run-time dims."""

    def dims(self, lw, node, input_dims):
        return [(len(input_dims[0]),)]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        d = lw.dims[node.inputs[0]]
        out = common.out_buf(lw, node).name
        t = common.ctype(node.dtypes[0])
        body = " ".join(f"{out}[{k}] = ({t})({x});" for k, x in enumerate(d))
        return "", f"// k{index}: Shape {node.name}\n{body}"


class SizeOf:
    """Size(x): x's run-time element count as a scalar."""

    def dims(self, lw, node, input_dims):
        return [()]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        n = common.numel(lw.dims[node.inputs[0]])
        out = common.out_buf(lw, node).name
        return "", f"// k{index}: Size {node.name}\n{out}[0] = ({common.ctype(node.dtypes[0])})({n});"


class BroadcastLike:
    """BroadcastLike(value, x): value broadcast to x's run-time dims (value's dims must be 1 or x's)."""

    def dims(self, lw, node, input_dims):
        v, x = input_dims
        if len(v) > len(x):
            raise ValueError(f"internal: {node.name}: value rank {len(v)} exceeds the target rank {len(x)}")
        lead = len(x) - len(v)
        for vd, xd in zip(v, x[lead:]):
            if vd != xd and vd != 1:
                lw.table.check(f"{vd} == {xd} || {vd} == 1", node.id,
                               lw.fail_shapes(node, [node.inputs[0], node.inputs[1]]))
        return [tuple(x)]

    def alias(self, lw, node):  # same dims: nothing to broadcast
        same = tuple(lw.dims[node.inputs[0]]) == tuple(lw.dims[node.inputs[1]])
        return node.inputs[0] if same else None

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        if common.out_buf(lw, node).name == common.in_buf(lw, node).name:
            return "", f"// k{index}: BroadcastLike {node.name}: same dims (aliases its input)"
        v, x = lw.dims[node.inputs[0]], lw.dims[node.inputs[1]]
        src, dst = common.in_buf(lw, node).name, common.out_buf(lw, node).name
        block = (f"// k{index}: BroadcastLike {node.name}\n{common.dims_array('vd', v)} "
                 f"{common.dims_array('xd', x)}\n"
                 f"pg_broadcast_copy(ctx, {src}, {len(v)}, vd, {dst}, {len(x)}, xd);")
        return common.library(lw, "layout.h.j2"), block


emit.register_structured("Shape", ShapeOf())
emit.register_structured("Size", SizeOf())
emit.register_structured("BroadcastLike", BroadcastLike())
