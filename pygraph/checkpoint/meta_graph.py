"""pygraph's meta graph files (`P.meta`): a graph with its variables, collections and Saver settings, so
that a new process can rebuild it without the Python code that built it and go on training.

The file is a zip archive holding `meta_graph.json` (the versioned document: ops in creation order with
type, name, inputs, control inputs, attrs, output dtypes and shapes; variables; collections; saver) and
`arrays/<i>.npy` (numeric constants, read back with allow_pickle=False). It is pygraph's own format;
import_meta_graph also reads TensorFlow's MetaGraphDef protobuf (pygraph/tf_import/meta.py).
"""

from __future__ import annotations

import io
import json
import logging
import os
import zipfile

import numpy as np

from .. import __version__ as _pygraph_version
from .. import custom_ops, dtypes
from ..errors import DataLossError, OpError
from ..graph import Operation, Tensor, get_default_graph
from ..ops.cond_contexts import export_contexts, exported_inputs, import_contexts
from ..shape import TensorShape
from .files import atomic_output
from .meta_graph_check import check_structure
from .values import Encoder, MalformedValue, decode

FORMAT = "pygraph.MetaGraph"
FORMAT_VERSION = 1
_DOC = "meta_graph.json"
_log = logging.getLogger("pygraph.checkpoint")


def _variable_class():
    from ..ops.state import Variable

    return Variable


# -- export
def _strip(name, scope):
    if not scope:
        return name
    if not name.startswith(scope + "/"):
        raise ValueError(f"{name} is outside export_scope {scope!r}")
    return name[len(scope) + 1:]


_OUTSIDE = object()


def _encode_item(item, scope, where):
    """A collection item as {"variable"|"tensor"|"op"|"value": ...}; _OUTSIDE for graph elements outside
    the export scope (left out, as TF does), None when it cannot be stored."""
    Variable = _variable_class()
    try:
        if isinstance(item, Variable):
            return {"variable": _strip(item.op.name, scope)}
        if isinstance(item, Tensor):
            return {"tensor": _strip(item.name, scope)}
        if isinstance(item, Operation):
            return {"op": _strip(item.name, scope)}
    except ValueError:
        return _OUTSIDE
    if item is None or isinstance(item, (bool, int, float, str)):
        return {"value": item}
    if isinstance(item, bytes):
        return {"value": Encoder().encode(item, where)}
    return None


def _variable_def(var, scope):
    d = var.to_proto(export_scope=scope)
    return d if d is not None else None


def meta_graph_document(graph, saver=None, collection_list=None, export_scope=None):
    """(document, arrays) describing `graph`; arrays are the numeric constants the document refers to."""
    encoder = Encoder()
    ops = []
    for op in graph.get_operations():
        if export_scope and not op.name.startswith(export_scope + "/"):
            continue
        where = f"op {op.name!r} ({op.type})"
        ops.append({
            "name": _strip(op.name, export_scope),
            "type": op.type,
            "inputs": [_strip(t.name, export_scope) for t in exported_inputs(op)],
            "control_inputs": [_strip(c.name, export_scope) for c in op.control_inputs],
            "attrs": {k: encoder.encode(v, f"{where} attr {k!r}") for k, v in op.attrs.items()},
            "outputs": [{"dtype": t.dtype.name, "shape": None if t.shape.ndims is None else list(t.shape.as_tuple())}
                        for t in op.outputs],
            "creation_site": op.creation_site,
            **custom_ops.library_field(op.type),
        })
    Variable = _variable_class()
    keys = graph.get_all_collection_keys() if collection_list is None else list(collection_list)
    collections, variables = {}, {}
    for key in keys:
        items = []
        for item in graph.get_collection(key):
            encoded = _encode_item(item, export_scope, f"collection {key!r}")
            if encoded is _OUTSIDE:
                continue
            if encoded is None:
                _log.warning("Issue encountered when serializing %s: an item of type %s cannot be stored in a "
                             "meta graph; the collection is left out.", key, type(item).__name__)
                items = None
                break
            if isinstance(item, Variable):
                variables[item.op.name] = _variable_def(item, export_scope)
            items.append(encoded)
        if items is not None:
            collections[key] = items
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "producer": f"pygraph {_pygraph_version}",
        "ops": ops,
        "variables": [v for v in variables.values() if v is not None],
        "collections": collections,
        "cond_contexts": export_contexts(graph, lambda n: _strip(n, export_scope),
                                         lambda op: not export_scope or op.name.startswith(export_scope + "/")),
        "saver": _saver_settings(saver, export_scope),
        "num_arrays": len(encoder.arrays),
    }
    return doc, encoder.arrays


def _saver_settings(saver, scope):
    if saver is None:
        return None
    saver_def = saver.as_saver_def() if hasattr(saver, "as_saver_def") else saver
    settings = saver_def.to_dict()
    try:
        settings["var_names"] = {k: _strip(v, scope) for k, v in settings["var_names"].items()}
    except ValueError:
        return None
    return settings


def export_meta_graph(filename=None, graph=None, saver=None, collection_list=None, export_scope=None):
    """Write the meta graph of `graph` (default: the default graph) to `filename` atomically. Returns the
    document: a dict whose "arrays" entry holds the constants' arrays (kept apart in the file)."""
    graph = graph or get_default_graph()
    doc, arrays = meta_graph_document(graph, saver, collection_list, export_scope)
    if filename is not None:
        filename = os.fspath(filename)
        directory = os.path.dirname(filename)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with atomic_output(filename) as f:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
                z.writestr(_DOC, json.dumps(doc, indent=1))
                for i, arr in enumerate(arrays):
                    buf = io.BytesIO()
                    np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
                    z.writestr(f"arrays/{i}.npy", buf.getvalue())
    return dict(doc, arrays=arrays)


# -- import
def read_meta_graph_file(filename):
    """(document, arrays) of a meta graph file, with clear errors for files that are not ours."""
    filename = os.fspath(filename)
    try:
        z = zipfile.ZipFile(filename)
    except FileNotFoundError:
        raise OSError(f"File {filename} does not exist.") from None
    except zipfile.BadZipFile:
        raise ValueError(f"{filename} is not a pygraph meta graph file") from None
    with z:
        try:
            doc = json.loads(z.read(_DOC))
        except (KeyError, ValueError, RecursionError) as e:
            raise ValueError(f"{filename} is not a pygraph meta graph file: {e}") from None
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise DataLossError(None, None, f"{filename}: cannot read {_DOC}: {e}") from None
        check_document(doc, filename)
        arrays = []
        for i in range(doc["num_arrays"]):
            try:
                data = z.read(f"arrays/{i}.npy")
            except KeyError:
                raise DataLossError(None, None, f"{filename} is missing arrays/{i}.npy") from None
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:  # bad CRC, truncated member
                raise DataLossError(None, None, f"{filename}: cannot read arrays/{i}.npy: {e}") from None
            arrays.append(_read_npy(data, f"{filename}: arrays/{i}.npy"))
    return doc, arrays


def _read_npy(data, where):
    """A stored .npy array; its header must describe no more data than the member holds (numpy allocates
    what the header says before reading)."""
    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
        count = 1
        for d in shape:
            count *= d
        if dtype.hasobject or count * dtype.itemsize != len(data) - f.tell():
            raise ValueError(f"the header describes {count} {dtype} values, not the {len(data) - f.tell()} bytes "
                             "stored")
        f.seek(0)
        return np.lib.format.read_array(f, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 (numpy's header parser raises ValueError, TokenError, SyntaxError...)
        raise DataLossError(None, None, f"{where} is not a valid .npy array: {e}") from None


def check_document(doc, source):
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{source} is not a pygraph meta graph document")
    version = doc.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(f"{source} has meta graph format_version {version!r}, but this pygraph "
                         f"({_pygraph_version}) reads only version {FORMAT_VERSION}; it was written by "
                         f"{doc.get('producer', 'an unknown producer')}")
    check_structure(doc, source)


def import_meta_graph(meta_graph_or_file, clear_devices=False, import_scope=None, **kwargs):
    """Rebuild a meta graph (a file name, or a document returned by export_meta_graph) into the default
    graph. Returns the stored Saver settings (var_names mapped into the graph) or None."""
    if kwargs:
        raise TypeError(f"import_meta_graph() does not support {', '.join(sorted(kwargs))} (input_map and "
                        "return_elements are not implemented for meta graphs): freeze the model with "
                        "tf.graph_util.convert_variables_to_constants and load the GraphDef with "
                        "tf.import_graph_def(graph_def, input_map=..., return_elements=...)")
    if isinstance(meta_graph_or_file, dict):
        check_document(meta_graph_or_file, "the meta graph document")
        doc, arrays = meta_graph_or_file, meta_graph_or_file.get("arrays")
        if not isinstance(arrays, list) or len(arrays) != doc["num_arrays"]:
            raise ValueError("the meta graph document lacks its arrays (pass what export_meta_graph returned)")
    elif _is_tf_meta_graph(meta_graph_or_file):
        return _import_tf(meta_graph_or_file, clear_devices, import_scope)
    else:
        doc, arrays = read_meta_graph_file(meta_graph_or_file)
    graph = get_default_graph()
    with graph._all_or_nothing():  # a file that fails part-way leaves the graph as it was
        scope = graph.unique_name(import_scope) if import_scope else ""
        name = (lambda n: f"{scope}/{n}") if scope else (lambda n: n)
        clash = [name(o["name"]) for o in doc["ops"] if name(o["name"]) in graph._ops_by_name]
        if clash:
            raise ValueError(f"Cannot import the meta graph: the graph already has operations named "
                             f"{', '.join(clash[:5])}; import into a new graph or pass import_scope.")
        created = {}
        for spec in doc["ops"]:
            op = _create_op(graph, spec, arrays, name, created)
            created[spec["name"]] = op
        _rebuild_collections(graph, doc, name, scope)
        import_contexts(graph, doc.get("cond_contexts"), name)
    saver = doc.get("saver")
    if saver is not None:
        saver = dict(saver, var_names={k: name(v) for k, v in saver["var_names"].items()})
    return saver


def _is_tf_meta_graph(meta_graph_or_file):
    """A MetaGraphDef message, or an existing file that is not a zip archive (pygraph's format)."""
    if type(meta_graph_or_file).__name__ == "MetaGraphDef":
        return True
    try:
        path = os.fspath(meta_graph_or_file)
    except TypeError:
        return False
    return os.path.isfile(path) and not zipfile.is_zipfile(path)


def _import_tf(meta_graph_or_file, clear_devices, import_scope):
    from ..tf_import.meta import import_tf_meta_graph, parse_meta_graph

    doc = meta_graph_or_file
    if type(doc).__name__ != "MetaGraphDef":
        path = os.fspath(meta_graph_or_file)
        with open(path, "rb") as f:
            doc = parse_meta_graph(f.read(), path)
    graph = get_default_graph()
    with graph._lock:
        return import_tf_meta_graph(doc, graph, import_scope)


def _tensor(created, ref):
    op_name, _, index = ref.rpartition(":")
    try:
        return created[op_name].outputs[int(index)]
    except (KeyError, IndexError, ValueError):
        raise ValueError(f"meta graph refers to tensor {ref}, which no earlier op produces") from None


def _create_op(graph, spec, arrays, name, created):
    """One op of a checked document (meta_graph_check): attribute values are decoded here and checked by
    Graph.create_op against the op's schema (InvalidArgumentError / NotFoundError name the node)."""
    inputs = [_tensor(created, ref) for ref in spec["inputs"]]
    controls = [created[c] for c in spec["control_inputs"]]
    where = f"op {spec['name']!r} ({spec['type']})"
    attrs = {}
    for k, v in spec["attrs"].items():
        try:
            attrs[k] = decode(v, arrays)
        except MalformedValue as e:
            raise DataLossError(None, None, f"Malformed meta graph: {where} attr {k!r}: {e}") from None
    outputs = [(dtypes.as_dtype(o["dtype"]), TensorShape(o["shape"])) for o in spec["outputs"]]
    full = name(spec["name"])
    custom_ops.check_library_loaded(spec["type"], spec.get("op_library"), full)
    try:
        op = graph.create_op(spec["type"], inputs, attrs, outputs, full + "/", controls)
    except OpError:
        raise
    except ValueError as e:  # an invalid or duplicate node name
        raise DataLossError(None, None, f"Malformed meta graph: cannot rebuild {where}: {e}") from None
    graph._names_in_use.setdefault(full.lower(), 1)  # later ops may not reuse the name, as in TF's import
    op.creation_site = spec.get("creation_site") or op.creation_site
    return op


def _rebuild_collections(graph, doc, name, scope):
    Variable = _variable_class()
    with graph.as_default():
        variables = {v["variable_name"].rpartition(":")[0]: Variable(variable_def=v, import_scope=scope or None)
                     for v in doc["variables"]}
    for key, items in doc["collections"].items():
        for item in items:
            if "variable" in item:
                value = variables[item["variable"]]
            elif "tensor" in item:
                value = graph.get_tensor_by_name(name(item["tensor"]))
            elif "op" in item:
                value = graph.get_operation_by_name(name(item["op"]))
            else:
                try:
                    value = decode(item["value"], [])
                except MalformedValue as e:
                    raise DataLossError(None, None, f"Malformed meta graph: collection {key!r}: {e}") from None
            graph.add_to_collection(key, value)
