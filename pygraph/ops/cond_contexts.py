"""tf.cond's and tf.while_loop's contexts in meta graph files (TF keeps CondContextDefs and WhileContextDefs
in collections).

The document's optional "cond_contexts" entry: the contexts (a cond branch: predicate, pred_id and pivot
tensor names, branch, outer context; a loop region: its loop, region and pivot), the loops (name,
back_prop, parallel_iterations, outer context, Merges) and which op belongs to which, so an imported cond
still runs only its taken branch, its Merge still knows its predicate, and an imported loop still loops.
A loop's Merge is stored with its Enter as both inputs (documents name only earlier ops); "back_edges"
maps each NextIteration to its Merge and puts the edge back on import.
"""

from __future__ import annotations

from ..errors import DataLossError
from .control_flow import CondContext
from .while_loop import WhileContext, WhileFrame


def exported_inputs(op):
    """The inputs a document stores for `op`: a loop's Merge without its back edge."""
    if op.type == "Merge" and hasattr(op, "_while_frame"):
        return [op.inputs[0], op.inputs[0]]
    return op.inputs


def export_contexts(graph, strip, keep):
    """The "cond_contexts" entry for the ops `keep(op)` selects; `strip` maps a graph name to a stored one."""
    index, contexts, frame_index, frames = {}, [], {}, []

    def number_frame(frame):
        if frame not in frame_index:
            outer = number(frame.outer)
            frame_index[frame] = len(frames)
            frames.append({"name": frame.name, "back_prop": frame.back_prop, "outer": outer,
                           "parallel_iterations": frame.parallel_iterations,
                           "merges": [strip(m.name) for m in frame.merges]})
        return frame_index[frame]

    def number(ctx):
        if ctx is None:
            return None
        if ctx not in index:
            if getattr(ctx, "is_loop", False):
                entry = {"loop": number_frame(ctx.frame), "region": ctx.region, "pivot": strip(ctx.pivot.name)}
            else:
                outer = number(ctx.outer)
                entry = {"pred": strip(ctx.pred.name), "pred_id": strip(ctx.pred_id.name),
                         "pivot": strip(ctx.pivot.name), "branch": ctx.branch, "outer": outer}
            index[ctx] = len(contexts)
            contexts.append(entry)
        return index[ctx]

    ops, switches, merges, loop_ops, back_edges = {}, {}, {}, {}, {}
    for op in graph.get_operations():
        if not keep(op):
            continue
        frame = getattr(op, "_while_frame", None)
        if frame is not None:
            loop_ops[strip(op.name)] = number_frame(frame)
            if op.type == "NextIteration":
                back_edges[strip(op.name)] = strip(op._while_merge.name)
        ctx = getattr(op, "_cond_context", None)
        if ctx is not None:
            ops[strip(op.name)] = number(ctx)
        outputs = getattr(op, "_cond_output_contexts", None)
        if outputs:
            switches[strip(op.name)] = {str(b): number(c) for b, c in outputs.items() if c is not None}
        if op.type == "Merge" and getattr(op, "_cond_pred", None) is not None:
            merges[strip(op.name)] = {"pred": strip(op._cond_pred.name),
                                      "contexts": [number(c) for c in op._cond_branch_contexts]}
    if not (ops or switches or merges or loop_ops):
        return None
    return {"contexts": contexts, "ops": ops, "switches": switches, "merges": merges, "loops": frames,
            "loop_ops": loop_ops, "back_edges": back_edges}


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
    contexts, frames = [], {}

    def frame(i):
        if i not in frames:
            f = entry["loops"][i]
            outer = f["outer"]
            if outer is not None and not 0 <= outer < len(contexts):
                raise IndexError(f"loop {i}'s outer context {outer!r} is not an earlier context")
            frames[i] = WhileFrame(str(f["name"]), contexts[outer] if outer is not None else None,
                                   int(f["parallel_iterations"]), bool(f["back_prop"]))
            frames[i].graph = graph
        return frames[i]

    for c in entry["contexts"]:
        if "loop" in c:
            if c["region"] not in (0, 1):
                raise ValueError(f"region {c['region']!r} is neither 0 nor 1")
            contexts.append(WhileContext(frame(c["loop"]), c["region"], tensor(c["pivot"])))
            continue
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
    for op_name, i in entry.get("loop_ops", {}).items():
        graph.get_operation_by_name(name(op_name))._while_frame = frame(i)
    for i, f in enumerate(entry.get("loops", [])):
        frame(i).merges = [graph.get_operation_by_name(name(m)) for m in f["merges"]]
    for next_name, merge_name in entry.get("back_edges", {}).items():
        nxt, merge = graph.get_operation_by_name(name(next_name)), graph.get_operation_by_name(name(merge_name))
        if merge.type != "Merge" or nxt.type != "NextIteration" or merge.inputs[0].dtype is not nxt.outputs[0].dtype:
            raise ValueError(f"back edge {next_name!r} -> {merge_name!r} does not join a NextIteration to a Merge")
        nxt._while_merge = merge
        merge.inputs[1] = nxt.outputs[0]
