"""tf.graph_util: freezing a graph for inference, as TF1's graph_util_impl.py does. The GraphDefs in and out are
protobufs (tf.GraphDef); the frozen one loads with tf.import_graph_def, pygraph-compile, or TensorFlow."""

from __future__ import annotations

import logging
import re

from .graph_def import tensor_proto
from .graph_protos import as_graph_def, is_graph_def, messages
from .tf_import.values import DTYPES

_log = logging.getLogger("pygraph")
_VARIABLE_OPS = ("Variable", "VariableV2")


def _node_name(ref):
    return ref[1:] if ref.startswith("^") else ref.split(":")[0]


def extract_sub_graph(graph_def, dest_nodes):
    """The nodes of `graph_def` that `dest_nodes` (node names) read, directly or not, in their original order."""
    if not is_graph_def(graph_def):
        raise TypeError("graph_def must be a graph_pb2.GraphDef proto.")
    if isinstance(dest_nodes, str):
        raise TypeError("dest_nodes must be a list.")
    graph_def = as_graph_def(graph_def)
    by_name = {n.name: n for n in graph_def.node}
    for d in dest_nodes:
        if d not in by_name:
            raise ValueError(f"{d} is not in graph")
    keep, todo = set(), list(dest_nodes)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        todo.extend(_node_name(i) for i in by_name[name].input if _node_name(i) in by_name)
    out = messages().GraphDef()
    out.node.extend(n for n in graph_def.node if n.name in keep)
    if graph_def.HasField("versions"):
        out.versions.CopyFrom(graph_def.versions)
    return out


def convert_variables_to_constants(sess, input_graph_def, output_node_names, variable_names_whitelist=None,
                                   variable_names_blacklist=None):
    """The subgraph that computes `output_node_names`, each variable in it (VariableV2 node) replaced by a
    Const holding its value in `sess` (only the whitelisted ones, and none blacklisted, if given)."""
    inference = extract_sub_graph(input_graph_def, output_node_names)
    names = [n.name for n in inference.node if n.op in _VARIABLE_OPS
             and (variable_names_whitelist is None or n.name in variable_names_whitelist)
             and (variable_names_blacklist is None or n.name not in variable_names_blacklist)]
    values = dict(zip(names, sess.run([n + ":0" for n in names]))) if names else {}
    _log.info("Froze %d variables.", len(values))
    out = messages().GraphDef()
    for node in inference.node:
        if node.name in values:
            const = out.node.add(name=node.name, op="Const")
            const.attr["dtype"].CopyFrom(node.attr["dtype"])
            const.attr["value"].tensor.CopyFrom(tensor_proto(values[node.name], DTYPES[node.attr["dtype"].type]))
        else:
            out.node.add().CopyFrom(node)
    if inference.HasField("versions"):
        out.versions.CopyFrom(inference.versions)
    _log.info("Converted %d variables to const ops.", len(values))
    return out


def remove_training_nodes(input_graph, protected_nodes=None):
    """Drops CheckNumerics nodes and splices out Identity nodes (not `protected_nodes`, nor those with or
    feeding control inputs), as TF does before optimizing a graph for inference."""
    protected = set(protected_nodes or ())
    nodes = [n for n in as_graph_def(input_graph).node]
    removed = {n.name for n in nodes if n.op == "CheckNumerics" and n.name not in protected}
    kept = []
    for n in nodes:
        if n.name not in removed:
            c = type(n)()
            c.CopyFrom(n)
            c.input[:] = [i for i in n.input if re.sub(r"^\^", "", i) not in removed]
            kept.append(c)
    control_inputs = {i[1:] for n in kept for i in n.input if i.startswith("^")}
    with_control = {n.name for n in kept if any(i.startswith("^") for i in n.input)}
    splice = {n.name: n.input[0] for n in kept if n.op == "Identity" and n.name not in protected
              and n.name not in with_control and n.name not in control_inputs and n.input}
    out = messages().GraphDef()
    for n in kept:
        if n.name in splice:
            continue
        new_inputs = []
        for full in n.input:
            name = re.sub(r"^\^", "", full)
            while name in splice:
                full = splice[name]
                name = re.sub(r"^\^", "", full)
            new_inputs.append(full)
        n.input[:] = new_inputs
        out.node.append(n)
    return out
