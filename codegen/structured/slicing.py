"""Copies that move blocks of elements: ConcatV2, Pack (stack), Unpack (unstack), Tile, StridedSlice
(basic slicing t[i], t[a:b:c], t[..., None]), GatherV2 and OneHot."""

from __future__ import annotations

from .. import dims, emit
from ..cxx import int_lit
from ..ir import Ref
from . import common


def _strides(d):
    return [common.numel(d[k + 1:]) for k in range(len(d))]


def _check_equal(lw, node, a, b, what):
    if a != b:
        lw.table.check(f"{a} == {b}", node.id, common.fail(node.id, [what]))


class Concat:
    """ConcatV2 (axis attr) and Pack (a new axis of size N): outer rows of per-input chunks."""

    def dims(self, lw, node, input_dims):
        pack = node.op == "Pack"
        input_dims = input_dims if pack else input_dims[:-1]  # ConcatV2's last input is the axis
        first = input_dims[0]
        rank = len(first) + (1 if pack else 0)
        axis = common.axis_of(node, node.attrs["axis"], rank)
        if len({len(d) for d in input_dims}) != 1:  # built on inputs of unknown rank
            raise ValueError(f"{node.op} '{node.name}' (defined at {node.site}): the inputs have different ranks "
                             f"{[len(d) for d in input_dims]}")
        for k, d in enumerate(input_dims[1:], 1):
            for j, (x, y) in enumerate(zip(first, d)):
                if pack or j != axis:
                    what = (f"Shapes of all inputs must match: values[0].shape = dim {j} differs from values[{k}]"
                            if pack else f"ConcatOp : Dimensions of inputs should match: shape[0] and shape[{k}] "
                            f"differ in dimension {j}")
                    _check_equal(lw, node, x, y, what)
        if pack:
            return [tuple(first[:axis]) + (len(input_dims),) + tuple(first[axis:])]
        sizes = [d[axis] for d in input_dims]
        total = lw.table.add(sizes)
        return [tuple(first[:axis]) + (total,) + tuple(first[axis + 1:])]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        out = common.out_buf(lw, node)
        axis = node.attrs["axis"] % len(out.dims)
        refs = list(node.inputs) if node.op == "Pack" else list(node.inputs[:-1])
        chunks = [common.numel(lw.dims[r][axis:]) for r in refs]  # Pack: the new axis has size 1 per input
        t = common.ctype(node.dtypes[0])
        srcs = ", ".join(lw.buffers[r].name for r in refs)
        block = (f"// k{index}: {node.op} {node.name}\n"
                 f"const {t}* srcs[] = {{{srcs}}}; const int64_t chunks[] = {{{', '.join(chunks)}}};\n"
                 f"pg_concat<{t}>(ctx, {len(refs)}, srcs, chunks, {out.name}, {common.numel(out.dims[:axis])});")
        return common.library(lw, "layout.h.j2"), block


class Unpack:
    def dims(self, lw, node, input_dims):
        d = input_dims[0]
        axis = common.axis_of(node, node.attrs["axis"], len(d))
        num = node.attrs["num"]
        _check_equal(lw, node, d[axis], num, f"Input shape axis {axis} must equal {num}")
        return [tuple(d[:axis]) + tuple(d[axis + 1:])] * num

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        d = lw.dims[node.inputs[0]]
        axis = node.attrs["axis"] % len(d)
        src = common.in_buf(lw, node).name
        outer, inner = common.numel(d[:axis]), common.numel(d[axis + 1:])
        lines = [f"// k{index}: Unpack {node.name}", f"const int64_t outer = {outer}, inner = {inner};"]
        num = node.attrs["num"]
        for i in range(num):
            dst = lw.buffers[Ref(node.id, i)].name
            lines.append(f"for (int64_t o = 0; o < outer; ++o) memcpy({dst} + o * inner, {src} + (o * "
                         f"{int_lit(num)} + {int_lit(i)}) * inner, sizeof(*{dst}) * inner);")
        return "", "\n".join(lines)


class Split:
    """Split (inputs split_dim, value) and SplitV (value, size_splits, axis): per outer row, each output's chunk
    of the row (static sizes along the axis, kept as attrs)."""

    @staticmethod
    def _sizes(node, d_axis):
        return node.attrs["size_splits"] if node.op == "SplitV" else [d_axis // node.attrs["num_split"]] * \
            node.attrs["num_split"]

    def dims(self, lw, node, input_dims):
        d = input_dims[1 if node.op == "Split" else 0]
        axis = common.axis_of(node, node.attrs["axis"], len(d))
        if node.op == "Split":
            if not isinstance(d[axis], int):
                raise ValueError(f"Split '{node.name}' (defined at {node.site}): the size of dimension {axis} must "
                                 "be known when the graph is compiled")
            sizes = self._sizes(node, d[axis])
        else:
            sizes = node.attrs["size_splits"]
        _check_equal(lw, node, d[axis], sum(sizes),
                     f"{node.op}: the sizes along axis {axis} must add up to the input's dimension")
        return [tuple(d[:axis]) + (s,) + tuple(d[axis + 1:]) for s in sizes]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        k = 1 if node.op == "Split" else 0
        d = lw.dims[node.inputs[k]]
        axis = node.attrs["axis"] % len(d)
        sizes = [lw.dims[Ref(node.id, i)][axis] for i in range(node.attrs["num_split"])]
        src = common.in_buf(lw, node, k).name
        outer, inner = common.numel(d[:axis]), common.numel(d[axis + 1:])
        total = sum(int(s) for s in sizes)
        lines = [f"// k{index}: {node.op} {node.name}", f"const int64_t outer = {outer}, inner = {inner};",
                 "for (int64_t o = 0; o < outer; ++o) {"]
        start = 0
        for i, s in enumerate(sizes):
            dst = lw.buffers[Ref(node.id, i)].name
            if int(s):
                lines.append(f"  memcpy({dst} + o * {int_lit(int(s))} * inner, {src} + (o * {int_lit(total)} + "
                             f"{int_lit(start)}) * inner, sizeof(*{dst}) * {int_lit(int(s))} * inner);")
            start += int(s)
        lines.append("}")
        return "", "\n".join(lines)


class Tile:
    def dims(self, lw, node, input_dims):
        d = input_dims[0]
        multiples = node.attrs["multiples"]
        if not all(0 <= m <= dims.INT64_MAX for m in multiples):
            raise ValueError(f"Tile '{node.name}' (defined at {node.site}): multiples {list(multiples)} must be in "
                             "[0, 2^63)")
        return [tuple(lw.table.mul(x, m) for x, m in zip(d, multiples))]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        d = lw.dims[node.inputs[0]]
        out = common.out_buf(lw, node)
        t = common.ctype(node.dtypes[0])
        if not d:
            return "", f"// k{index}: Tile {node.name}\n{out.name}[0] = {common.in_buf(lw, node).name}[0];"
        block = (f"// k{index}: Tile {node.name}\n{common.dims_array('od', out.dims)} "
                 f"const int64_t st[] = {{{', '.join(_strides(d))}}}; {common.dims_array('wrap', d)}\n"
                 f"pg_gather<{t}>(ctx, {common.in_buf(lw, node).name}, {out.name}, {len(d)}, od, st, wrap, 0);")
        return common.library(lw, "layout.h.j2"), block


class StridedSlice:
    """Basic slicing. attrs["spec"]: one entry per output-producing item, in order: ("index", i, axis),
    ("range", start, stop, step, axis) (None bounds = open) or ("new",). Input axes not named are full."""

    def dims(self, lw, node, input_dims):
        d = input_dims[0]
        out = []
        begins = lw.__dict__.setdefault("_slice_begins", {}).setdefault(node.id, {})
        for item in _full_spec(node, len(d)):
            if item[0] == "new":
                out.append(1)
            elif item[0] == "index":
                i, axis = int_lit(item[1]), item[2]
                dim = d[axis]
                lw.table.check(f"({i}) >= -({dim}) && ({i}) < ({dim})", node.id, common.fail(
                    node.id, [f"slice index {i} of dimension {axis} out of bounds."]))
            else:
                _, start, stop, step, axis = item
                dim = d[axis]
                if step == 0:
                    raise ValueError(f"internal: {node.name}: slice step cannot be zero")
                begin = lw.table.define(f"pg_slice_begin({dim}, {_b(start)}, {int_lit(start or 0)}, {int_lit(step)})")
                size = lw.table.define(
                    f"pg_slice_len({dim}, {begin}, {_b(stop)}, {int_lit(stop or 0)}, {int_lit(step)})")
                out.append(size)
                begins[axis] = begin
        return [tuple(out)]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        d = lw.dims[node.inputs[0]]
        out = common.out_buf(lw, node)
        src_strides = _strides(d)
        base, strides = [], []
        begins = lw.__dict__["_slice_begins"][node.id]
        sizes = iter(out.dims)  # one output dim per "new" or "range" item
        for item in _full_spec(node, len(d)):
            if item[0] == "new":
                next(sizes)
                strides.append("0")
            elif item[0] == "index":
                i, axis = int_lit(item[1]), item[2]
                base.append(f"(({i}) < 0 ? ({i}) + ({d[axis]}) : ({i})) * ({src_strides[axis]})")
            else:
                _, start, stop, step, axis = item
                base.append(f"{begins[axis]} * ({src_strides[axis]})")
                # a step beyond the axis takes one element: its stride is never used and may not fit int64
                strides.append(f"({next(sizes)}) > 1 ? ({int_lit(step)}) * ({src_strides[axis]}) : 0")
        t = common.ctype(node.dtypes[0])
        src = common.in_buf(lw, node).name
        lib = common.library(lw, "layout.h.j2")
        base_expr = " + ".join(base) or "0"
        if not out.dims:
            return lib, f"// k{index}: StridedSlice {node.name}\n{out.name}[0] = {src}[{base_expr}];"
        block = (f"// k{index}: StridedSlice {node.name}\n{common.dims_array('od', out.dims)} "
                 f"const int64_t st[] = {{{', '.join(strides)}}};\n"
                 f"pg_gather<{t}>(ctx, {src}, {out.name}, {len(out.dims)}, od, st, nullptr, {base_expr});")
        return lib, block


class Gather:
    def dims(self, lw, node, input_dims):
        p, idx = input_dims[0], input_dims[1]
        axis = common.axis_of(node, node.attrs["axis"], len(p))
        return [tuple(p[:axis]) + tuple(idx) + tuple(p[axis + 1:])]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        p, idx = lw.dims[node.inputs[0]], lw.dims[node.inputs[1]]
        axis = node.attrs["axis"] % len(p)
        params, ind = common.in_buf(lw, node, 0).name, common.in_buf(lw, node, 1).name
        n, m = p[axis], common.numel(idx)
        bad = common.fail(node.id, ["indices[", ("int", "bad"), "] = ", ("int", f"{ind}[bad]"), " is not in [0, ",
                                    ("int", n), ")"])
        block = (f"// k{index}: GatherV2 {node.name}\n"
                 f"{{ const int64_t bad = pg_gather_check({ind}, {m}, {n}); if (bad >= 0) {bad} }}\n"
                 f"pg_take(ctx, {params}, {ind}, {common.out_buf(lw, node).name}, {common.numel(p[:axis])}, {m}, {n}, "
                 f"{common.numel(p[axis + 1:])});")
        return common.library(lw, "layout.h.j2"), block


class OneHot:
    """OneHot(indices, depth, on, off): out[..., d, ...] = on where indices == d, else off."""

    def dims(self, lw, node, input_dims):
        d = input_dims[0]
        axis = node.attrs["axis"]
        axis = len(d) if axis == -1 else common.axis_of(node, axis, len(d), extra=1)
        int_lit(node.attrs["depth"], 0)  # a typed, non-negative int: it becomes a static dim
        return [tuple(d[:axis]) + (node.attrs["depth"],) + tuple(d[axis:])]

    def kernel(self, lw, kernel, index):
        node = common.node_of(lw, kernel)
        d = lw.dims[node.inputs[0]]
        axis = node.attrs["axis"]
        axis = len(d) if axis == -1 else axis
        ind = common.in_buf(lw, node, 0).name
        on, off = common.in_buf(lw, node, 2).name, common.in_buf(lw, node, 3).name
        out = common.out_buf(lw, node).name
        depth = int_lit(node.attrs["depth"], 0)
        block = (f"// k{index}: OneHot {node.name}\n"
                 f"{{ const int64_t outer = {common.numel(d[:axis])}, inner = {common.numel(d[axis:])};\n"
                 f"  for (int64_t o = 0; o < outer; ++o)\n"
                 f"    for (int64_t k = 0; k < {depth}; ++k)\n"
                 f"      for (int64_t i = 0; i < inner; ++i)\n"
                 f"        {out}[(o * {depth} + k) * inner + i] = ({ind}[o * inner + i] == k) ? {on}[0] : {off}[0]; }}")
        return "", block


def _full_spec(node, rank):
    """The spec with an item for every input axis: a slice built on an input of unknown rank names only its
    leading axes, and keeps the rest whole."""
    spec = list(node.attrs["spec"])
    named = sum(1 for item in spec if item[0] != "new")
    if named > rank:
        raise ValueError(f"StridedSlice '{node.name}' (defined at {node.site}): Index out of range using input dim "
                         f"{rank}; the slice names {named} axes")
    return spec + [("range", None, None, 1, a) for a in range(named, rank)]


def _b(bound):
    return "false" if bound is None else "true"


emit.register_structured("ConcatV2", Concat())
emit.register_structured("Pack", Concat())
emit.register_structured("Unpack", Unpack())
emit.register_structured("Split", Split())
emit.register_structured("SplitV", Split())
emit.register_structured("Tile", Tile())
emit.register_structured("StridedSlice", StridedSlice())
emit.register_structured("GatherV2", Gather())
emit.register_structured("OneHot", OneHot())
