"""Gradients through tf.while_loop (TF1 semantics; loops built with back_prop=False pass none).

The forward loop computes v[k+1] = body(v[k], c) for k < n, where c are the captured tensors: tensors
from outside the loop that the body reads (a weight). tf.gradients (gradients.backprop) treats the whole
loop as one op: given the gradients g[n] of its Exits, `loop_gradients` builds a gradient loop that runs
n times, k = n-1 down to 0:

    g[k] = (d body / d v[k])^T g[k+1]          acc_c += (d body / d c)^T g[k+1]

and returns g[0] for the loop's initial values and acc_c for each captured tensor. The body's gradient
ops are what tf.gradients builds over the body's ops, created inside the gradient loop.

The forward values those ops read are saved as TF saves them: the forward loop's body pushes each one on a
stack every iteration (PgStackPush, one stack per value), and the gradient loop pops it (PgStackPop), so
its iteration k sees the forward iteration k's value (a value read only for its dims is not copied: see
_mark_dims_only). The count n comes from a counter that the first
gradient adds to the forward loop (TF's AddForwardLoopCounter). A stack lives for one run of the compiled
program (codegen/structured/stack.py). TF names these StackV2/StackPushV2/StackPopV2 and keeps the stack
in a resource; pygraph's pair of ops names the stack in an attribute instead, so an exported graph with a
loop gradient runs in pygraph only.

Not supported (UnimplementedError naming the op): a tf.cond or another tf.while_loop inside the
differentiated loop, a differentiated loop inside a tf.cond branch or another loop, and gradients of a
gradient loop (second derivatives).
"""

from __future__ import annotations

from .. import dtypes, errors
from ..plan_loops import frame_of
from ..shape import TensorShape
from . import registry
from .control_flow import _in_context, switch
from .core import constant, make_op, op_scope
from .math import identity, zeros_like

_STACK = {"T": "type", "stack": "string", "dims_only": "bool"}
# stateful: never folded, never merged; each runs in its loop's every iteration
registry.register("PgStackPush", registry.STRUCTURED, stateful=True, attrs=_STACK)
registry.register("PgStackPop", registry.STRUCTURED, stateful=True, attrs=_STACK)
registry.REGISTRY["PgStackPush"].not_differentiable = True
registry.REGISTRY["PgStackPop"].not_differentiable = True


def loop_frame(op):
    """The tf.while_loop frame `op` belongs to (its Enters and Exits included), or None."""
    frame = getattr(op, "_while_frame", None)
    return frame if frame is not None else frame_of(op)


def _refuse(op, what):
    raise errors.UnimplementedError(None, op, errors.describe(
        op, f"pygraph cannot differentiate through tf.while_loop '{op.name}' yet: {what}. Build the loop with "
            "back_prop=False, or wrap the values it reads in tf.stop_gradient."))


def _check_supported(frame, op):
    if frame.grad_of is not None:
        _refuse(op, "it is a gradient loop (second derivatives of a loop are not supported)")
    if frame.outer is not None:
        _refuse(op, "the loop is inside a tf.cond branch or another tf.while_loop")
    regions = (frame.pred_ctx, frame.body_ctx)
    for other in frame.graph._ops:
        ctx = getattr(other, "_cond_context", None)
        if ctx is not None and ctx not in regions and any(c in regions for c in ctx.chain()):
            _refuse(other, f"its body holds a tf.cond or a nested tf.while_loop ('{other.name}')")


def _body_ops(frame):
    return [op for op in frame.graph._ops if getattr(op, "_cond_context", None) is frame.body_ctx]


def _captured(frame, between):
    """{outside tensor: the tensor the body reads for it} for captured float tensors on a path to an x."""
    out = {}
    for t, enter in frame.entered.items():
        if t.dtype.is_floating and t.op in between:
            out[t] = enter
    for op in _body_ops(frame):
        for t in op.inputs:
            if t.op.type == "VariableV2" and t.dtype.is_floating and t.op in between:
                out[t] = t
    return out


def check_xs_outside_loops(xs):
    """A loop is differentiated as a whole: a gradient with respect to one of its inner values is refused."""
    for x in xs:
        frame = loop_frame(x.op)
        if frame is not None and x.op.type != "Exit":
            _refuse(x.op, f"tf.gradients with respect to {x.name}, a value inside the loop, is not supported "
                          "(differentiate with respect to the loop's inputs or the tensors its body reads)")


def loop_gradients(frame, exit_grads, between, op):
    """[(tensor outside the loop, its gradient)] for the loop of `frame`, given its Exits' gradients."""
    if not frame.back_prop:
        return []
    if frame.body_ctx is None:  # its exits are unknown, so its gradient cannot be skipped either
        _refuse(op, "the loop was imported from a graph file (pygraph differentiates loops that tf.while_loop "
                    "built in this process)")
    if all(g is None for g in exit_grads):
        return []
    _check_supported(frame, op)
    float_vars = [i for i, x in enumerate(frame.exits) if x.dtype.is_floating]
    if not float_vars or all(exit_grads[i] is None for i in float_vars):
        return []
    graph = frame.graph
    with _in_context(graph, frame.outer):
        captured = list(_captured(frame, between).items())
        start = [exit_grads[i] if exit_grads[i] is not None else zeros_like(frame.exits[i]) for i in float_vars]
        init = [_forward_counter(frame)] + start + [zeros_like(t) for t, _ in captured]
        shapes = ([TensorShape(())] + [frame.merges[i].outputs[0].shape for i in float_vars]
                  + [t.shape for t, _ in captured])
        n = len(float_vars)

        def body(j, *state):
            grads, accs = state[:n], state[n:]
            d_vars, d_reads = _body_vjp(frame, float_vars, grads, [r for _, r in captured])
            grads = [d if d is not None else zeros_like(g) for d, g in zip(d_vars, grads)]
            accs = [a if d is None else a + d for a, d in zip(accs, d_reads)]
            return [j - 1] + grads + accs

        grad_frame, out = _gradient_loop(frame, lambda j, *state: j > 0, body, init, shapes)
        _mark_dims_only(grad_frame)
    pairs = [(frame.enters[i].op.inputs[0], g) for i, g in zip(float_vars, out[1:1 + n])]
    return pairs + [(t, acc) for (t, _), acc in zip(captured, out[1 + n:])]


def _gradient_loop(forward, cond, body, init, shapes):
    from .while_loop import WhileFrame, _build_loop

    graph = forward.graph
    with op_scope(None, "while", init) as scope:
        frame = WhileFrame(scope + "while_context", graph._cond_context, forward.parallel_iterations, True)
        frame.graph, frame.scope, frame.grad_of = graph, scope, forward
        return frame, _build_loop(cond, body, init, shapes, frame, True)


# readers of a value that use only its dims: (op type, input positions where that holds)
_DIMS_ONLY = {"Shape": (0,), "ZerosLike": (0,), "OnesLike": (0,), "SumToShape": (1,), "BroadcastLike": (1,)}


def _mark_dims_only(grad_frame):
    """A forward value that the gradient loop reads only for its dims (a broadcast's gradient summing to
    its shape) needs no saving: its dims are the same in every iteration, and the compiled program knows
    them before the loops run. Such a pair is marked `dims_only`: it copies nothing."""
    graph = grad_frame.graph
    for pop in grad_frame.stacks.values():
        readers = [(op, k) for op in graph._ops for k, x in enumerate(op.inputs) if x is pop]
        if readers and all(k in _DIMS_ONLY.get(op.type, ()) for op, k in readers):
            pop.op.attrs["dims_only"] = True
            pop.op._stack_push.attrs["dims_only"] = True


def _body_vjp(frame, float_vars, grads, reads):
    """Gradients of the body's results (weighted by `grads`) w.r.t. the float loop variables and `reads`,
    built in the current context (the gradient loop's body)."""
    import sys

    G = sys.modules["pygraph.gradients"]  # (the package's `gradients` attribute is the function)

    graph, here = frame.graph, frame.graph._cond_context
    ys = [frame.nexts[i].inputs[0] for i in float_vars]
    xs = [frame.ids[i] for i in float_vars] + list(reads)
    between = G._between_ops(graph, [y.op for y in ys], [x.op for x in xs], within=_body_ops(frame))
    ids = {t.op for t in frame.ids}
    for op in between:
        for t in op.inputs:
            if op not in ids and getattr(t.op, "_cond_context", None) is frame.pred_ctx:
                _refuse(op, f"its body reads {t.name}, a value of the loop's condition")
    grads_of = {}
    for y, g in zip(ys, grads):
        G._set_grad(grads_of, y, g)
    G.backprop(grads_of, between, G._stop_ops([x.op for x in xs], between), False,
               lambda op: _in_context(graph, here), inside=frame)
    got = [G._get_grad(grads_of, x, G.UnconnectedGradients.NONE) for x in xs]
    return got[:len(float_vars)], got[len(float_vars):]


def forward_value(ctx, t):
    """The value of the forward loop's tensor `t` in the gradient loop region `ctx` (its iteration's, from
    a stack), the captured outside tensor for an Enter, or None when `t` is not the forward loop's."""
    forward = ctx.frame.grad_of
    if t.op.type == "Exit" or loop_frame(t.op) is not forward:
        return None
    if t.op.type == "Enter":
        if not t.op.attrs["is_constant"]:
            raise errors.InternalError(None, t.op, f"a gradient reads the loop variable's Enter {t.name}")
        return ctx.capture(t.op.inputs[0])
    if ctx.region != 1:
        raise errors.InternalError(None, t.op, f"the gradient loop's condition reads {t.name}")
    if t not in ctx.frame.stacks:
        ctx.frame.stacks[t] = _stack(forward, t, f"{ctx.frame.name}:{t.name}")
    return ctx.frame.stacks[t]


def _stack(forward, t, name):
    """Push `t` in every iteration of the forward loop's body; pop it in the gradient loop's."""
    graph = forward.graph
    attrs = {"T": t.dtype, "stack": name, "dims_only": False}
    with graph.control_dependencies(None):
        with _in_context(graph, forward.body_ctx):
            push = make_op("PgStackPush", [t], [(t.dtype, t.shape)], "StackPush", attrs)
        pop = make_op("PgStackPop", [], [(t.dtype, t.shape)], "StackPop", attrs, control_inputs=[push])
    pop._stack_push = push
    return pop.outputs[0]


def _forward_counter(frame):
    """The forward loop's iteration count: a counter loop variable added to it (once)."""
    if frame.counter is not None:
        return frame.counter
    graph, int32 = frame.graph, dtypes.int32
    from .while_loop import _enter

    with graph.control_dependencies(None), graph.name_scope(frame.scope):
        with _in_context(graph, frame.outer):
            enter = _enter(constant(0, dtype=int32, name="f_count"), frame, is_constant=False)
        with _in_context(graph, frame.pred_ctx):
            merge = make_op("Merge", [enter, enter], [(int32, ()), (int32, ())], "Merge", {"T": int32, "N": 2})
            merge._while_frame = frame
            frame.merges.append(merge)
            taken = switch(merge.outputs[0], frame.loop_cond)
        with _in_context(graph, frame.body_ctx):
            step = identity(taken[1]) + constant(1, dtype=int32)
            nxt = make_op("NextIteration", [step], [(int32, ())], "NextIteration", {"T": int32})
            nxt._while_frame, nxt._while_merge = frame, merge
            merge.inputs[1] = nxt.outputs[0]
        with _in_context(graph, frame.outer):
            count = make_op("Exit", [taken[0]], [(int32, ())], "Exit", {"T": int32})
            count._while_frame = frame
    frame.counter = count.outputs[0]
    return frame.counter
