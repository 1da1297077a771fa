"""A TensorFlow GraphDef (frozen `.pb`, or the graph inside a TF1 `.meta`) -> nodes of a pygraph graph.

Nodes are built in dependency order through the builders of ops.py, so every node passes pygraph's own
checks (node_check.check_node) and nothing in the file is executed. Before building anything, every op
type is checked: the error lists each unsupported type with the nodes that use it. A failure part-way
leaves the graph as it was."""

from __future__ import annotations

from .. import errors
from .ops import BUILDERS
from .values import malformed


def _source(name):
    """(op name, output index) of an input string `op` / `op:k`; None for a control input `^op`."""
    if name.startswith("^"):
        return None
    op, _, k = name.partition(":")
    if k and not k.isdigit():
        raise ValueError(k)
    return op, int(k) if k else 0


def _input_op(name):
    return name[1:] if name.startswith("^") else name.partition(":")[0]


def dependency_order(nodes, roots):
    """Names of `roots` and everything they read (data and control inputs), inputs first."""
    order, state, stack = [], {}, [(r, False) for r in reversed(roots)]
    while stack:
        name, leaving = stack.pop()
        if leaving:
            state[name] = "done"
            order.append(name)
            continue
        if state.get(name) == "done":
            continue
        if state.get(name) == "open":
            raise malformed(nodes[name], "is part of a cycle of inputs")
        state[name] = "open"
        stack.append((name, True))
        for i in reversed(nodes[name].input):
            src = _input_op(i)
            if src not in nodes:
                raise errors.DataLossError(None, None, f"Malformed TensorFlow graph: node '{name}' reads '{i}', "
                                           "which the graph lacks")
            if state.get(src) == "open":
                raise malformed(nodes[name], f"is part of a cycle of inputs (through '{src}')")
            if state.get(src) != "done":
                stack.append((src, False))
    return order


def check_supported(nodes, order):
    """UnimplementedError listing every op type among `order` that pygraph cannot build, with its nodes."""
    bad = {}
    for name in order:
        if nodes[name].op not in BUILDERS:
            bad.setdefault(nodes[name].op, []).append(name)
    if bad:
        parts = []
        for op_type, names in sorted(bad.items()):
            more = f" and {len(names) - 3} more" if len(names) > 3 else ""
            parts.append(f"{op_type} (used by " + ", ".join(f"'{n}'" for n in names[:3]) + more + ")")
        raise errors.UnimplementedError(None, None, f"unsupported op types in the TensorFlow graph ({len(bad)}, "
                                        "pygraph cannot build them): " + "; ".join(parts))


def import_graph_def(graph_def, graph, fetches=None, skip=lambda name: False, input_map=None):
    """Builds into `graph` every node of `graph_def` (or, given `fetches`, only what those op/tensor names
    need), except nodes for which `skip(name)` holds; an input (op name, output index) found in `input_map`
    reads the Tensor it maps to instead. Returns {node name: list of outputs}."""
    nodes = {}
    for n in graph_def.node:
        if n.name in nodes:
            raise malformed(n, "appears twice in the graph")
        nodes[n.name] = n
    if fetches is None:
        roots = [n.name for n in graph_def.node if not skip(n.name)]
    else:
        roots = []
        for f in fetches:
            if f.partition(":")[0] not in nodes:
                raise errors.NotFoundError(None, None, f"unknown fetch {f!r}: the graph has no such node")
            roots.append(f.partition(":")[0])
    order = dependency_order(nodes, roots)
    for name in order:
        if skip(name):
            user = next(u for u in order if any(_input_op(i) == name for i in nodes[u].input))
            raise errors.UnimplementedError(None, None, f"node '{user}' reads '{name}', which belongs to the "
                                            "Saver's ops (pygraph's Saver replaces them)")
    check_supported(nodes, order)
    with graph._all_or_nothing():
        clash = [n for n in order if n in graph._ops_by_name]
        if clash:
            raise ValueError(f"Cannot import the TensorFlow graph: the graph already has operations named "
                             f"{', '.join(clash[:5])}; import into a new graph.")
        for name in order:  # ops a builder adds inside a node's scope never take another node's name
            graph._names_in_use[name.lower()] = 1
        return _build_all(graph, nodes, order, input_map or {})


def _build_all(graph, nodes, order, input_map):
    made, ops = {}, {}
    with graph.as_default(), graph.name_scope(None), graph.control_dependencies(None):
        for name in order:
            node = nodes[name]
            ins, controls = [], []
            for i in node.input:
                try:
                    src = _source(i)
                except ValueError:
                    raise malformed(node, f"has an input '{i}' that is not op, op:k or ^op") from None
                if src is None:
                    controls.append(ops[i[1:]])
                    continue
                if src in input_map:
                    mapped = input_map[src]
                    own = made.get(src[0])
                    if own is not None and src[1] < len(own) and own[src[1]].dtype != mapped.dtype:
                        raise ValueError(f"Input {len(ins)} of node {name} was passed {mapped.dtype.name} from "
                                         f"{mapped.name} incompatible with expected {own[src[1]].dtype.name}.")
                    ins.append(mapped)
                    continue
                outs = made[src[0]]
                if src[1] >= len(outs):
                    raise malformed(node, f"reads '{i}', but '{src[0]}' has {len(outs)} outputs")
                ins.append(outs[src[1]])
            try:
                with graph.control_dependencies(controls):
                    outs = BUILDERS[node.op](node, ins)
                    op = outs[0].op if outs and hasattr(outs[0], "op") else None
                    if op is None:
                        op = graph.create_op("NoOp", [], {}, [], name + "/")
            except errors.OpError:
                raise
            except (ValueError, TypeError, KeyError, IndexError) as e:
                raise errors.InvalidArgumentError(None, None, f"cannot import node '{name}' ({node.op}) of the "
                                                  f"TensorFlow graph: {e}") from None
            made[name], ops[name] = outs, op
    return made
