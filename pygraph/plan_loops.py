"""How build_plan describes tf.while_loop nodes to the compiler (codegen/structured/loop.py): Node.loop,
the Merge's back edge and the LoopCond's order."""

from __future__ import annotations

from . import errors

LOOP_OPS = ("Enter", "Exit", "NextIteration", "LoopCond", "PgStackPop")


def frame_of(op):
    """The innermost tf.while_loop frame whose value `op` computes, or None."""
    ctx = getattr(op, "_cond_context", None)
    while ctx is not None and not getattr(ctx, "is_loop", False):
        ctx = ctx.outer
    return ctx.frame if ctx is not None else None


def loop_of_node(op, frames):
    """((frame number, region, guard terms outside the frame), ...) of the while loops around `op`,
    outermost first (codegen/structured/loop.py)."""
    ctx = getattr(op, "_cond_context", None)
    if ctx is None:
        return ()
    loop, conds = [], 0
    for c in ctx.chain():
        if getattr(c, "is_loop", False):
            loop.append((frames.setdefault(c.frame, len(frames)), c.region, conds))
        else:
            conds += 1
    return tuple(loop)


def loop_node_attrs(op, after, attrs, frames, node_of, loop_merges, nodes):
    """Attributes of a while loop's node for the compiler: a Merge reads only its Enter as input (its
    NextIteration comes later, as attrs["next"]) and knows its loop's number; a LoopCond runs after all of
    its loop's Merges, so every loop variable is current when it breaks. A gradient loop's PgStackPop
    knows the node that pushes its stack (ops/while_grad.py): its value has that node's shape."""
    if op.type == "PgStackPop":
        pushes = [c for c in op.control_inputs if c.type == "PgStackPush" and c.attrs["stack"] == op.attrs["stack"]]
        if len(pushes) != 1 or pushes[0] not in node_of:
            errors.raise_for_op(errors.INVALID_ARGUMENT, op, f"PgStackPop '{op.name}' needs one control input: the "
                                "PgStackPush of its stack (a tf.while_loop gradient's graph was edited?)")
        attrs["push"] = node_of[pushes[0]]
        return after
    frame = op._while_frame
    attrs.pop("frame_name", None)
    if op.type == "Merge":
        attrs["frame"] = frames.setdefault(frame, len(frames))
        cond = loop_merges.get(("LoopCond", frame))
        if cond is not None:  # a Merge added after the loop was built (a gradient's counter, while_grad.py)
            nodes[cond].after = (*nodes[cond].after, len(nodes))  # this Merge's node, about to be added
    if op.type == "LoopCond":
        after = after + [node_of[m] for m in frame.merges if m in node_of and node_of[m] not in after]
        loop_merges[("LoopCond", frame)] = len(nodes)  # this LoopCond's node, about to be added
    if op.type == "NextIteration":
        attrs["merge"] = loop_merges[op._while_merge]
    return after


def array_node_attrs(op, attrs, node_of):
    """A dynamic_rnn array op (ops/tensor_array.py) knows the node whose value gives a slot's shape."""
    try:
        source = op.graph.get_operation_by_name(op.attrs["source"])
    except (KeyError, ValueError):
        source = None
    if source is None or source.type not in ("PgArrayUnstack", "PgArrayWrite") or source not in node_of:
        errors.raise_for_op(errors.INVALID_ARGUMENT, op, f"{op.type} '{op.name}' names '{op.attrs['source']}' as "
                            "the op that gives its array's slot shape, and that is not an array's Unstack or "
                            "Write computed before it (a dynamic_rnn graph was edited?)")
    attrs["source_node"] = node_of[source]


def check_loop_fetches(fetch_tensors, fed):
    """TF cannot fetch a value from inside a loop either: only the loop's Exits leave it."""
    for t in fetch_tensors:
        if t not in fed and frame_of(t.op) is not None:
            errors.raise_for_op(errors.INVALID_ARGUMENT, t.op,
                                f"{t.name} is computed inside tf.while_loop '{frame_of(t.op).name}': only the loop's "
                                "results (its Exit tensors) can be fetched", "Return the value from the loop's body "
                                "as a loop variable and fetch the loop's output.")
