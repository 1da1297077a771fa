"""Scheduling and fusion: orders the nodes (state writes as late as possible) and groups elementwise
nodes of one loop shape into single loops; other nodes become kernels of their own."""

from __future__ import annotations

import heapq

from . import emit
from .ir import Kernel, Ref


def schedule(req):
    """Topological order that runs every read before any variable write it does not depend on. The nodes
    of a tf.while_loop come out contiguous, its predicate region before its body (structured/loop.py)."""
    nodes = req.nodes
    deps = [set(r.node for r in n.inputs) | set(n.after) for n in nodes]
    order = _schedule_level(nodes, deps, range(len(nodes)), 0)
    if len(order) != len(nodes):
        raise ValueError("internal: the requested graph has a cycle")
    return order


def _schedule_level(nodes, deps, members, depth):
    """Order `members` (nodes inside the same `depth` loops): each loop one level deeper is one unit here,
    ordered inside by a recursive call."""
    unit_of, units = {}, {}
    for i in members:
        loop = nodes[i].loop
        unit_of[i] = ("loop", loop[depth][0]) if len(loop) > depth else ("node", i)
        units.setdefault(unit_of[i], []).append(i)
    users = {u: [] for u in units}
    waiting = dict.fromkeys(units, 0)
    for u, ids in units.items():
        for d in {unit_of[j] for i in ids for j in deps[i] if j in unit_of} - {u}:
            users[d].append(u)
            waiting[u] += 1

    def key(u):  # the enclosing loop's predicate region first, then reads before writes, then graph order
        first = nodes[units[u][0]]
        region = first.loop[depth - 1][1] if depth else 0
        return (region, u[0] == "node" and first.op in emit.WRITES_INPUT0, first.id)

    ready = [(key(u), u) for u in units if not waiting[u]]
    heapq.heapify(ready)
    order = []
    while ready:
        _, u = heapq.heappop(ready)
        order.extend([u[1]] if u[0] == "node" else _schedule_level(nodes, deps, units[u], depth + 1))
        for v in users[u]:
            waiting[v] -= 1
            if not waiting[v]:
                heapq.heappush(ready, (key(v), v))
    return order


def is_elementwise(node):
    return node.op in emit.ELEMENTWISE


def fuse(req, order, dims):
    """Returns the kernel list. An elementwise node joins the latest loop of the same shape whose
    position comes after every kernel computing one of its inputs (vertical and horizontal fusion)."""
    nodes = req.nodes
    kernels = []
    kernel_of = {}  # node id -> kernel index
    for i in order:
        node = nodes[i]
        if node.op in ("Arg", "Const", "NoOp"):
            continue
        if not is_elementwise(node):
            kernel_of[i] = len(kernels)
            kernels.append(Kernel(kind=node.op, nodes=[i]))
            continue
        loop = dims[(i, 0)]
        best = None
        # the latest loop of this shape that starts after all inputs outside it are computed
        for k in range(len(kernels) - 1, -1, -1):
            kern = kernels[k]
            if kern.kind != "elementwise" or kern.data["loop"] != loop:
                continue
            first = nodes[kern.nodes[0]]
            if first.guard != node.guard or first.loop != node.loop:  # another tf.cond branch or loop region
                continue
            if not all(kernel_of.get(o.node, -1) <= k for o in node.inputs):
                continue
            if node.op in emit.WRITES_INPUT0 and _read_after(nodes, kernels, k, node.inputs[0].node):
                continue  # a later loop still reads the variable's old value
            best = k
            break
        if best is None:
            best = len(kernels)
            kernels.append(Kernel(kind="elementwise", nodes=[], data={"loop": loop}))
        kernels[best].nodes.append(i)
        kernel_of[i] = best
    return kernels, kernel_of


def _read_after(nodes, kernels, k, var_node):
    return any(r.node == var_node for kern in kernels[k + 1:] for j in kern.nodes for r in nodes[j].inputs)


# Reductions whose emitter can compute its input on the fly (kernel.data["prologue"]).
REDUCTIONS_WITH_PROLOGUE = {"Sum", "Mean", "Max", "Min", "Prod", "SumToShape"}


def fuse_into_reductions(lw, kernels):
    """Moves the elementwise nodes that only feed a reduction into the reduction's kernel, which then
    computes them per element instead of reading a materialised temporary (kernel.data["prologue"], in
    topological order). Only nodes whose every reader is in the moved set or the reduction move, so
    nothing else loses a value; their inputs must be of the loop's own shape or scalars (flat reads)."""
    nodes, outputs = lw.nodes, set(lw.req.outputs)
    readers = {}
    for n in nodes:
        for r in n.inputs:
            readers.setdefault(r, set()).add(n.id)
    written = {n.inputs[0].node for n in nodes if n.op in emit.WRITES_INPUT0}
    home = {i: kern for kern in kernels for i in kern.nodes}
    changed = False
    for kern in kernels:
        if kern.kind not in REDUCTIONS_WITH_PROLOGUE:
            continue
        red = nodes[kern.nodes[0]]
        alias = getattr(emit.STRUCTURED.get(red.op), "alias", None)
        if alias is not None and alias(lw, red) is not None:
            continue  # nothing to reduce: the input itself is the result
        root = red.inputs[0]
        group = home.get(root.node)
        if group is None or group.kind != "elementwise" or root.index != 0:
            continue
        if not group.nodes or (nodes[group.nodes[0]].guard, nodes[group.nodes[0]].loop) != (red.guard, red.loop):
            continue
        loop = tuple(lw.dims[root])
        cone, stack = set(), [root.node]
        while stack:
            i = stack.pop()
            node, ref = nodes[i], Ref(i, 0)
            if (i in cone or home.get(i) is not group or ref in outputs or node.after
                    or node.op in emit.WRITES_INPUT0 or _sets_error_flag(node)
                    or not readers.get(ref, set()) <= cone | {red.id}):
                continue
            ins = [r for r in node.inputs if nodes[r.node].op != "Const"]
            if any(tuple(lw.dims[r]) not in (loop, (1,) * len(lw.dims[r])) or r.node in written for r in ins):
                continue
            cone.add(i)
            stack.extend(r.node for r in node.inputs if home.get(r.node) is group)
        if root.node not in cone:
            continue
        group.nodes = [i for i in group.nodes if i not in cone]
        kern.data["prologue"] = sorted(cone)  # node ids are topological
        changed = True
    if not changed:
        return kernels, None
    kernels = [k for k in kernels if k.nodes]
    kernel_of = {}
    for idx, k in enumerate(kernels):
        for i in k.nodes + k.data.get("prologue", []):
            kernel_of[i] = idx
    return kernels, kernel_of


def _sets_error_flag(node):
    return node.op in emit.INT_ERROR_OPS and emit.CXX[node.dtypes[0]] not in emit.FLOATS
