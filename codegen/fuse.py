"""Scheduling and fusion: orders the nodes (state writes as late as possible) and groups elementwise
nodes of one loop shape into single loops; other nodes become kernels of their own."""

from __future__ import annotations

import heapq

from . import emit
from .ir import Kernel


def schedule(req):
    """Topological order that runs every read before any variable write it does not depend on."""
    nodes = req.nodes
    deps = [set(r.node for r in n.inputs) | set(n.after) for n in nodes]
    users = [[] for _ in nodes]
    for i, d in enumerate(deps):
        for j in d:
            users[j].append(i)
    waiting = [len(d) for d in deps]
    ready = [(nodes[i].op in emit.WRITES_INPUT0, i) for i in range(len(nodes)) if not waiting[i]]
    heapq.heapify(ready)
    order = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(i)
        for u in users[i]:
            waiting[u] -= 1
            if not waiting[u]:
                heapq.heappush(ready, (nodes[u].op in emit.WRITES_INPUT0, u))
    if len(order) != len(nodes):
        raise ValueError("internal: the requested graph has a cycle")
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
