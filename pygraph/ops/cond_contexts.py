"""tf.cond's contexts in meta graph files (TF keeps CondContextDefs in the `cond_context` collection).

The document's optional "cond_contexts" entry: the contexts (predicate, pred_id and pivot tensor names,
branch, outer context) and which op belongs to which, so an imported cond still runs only its taken
branch and its Merge still knows its predicate.
"""

from __future__ import annotations

from ..errors import DataLossError
from .control_flow import CondContext


def export_contexts(graph, strip, keep):
    """The "cond_contexts" entry for the ops `keep(op)` selects; `strip` maps a graph name to a stored one."""
    index, contexts = {}, []

    def number(ctx):
        if ctx is None:
            return None
        if ctx not in index:
            outer = number(ctx.outer)
            index[ctx] = len(contexts)
            contexts.append({"pred": strip(ctx.pred.name), "pred_id": strip(ctx.pred_id.name),
                             "pivot": strip(ctx.pivot.name), "branch": ctx.branch, "outer": outer})
        return index[ctx]

    ops, switches, merges = {}, {}, {}
    for op in graph.get_operations():
        if not keep(op):
            continue
        ctx = getattr(op, "_cond_context", None)
        if ctx is not None:
            ops[strip(op.name)] = number(ctx)
        outputs = getattr(op, "_cond_output_contexts", None)
        if outputs:
            switches[strip(op.name)] = {str(b): number(c) for b, c in outputs.items() if c is not None}
        if op.type == "Merge" and getattr(op, "_cond_pred", None) is not None:
            merges[strip(op.name)] = {"pred": strip(op._cond_pred.name),
                                      "contexts": [number(c) for c in op._cond_branch_contexts]}
    if not (ops or switches or merges):
        return None
    return {"contexts": contexts, "ops": ops, "switches": switches, "merges": merges}


def import_contexts(graph, entry, name):
    """Rebuild what export_contexts stored onto the ops just imported (`name` maps stored names back);
    a malformed entry raises DataLossError."""
    if not entry:
        return
    try:
        _rebuild(graph, entry, name)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
        raise DataLossError(None, None, f"Malformed meta graph: its cond_contexts entry is unusable ({e!r})"
                            ) from None


def _rebuild(graph, entry, name):
    if not isinstance(entry, dict):
        raise TypeError("cond_contexts must be an object")
    tensor = (lambda n: graph.get_tensor_by_name(name(n)))
    contexts = []
    for c in entry["contexts"]:
        if c["outer"] is not None and not 0 <= c["outer"] < len(contexts):
            raise IndexError(f"outer context {c['outer']!r} is not an earlier context")
        if c["branch"] not in (0, 1):
            raise ValueError(f"branch {c['branch']!r} is neither 0 nor 1")
        outer = contexts[c["outer"]] if c["outer"] is not None else None
        contexts.append(CondContext(tensor(c["pred"]), tensor(c["pred_id"]), tensor(c["pivot"]), c["branch"],
                                    outer))
    at = (lambda i: contexts[i] if i is not None else None)
    for op_name, i in entry["ops"].items():
        graph.get_operation_by_name(name(op_name))._cond_context = contexts[i]
    for op_name, by_branch in entry["switches"].items():
        graph.get_operation_by_name(name(op_name))._cond_output_contexts = {int(b): at(i)
                                                                             for b, i in by_branch.items()}
    for op_name, m in entry["merges"].items():
        op = graph.get_operation_by_name(name(op_name))
        op._cond_pred, op._cond_branch_contexts = tensor(m["pred"]), tuple(at(i) for i in m["contexts"])
