"""tf.train.import_meta_graph for a MetaGraphDef protobuf written by TensorFlow 1.x (or tf.compat.v1):
the graph (training ops included), its variables and collections, and the Saver's settings. TF's own save/
restore ops are not rebuilt: pygraph's Saver does their work, keyed by the checkpoint names those ops held,
so the checkpoints it reads and writes are TF's.

With import_scope, as TF's meta_graph.import_scoped_meta_graph: every node name, input, colocation
(`loc:@`) reference, collection entry and variable is prefixed by the scope (made unique as a name scope:
a second import under "s" goes to "s_1"); the Saver still reads and writes the checkpoint's own
(unscoped) keys, restored into the scoped variables."""

from __future__ import annotations

import logging
import re

from .. import errors
from ..summary._protos import proto
from .importer import import_graph_def

_log = logging.getLogger("pygraph.checkpoint")
_VARIABLE_COLLECTIONS = ("variables", "trainable_variables", "local_variables", "model_variables")


def parse_meta_graph(data, source):
    doc = proto("meta_graph_pb2").MetaGraphDef()
    try:
        doc.ParseFromString(data)
    except Exception:  # noqa: BLE001 (protobuf's DecodeError, or RecursionError on deep nesting)
        raise ValueError(f"{source} is not a pygraph meta graph file, nor a TensorFlow MetaGraphDef "
                         "protobuf") from None
    if not doc.graph_def.node:
        raise ValueError(f"{source} is not a pygraph meta graph, and as a TensorFlow MetaGraphDef it holds no "
                         "graph")
    return doc


def prepend_name_scope(name, prefix):
    """TF's ops.prepend_name_scope: `x`, `^x` and `loc:@x` become `prefix/x`, `^prefix/x`, `loc:@prefix/x`."""
    return re.sub(r"([\^]|loc:@|^)(.*)", lambda m: f"{m.group(1)}{prefix}/{m.group(2)}", name, count=1,
                  flags=re.DOTALL) if prefix else name


def _prefixed_graph_def(graph_def, prefix):
    """A copy of `graph_def` with every node name, input and colocation entry under `prefix` (what TF's
    importer does with import_graph_def(name=prefix))."""
    out = type(graph_def)()
    out.CopyFrom(graph_def)
    for node in out.node:
        node.name = prepend_name_scope(node.name, prefix)
        node.input[:] = [prepend_name_scope(i, prefix) for i in node.input]
        if "_class" in node.attr:
            values = node.attr["_class"].list.s
            values[:] = [prepend_name_scope(v.decode("utf-8", "replace"), prefix).encode("utf-8")
                         if v.startswith(b"loc:@") else v for v in values]
    return out


def _saver_scope(doc, prefix=""):
    """The name scope of the Saver's ops ("save/", or "prefix/save/"), or None when the meta graph has no
    SaverDef."""
    if not doc.HasField("saver_def") or not doc.saver_def.restore_op_name:
        return None
    return prepend_name_scope(doc.saver_def.restore_op_name, prefix).rpartition("/")[0] + "/"


def import_tf_meta_graph(doc, graph, import_scope=None):
    """Rebuilds `doc` (a parsed MetaGraphDef) into `graph`, under `import_scope` if given; returns the SaverDef
    settings as a dict (checkpoint key -> variable op name in var_names) or None when the file has no
    Saver."""
    with graph._all_or_nothing():
        prefix = ""
        if import_scope:
            with graph.name_scope(import_scope) as scope:  # TF: import_graph_def(name=import_scope)
                prefix = scope[:-1]
        graph_def = _prefixed_graph_def(doc.graph_def, prefix) if prefix else doc.graph_def
        saver_scope = _saver_scope(doc, prefix)
        skip = (lambda n: n.startswith(saver_scope)) if saver_scope else (lambda n: False)
        import_graph_def(graph_def, graph, skip=skip)
        _rebuild_collections(doc, graph, prefix)
        return _saver_settings(doc, graph_def, saver_scope) if saver_scope else None


def _rebuild_collections(doc, graph, prefix=""):
    from ..ops.state import Variable

    variable_pb2 = proto("variable_pb2")
    variables = {}
    with graph.as_default():
        for key in _VARIABLE_COLLECTIONS:
            if key not in doc.collection_def:
                continue
            for raw in doc.collection_def[key].bytes_list.value:
                vd = variable_pb2.VariableDef()
                try:
                    vd.ParseFromString(raw)
                except Exception:  # noqa: BLE001 (DecodeError)
                    raise errors.DataLossError(None, None, f"Malformed meta graph: collection {key!r} holds a "
                                               "VariableDef that does not parse") from None
                if vd.variable_name not in variables:
                    try:
                        variables[vd.variable_name] = Variable(variable_def={
                            "variable_name": vd.variable_name, "initializer_name": vd.initializer_name,
                            "snapshot_name": vd.snapshot_name, "initial_value_name": vd.initial_value_name,
                            "trainable": vd.trainable}, import_scope=prefix or None)
                    except (KeyError, ValueError, TypeError) as e:
                        raise errors.DataLossError(None, None, f"Malformed meta graph: variable "
                                                   f"{vd.variable_name!r} in collection {key!r}: {e}") from None
                graph.add_to_collection(key, variables[vd.variable_name])
    names = {op.name for op in graph.get_operations()}
    for key, col in doc.collection_def.items():
        if key in _VARIABLE_COLLECTIONS:
            continue
        kind = col.WhichOneof("kind")
        if kind == "node_list":
            for name in col.node_list.value:
                name = prepend_name_scope(name, prefix)
                if name.partition(":")[0] in names:
                    graph.add_to_collection(key, graph.as_graph_element(name))
        elif kind in ("int64_list", "float_list"):
            for v in getattr(col, kind).value:
                graph.add_to_collection(key, v)
        elif kind is not None:
            _log.warning("Collection %r of the TensorFlow meta graph holds %s, which pygraph does not read; "
                         "it is left out.", key, kind)


def _saver_settings(doc, graph_def, scope):
    """SaverDef fields, with var_names recovered from the restore ops (of `graph_def`, the imported names):
    `save/Assign_k` writes RestoreV2's output k (the tensor named tensor_names[k] in the checkpoint) into a
    variable."""
    nodes = {n.name: n for n in graph_def.node if n.name.startswith(scope)}
    keys = {}
    for n in nodes.values():
        if n.op in ("RestoreV2", "RestoreSlice", "Restore") and len(n.input) >= 2:
            names_node = nodes.get(n.input[1].partition(":")[0])
            if names_node is not None and names_node.op == "Const":
                try:
                    keys[n.name] = [v.decode("utf-8") for v in names_node.attr["value"].tensor.string_val]
                except UnicodeDecodeError:
                    raise errors.DataLossError(None, None, f"Malformed meta graph: {names_node.name} holds "
                                               "checkpoint keys that are not UTF-8") from None
    var_names = {}
    for n in nodes.values():
        if n.op != "Assign" or len(n.input) < 2:
            continue
        src, _, k = n.input[1].partition(":")
        if src in keys and n.input[0].partition(":")[0] not in nodes:
            k = int(k) if k.isdigit() else 0
            if k < len(keys[src]):
                var_names[keys[src][k]] = n.input[0].partition(":")[0]
    sd = doc.saver_def
    return {"max_to_keep": sd.max_to_keep, "keep_checkpoint_every_n_hours": sd.keep_checkpoint_every_n_hours,
            "sharded": sd.sharded, "version": int(sd.version), "var_names": var_names}

