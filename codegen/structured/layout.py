"""Shape queries, broadcasting, reshapes and filled tensors: Shape, Size, BroadcastLike (value broadcast to
another tensor's run-time shape, the gradient helper's counterpart of SumToShape), Reshape, ExpandDims,
Squeeze (all three share their input's memory), Fill and Range."""

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


class Reshape:
    """Reshape/ExpandDims/Squeeze: the same elements with other dims. The output aliases the input's buffer
    (lower.py) unless it is fetched, then it is one memcpy."""

    def dims(self, lw, node, input_dims):
        d = input_dims[0]
        if node.op == "ExpandDims":
            axis = common.axis_of(node, node.attrs["axis"], len(d), extra=1)
            return [tuple(d[:axis]) + (1,) + tuple(d[axis:])]
        if node.op == "Squeeze":
            return [self._squeeze(lw, node, d)]
        return [self._reshape(lw, node, d)]

    def _squeeze(self, lw, node, d):
        axes = node.attrs.get("squeeze_dims") or [k for k, x in enumerate(d) if x == 1]
        axes = [common.axis_of(node, a, len(d), "squeeze_dims") for a in axes]
        for a in axes:
            if d[a] != 1:
                lw.table.check(f"{d[a]} == 1", node.id, common.fail(node.id, [
                    f"Can not squeeze dim[{a}], expected a dimension of 1, got ", ("int", d[a])]))
        return tuple(x for k, x in enumerate(d) if k not in axes)

    def _reshape(self, lw, node, d):
        total = common.numel(d)
        target = list(common.shape_input_dims(lw, node, 1))
        known = [x for x in target if x != -1]
        known_expr = common.numel(known)
        if -1 in target:
            k = target.index(-1)
            if all(isinstance(x, int) for x in d + tuple(known)):
                n = 1
                for x in d:
                    n *= x
                m = 1
                for x in known:
                    m *= x
                target[k] = n // m if m else 0
                return tuple(target)
            lw.table.check(f"({known_expr}) != 0 && ({total}) % ({known_expr}) == 0", node.id, common.fail(node.id, [
                "Input to reshape is a tensor with ", ("int", total), " values, but the requested shape requires a "
                "multiple of ", ("int", known_expr)]))
            target[k] = lw.table.define(f"({total}) / ({known_expr})")
            return tuple(target)
        if not all(isinstance(x, int) for x in tuple(d) + tuple(target)):
            lw.table.check(f"({total}) == ({known_expr})", node.id, common.fail(node.id, [
                "Input to reshape is a tensor with ", ("int", total), " values, but the requested shape has ",
                ("int", known_expr)]))
        return tuple(target)

    def alias(self, lw, node):
        return node.inputs[0]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        src, dst = common.in_buf(lw, node), common.out_buf(lw, node)
        if src.name == dst.name:
            return "", f"// k{index}: {node.op} {node.name}: shares its input's memory"
        n = common.numel(dst.dims)
        return "", f"// k{index}: {node.op} {node.name}\nmemcpy({dst.name}, {src.name}, sizeof(*{dst.name}) * ({n}));"


class Fill:
    """Fill(dims, value): a tensor of run-time dims holding one value everywhere."""

    def dims(self, lw, node, input_dims):
        return [common.shape_input_dims(lw, node, 0)]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        out = common.out_buf(lw, node)
        value = common.in_buf(lw, node, 1).name
        block = (f"// k{index}: Fill {node.name}\n{common.dims_array('od', out.dims)} const int64_t one[] = {{1}};\n"
                 f"pg_broadcast_copy(ctx, {value}, 0, one, {out.name}, {len(out.dims)}, od);")
        return common.library(lw, "layout.h.j2"), block


class Range:
    """Range with static start and delta: out[i] = start + i * delta (size fixed when the graph was built)."""

    def dims(self, lw, node, input_dims):
        return [tuple(node.shapes[0])]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        out = common.out_buf(lw, node)
        t = common.ctype(node.dtypes[0])
        start = emit.literal(node.attrs["start"], node.dtypes[0])
        delta = emit.literal(node.attrs["delta"], node.dtypes[0])
        # TF adds delta step by step (so float ranges round as TF's do)
        return "", (f"// k{index}: Range {node.name}\n"
                    f"{{ {t} v = {start}; for (int64_t i = 0; i < {out.dims[0]}; ++i) {{ {out.name}[i] = v; "
                    f"v += {delta}; }} }}")


for _op in ("Reshape", "ExpandDims", "Squeeze"):
    emit.register_structured(_op, Reshape())
emit.register_structured("Fill", Fill())
emit.register_structured("Range", Range())
emit.register_structured("Shape", ShapeOf())
emit.register_structured("Size", SizeOf())
emit.register_structured("BroadcastLike", BroadcastLike())
