"""tf.import_graph_def: a GraphDef (TF's frozen `.pb`, or pygraph's own Graph.as_graph_def) into the default
graph, with TF1's arguments and error texts (tensorflow/python/framework/importer.py).

Nodes go under the name scope `name` (default "import", made unique; "" imports them unprefixed). As TF's C
importer does (TF_ImportGraphDefOptionsSetUniquifyNames), a node whose name the graph already uses is renamed
`name_1`, ... and its readers follow. input_map keys and return_elements name the GraphDef's own nodes."""

from __future__ import annotations

from ..graph import Operation, Tensor, get_default_graph
from ..graph_protos import as_graph_def, is_graph_def
from .importer import import_graph_def as _import
from .meta import prepend_name_scope


def _tensor_key(name):
    """("op", k) of "op:k" / "op" (output 0)."""
    op, _, k = name.partition(":")
    return op, int(k) if k.isdigit() else 0


def _renamed(graph_def, rename):
    """A copy of `graph_def` with node names, inputs and `loc:@` colocations passed through `rename` (a dict)."""
    def new(ref):
        mark = next(m for m in ("^", "loc:@", "") if ref.startswith(m))
        op, colon, k = ref[len(mark):].partition(":")
        return mark + rename.get(op, op) + colon + k

    out = type(graph_def)()
    out.CopyFrom(graph_def)
    for node in out.node:
        node.name = rename.get(node.name, node.name)
        node.input[:] = [new(i) for i in node.input]
        if "_class" in node.attr:
            vals = node.attr["_class"].list.s
            vals[:] = [new(v.decode("utf-8", "replace")).encode("utf-8") if v.startswith(b"loc:@") else v
                       for v in vals]
    return out


def _check_args(graph_def, input_map, return_elements):
    if not is_graph_def(graph_def):
        raise TypeError("Argument `graph_def` must be a GraphDef proto.")
    if input_map is None:
        input_map = {}
    elif not isinstance(input_map, dict) or not all(isinstance(k, str) for k in input_map):
        raise TypeError(f"Argument `input_map` must be a dictionary with string keys. Obtained {input_map}.")
    if return_elements is not None:
        given = return_elements
        return_elements = tuple(given) if not isinstance(given, str) else None
        if return_elements is None or not all(isinstance(x, str) for x in return_elements):
            raise TypeError(f"Argument `return_elements` must be a list of strings. Obtained {given}.")
    for key in input_map:
        if key.startswith("^"):
            raise ValueError(f"input_map key {key!r}: pygraph maps tensors only, not control inputs ('^op')")
    return input_map, return_elements


def import_graph_def(graph_def, input_map=None, return_elements=None, name=None, op_dict=None,
                     producer_op_list=None):
    """Imports `graph_def` into the default graph. Returns None, or the ops/tensors named by return_elements
    ("op" -> Operation, "op:k" -> Tensor). op_dict and producer_op_list are accepted and unused, as in TF."""
    del op_dict, producer_op_list
    input_map, return_elements = _check_args(graph_def, input_map, return_elements)
    graph = get_default_graph()
    from ..ops.core import convert_to_tensor

    graph_def = as_graph_def(graph_def)
    with graph._all_or_nothing(), graph.as_default():
        mapped = {}
        for key, value in input_map.items():  # TF converts each value with convert_to_tensor
            if isinstance(value, Operation):
                raise TypeError(f"can't convert Operation '{value.name}' to Tensor (input_map[{key!r}])")
            mapped[_tensor_key(key)] = value if isinstance(value, Tensor) else convert_to_tensor(value)
        if name == "":
            prefix = ""
        else:
            with graph.name_scope(name or "import") as scope:
                prefix = scope[:-1]
        names = [n.name for n in graph_def.node]
        full = {n: prepend_name_scope(n, prefix) for n in names}
        with graph.name_scope(None):
            for n in names:  # TF's uniquify_names: a name already in use becomes name_1, ...
                if full[n].lower() in graph._names_in_use or full[n] in graph._ops_by_name:
                    full[n] = graph.unique_name(full[n])
        gd = _renamed(graph_def, {n: f for n, f in full.items() if f != n})
        made = _import(gd, graph, input_map={(full.get(op, op), k): t for (op, k), t in mapped.items()})
        unused = [key for key in input_map if _tensor_key(key)[0] not in full
                  or _tensor_key(key)[1] >= len(made.get(full[_tensor_key(key)[0]], ()))]
        if unused:
            raise ValueError(f"Attempted to map inputs that were not found in graph_def: [{', '.join(unused)}]")
        return None if return_elements is None else [_element(graph, made, full, r) for r in return_elements]


def _element(graph, made, full, ref):
    if ":" not in ref:
        if ref not in full:
            raise ValueError(f"Requested return node '{ref}' not found in graph def")
        return graph.get_operation_by_name(full[ref])
    op, k = ref.split(":", 1)
    if op not in full or not k.isdigit():
        raise ValueError(f"Requested return tensor '{ref}' not found in graph def")
    outs = made[full[op]]
    if int(k) >= len(outs):
        raise ValueError(f"Invalid return output {k} of node '{op}', which has {len(outs)} output(s)")
    return outs[int(k)]

