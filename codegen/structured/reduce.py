"""Reductions: Sum, Mean, Max, Min, Prod over static axes; SumToShape (the gradient of broadcasting) over
the axes that broadcasting added; ArgMax/ArgMin. All call the engine in templates/reduce.h.j2."""

from __future__ import annotations

from .. import emit
from . import common, prologue

OPS = {"Sum": "pg_rsum", "Mean": "pg_rmean", "Max": "pg_rmax", "Min": "pg_rmin", "Prod": "pg_rprod"}


def normalize_axes(node, rank):
    """The node's `axis` attr (None = all) as sorted non-negative ints for an input of `rank`."""
    axis = node.attrs.get("axis")
    if axis is None:
        return list(range(rank))
    out = set()
    for a in axis:
        if not -rank <= a < rank:
            raise ValueError(f"Invalid reduction dimension {a} for input with {rank} dimensions "
                             f"(node '{node.name}', defined at {node.site}).")
        out.add(a % rank)
    return sorted(out)


def paths(dims, mask):
    """Which engine paths (PG_ROWS 1, PG_COLS 2, PG_MULTI 4) a reduction of `dims` over `mask` can need;
    mask entries are True, False or None (decided at run time). Static size-1 axes never matter."""
    axes = [(d, m) for d, m in zip(dims, mask) if d != 1]
    if any(m is None for _, m in axes):
        return 7
    reduced = [k for k, (_, m) in enumerate(axes) if m]
    if not reduced:
        return 3
    if any(not axes[k][1] for k in range(reduced[0], reduced[-1])):
        return 7  # kept axes between reduced ones: separate runs may need several passes
    trailing = [d for d, _ in axes[reduced[-1] + 1:]]
    if not trailing:
        return 1
    return 2 if all(isinstance(d, int) for d in trailing) else 3


class Reduce:
    def __init__(self, op_struct):
        self.op_struct = op_struct

    def dims(self, lw, node, input_dims):
        d = input_dims[0]
        axes = normalize_axes(node, len(d))
        if node.attrs.get("keep_dims"):
            return [tuple(1 if k in axes else x for k, x in enumerate(d))]
        return [tuple(x for k, x in enumerate(d) if k not in axes)]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        d = lw.dims[node.inputs[0]]
        axes = normalize_axes(node, len(d))
        mask = "{" + ", ".join("true" if k in axes else "false" for k in range(len(d))) + "}" if d else "{false}"
        lib = common.library(lw, "reduce.h.j2")
        fused, src = prologue.source(lw, kernel, index, node)
        block = common.macros("reduce.cc.j2").reduce(
            k=index, node=node, op=self.op_struct, T=common.ctype(node.dtypes[0]),
            paths=paths(d, [k in axes for k in range(len(d))]), slot=common.reserve_scratch(lw, 3),
            src=src, dst=common.out_buf(lw, node).name, rank=len(d), dims=common.dims_array("dims", d), mask=mask)
        return lib + fused, block


class SumToShape:
    """sum_to_shape_of(grad, x): sums grad over the axes where x was broadcast; output has x's shape."""

    def dims(self, lw, node, input_dims):
        g, x = input_dims
        if len(x) > len(g):
            raise ValueError(f"internal: {node.name}: target rank {len(x)} exceeds the gradient's rank {len(g)}")
        lead = len(g) - len(x)
        for k, xd in enumerate(x):
            gd = g[lead + k]
            if xd != gd and xd != 1:
                lw.table.check(f"{xd} == {gd} || {xd} == 1", node.id,
                               lw.fail_shapes(node, [node.inputs[0], node.inputs[1]]))
        return [tuple(x)]

    def alias(self, lw, node):  # nothing to sum: the output is the gradient itself
        same = tuple(lw.dims[node.inputs[0]]) == tuple(lw.dims[node.inputs[1]])
        return node.inputs[0] if same else None

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        if not kernel.data.get("prologue") and common.out_buf(lw, node).name == common.in_buf(lw, node).name:
            return "", f"// k{index}: SumToShape {node.name}: nothing to sum (aliases its input)"
        g, x = lw.dims[node.inputs[0]], lw.dims[node.inputs[1]]
        lead = len(g) - len(x)
        # an axis is summed when x lacks it or has size 1 there (decided at run time for symbolic dims)
        conds = ["true"] * lead + [f"({xd}) == 1 && ({gd}) != 1" for xd, gd in zip(x, g[lead:])]
        static = [True] * lead + [True if xd == 1 else False if xd == gd or isinstance(xd, int) else None
                                  for xd, gd in zip(x, g[lead:])]
        mask = "{" + ", ".join(conds) + "}" if g else "{false}"
        lib = common.library(lw, "reduce.h.j2")
        fused, src = prologue.source(lw, kernel, index, node)
        block = common.macros("reduce.cc.j2").reduce(
            k=index, node=node, op="pg_rsum", T=common.ctype(node.dtypes[0]), paths=paths(g, static),
            slot=common.reserve_scratch(lw, 3),
            src=src, dst=common.out_buf(lw, node).name, rank=len(g), dims=common.dims_array("dims", g), mask=mask)
        return lib + fused, block


class ArgReduce:
    def __init__(self, is_max):
        self.is_max = is_max

    def dims(self, lw, node, input_dims):
        d = input_dims[0]
        axis = _arg_axis(node, len(d))
        if not isinstance(d[axis], int) or d[axis] == 0:
            lw.table.check(f"{d[axis]} > 0", node.id, _empty_axis_failure(node, axis, d))
        return [tuple(x for k, x in enumerate(d) if k != axis)]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        d = lw.dims[node.inputs[0]]
        axis = _arg_axis(node, len(d))
        block = common.macros("reduce.cc.j2").argreduce(
            k=index, node=node, is_max="true" if self.is_max else "false", T=lw.ctype(node.inputs[0]),
            I=common.ctype(node.dtypes[0]), src=common.in_buf(lw, node).name, dst=common.out_buf(lw, node).name,
            na=common.numel(d[:axis]), nr=str(d[axis]), nc=common.numel(d[axis + 1:]))
        return common.library(lw, "reduce.h.j2"), block


def _arg_axis(node, rank):
    axis = node.attrs.get("axis", 0)
    if not -rank <= axis < rank:
        raise ValueError(f"Expected dimension in the range [{-rank}, {rank}), but got {axis} "
                         f"(node '{node.name}', defined at {node.site}).")
    return axis % rank


def _empty_axis_failure(node, axis, d):
    return common.fail(node.id, [f"Reduction axis {axis} is empty in shape ", ("shape", len(d), "s")],
                       decls=common.dims_array("s", d))


for _op, _struct in OPS.items():
    emit.register_structured(_op, Reduce(_struct))
emit.register_structured("SumToShape", SumToShape())
emit.register_structured("ArgMax", ArgReduce(True))
emit.register_structured("ArgMin", ArgReduce(False))

