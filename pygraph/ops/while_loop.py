"""tf.while_loop as TF 1.x builds it: Enter/Merge/LoopCond/Switch/Identity/NextIteration/Exit in a `while/`
name scope, one WhileContext per region of the loop.

A loop has two regions: the predicate (region 0: the Merges, cond's ops, LoopCond, the Switches) and the
body (region 1: the Identities, body's ops, NextIteration). Every op created while a region is being built
records it (Graph.create_op calls `admit`, as for tf.cond): a tensor from outside the loop comes in
through an Enter (is_constant=True) built outside the loop, and an op with no inputs waits for the
region's pivot (the first Merge, or the first Identity), as in TF. The compiler turns a loop into a C++
`for` around its kernels (codegen/structured/loop.py): the Merges take the Enter's value on the first
iteration and the NextIteration's afterwards, LoopCond breaks out, Exit reads the last value.

Loop variables keep their shapes (TF's default); a `shape_invariants` entry may be less specific, but
pygraph's compiled loop still needs the shape to stay the same from one iteration to the next (checked
when the loop runs). tf.gradients differentiates a loop as a whole with a gradient loop (while_grad.py);
back_prop=False loops stop gradients, as in TF.
"""

from __future__ import annotations

from .. import dtypes, errors
from ..graph import Tensor
from ..shape import TensorShape
from . import registry
from .control_flow import _flatten, _in_context, _pack, context_chain, home_context, switch
from .core import convert_to_tensor, make_op, op_scope
from .math import identity

_LOOP = dict(T="type", frame_name="string", is_constant="bool", parallel_iterations="int")
# stateful: never folded on the host; each runs in the compiled loop
registry.register("Enter", registry.STRUCTURED, stateful=True, attrs=_LOOP)
registry.register("Exit", registry.STRUCTURED, stateful=True, attrs={"T": "type"})
registry.register("NextIteration", registry.STRUCTURED, stateful=True, attrs={"T": "type"})
registry.register("LoopCond", registry.STRUCTURED, stateful=True, attrs={})


class WhileFrame:
    """One tf.while_loop: its name, settings, and the outside tensors it has brought in."""

    def __init__(self, name, outer, parallel_iterations, back_prop):
        self.name, self.outer = name, outer
        self.parallel_iterations, self.back_prop = parallel_iterations, back_prop
        self.entered = {}  # outside tensor -> its Enter inside the loop
        self.merges = []
        # filled by _build_loop for gradients (while_grad.py): per loop variable, in order
        self.enters, self.ids, self.nexts, self.exits = [], [], [], []
        self.pred_ctx = self.body_ctx = self.loop_cond = None
        self.grad_of = None  # the forward frame, for a gradient loop built by while_grad.py
        self.counter = None  # the forward iteration count (an Exit), added when a gradient needs it
        self.stacks = {}  # forward tensor -> its value in a gradient loop (popped from a stack)


class WhileContext:
    """One region of one loop (0: the predicate, 1: the body); see the module docstring."""

    is_loop = True

    def __init__(self, frame, region, pivot=None):
        self.frame, self.region, self.pivot, self.outer = frame, region, pivot, frame.outer

    def chain(self):
        return context_chain(self)

    def contains(self, t):
        if t.op.type == "Enter" and getattr(t.op, "_while_frame", None) is self.frame:
            return True  # the loop's own way in
        c = home_context(t)
        while c is not None:
            if getattr(c, "frame", None) is self.frame:
                return True
            c = c.outer
        return False

    def capture(self, t):
        """`t` as seen inside the loop: itself, or an Enter (is_constant) of it built outside the loop."""
        if self.contains(t) or t.op.type == "VariableV2":  # a variable itself: assignments need its buffer
            return t
        if self.frame.grad_of is not None:  # a gradient loop reads its forward loop's values (while_grad.py)
            from .while_grad import forward_value

            seen = forward_value(self, t)
            if seen is not None:
                return seen
        frame = self.frame
        if t not in frame.entered:
            outside = self.outer.capture(t) if self.outer is not None else t
            with _in_context(t.graph, self.outer):
                frame.entered[t] = _enter(outside, frame, is_constant=True)
        return frame.entered[t]

    def admit(self, inputs, control_inputs):
        inputs = [self.capture(t) for t in inputs]
        if not inputs and self.pivot is not None and self.pivot.op not in control_inputs:
            control_inputs = [*control_inputs, self.pivot.op]
        return inputs, control_inputs


def _enter(t, frame, is_constant, name="Enter"):
    op = make_op("Enter", [t], [(t.dtype, t.shape)], name,
                 {"T": t.dtype, "frame_name": frame.name, "is_constant": is_constant,
                  "parallel_iterations": frame.parallel_iterations})
    op._while_frame = frame
    return op.outputs[0]


def _shape_at_least_as_specific(a, b):
    """TF's _ShapeLessThanOrEqual(a, b): every known dim of b is known and equal in a."""
    if b.ndims is None:
        return True
    if a.ndims != b.ndims:
        return False
    return all(y is None or x == y for x, y in zip(a.as_tuple(), b.as_tuple()))


def _check_invariants(loop_vars, shape_invariants):
    if shape_invariants is None:
        return [v.shape for v in loop_vars]
    flat = _flatten(shape_invariants)
    if len(flat) != len(loop_vars):
        raise ValueError(f"shape_invariants has {len(flat)} shapes for {len(loop_vars)} loop variables: the two "
                         "structures don't have the same nested structure.")
    shapes = []
    for v, s in zip(loop_vars, flat):
        s = TensorShape(s)
        if not _shape_at_least_as_specific(v.shape, s):
            raise ValueError(f"The shape invariant specified for {v.name} is not compatible with the initial shape "
                             f"of the loop variable. It enters the loop with shape {v.shape}, but the specified "
                             f"shape invariant is {s}.")
        shapes.append(s)
    return shapes


def _scalar_bool(c):
    c = convert_to_tensor(c)
    if c.dtype is not dtypes.bool_:
        raise TypeError(f"The loop condition must return a bool tensor, got {c.dtype.name} ({c.name}).")
    if c.shape.ndims not in (0, None):
        raise ValueError(f"Shape must be rank 0 but is rank {c.shape.ndims} for 'LoopCond' (the loop condition "
                         f"{c.name} must be a scalar).")
    return c


def _build_loop(cond, body, loop_vars, shape_invariants, frame, return_same_structure):
    graph = frame.graph
    flat_in = [convert_to_tensor(v) for v in _flatten(loop_vars)]
    shapes = _check_invariants(flat_in, shape_invariants)
    enters = []
    for v, s in zip(flat_in, shapes):
        e = _enter(v, frame, is_constant=False)
        e._shape = s  # the invariant (or the initial shape) is what the loop sees
        enters.append(e)
    pred_ctx = WhileContext(frame, 0)
    with _in_context(graph, pred_ctx):
        merges = []
        for e in enters:
            op = make_op("Merge", [e, e], [(e.dtype, e.shape), (dtypes.int32, ())], "Merge",
                         {"T": e.dtype, "N": 2})
            op._while_frame = frame
            merges.append(op.outputs[0])
        pred_ctx.pivot = merges[0]
        frame.merges = [m.op for m in merges]
        frame.enters, frame.pred_ctx = enters, pred_ctx
        c = _scalar_bool(cond(*_pack(loop_vars, merges)[0]) if isinstance(loop_vars, (list, tuple))
                         else cond(merges[0]))
        loop_cond = make_op("LoopCond", [c], [(dtypes.bool_, ())], "LoopCond").outputs[0]
        loop_cond.op._while_frame = frame
        frame.loop_cond = loop_cond
        switches = [switch(m, loop_cond) for m in merges]
    body_ctx = WhileContext(frame, 1)
    with _in_context(graph, body_ctx):
        ids = [identity(s[1]) for s in switches]
        body_ctx.pivot = ids[0]
        frame.ids, frame.body_ctx = ids, body_ctx
        packed = _pack(loop_vars, ids)[0] if isinstance(loop_vars, (list, tuple)) else ids[0]
        result = body(*packed) if isinstance(loop_vars, (list, tuple)) else body(packed)
        if not isinstance(result, (list, tuple)):
            result = [result]
        flat_out = _flatten(result)
        if len(flat_out) != len(merges) or not _same_structure(packed if isinstance(loop_vars, (list, tuple))
                                                                else [packed], result):
            raise ValueError("The two structures don't have the same nested structure: the loop variables are "
                             f"{_describe(loop_vars)} and the body returned {_describe(result)}.")
        nexts = []
        for m, v in zip(merges, flat_out):
            v = body_ctx.capture(v if isinstance(v, Tensor) else convert_to_tensor(v, dtype=m.dtype))
            _check_next(m, v)
            n = make_op("NextIteration", [v], [(v.dtype, v.shape)], "NextIteration", {"T": v.dtype})
            n._while_frame, n._while_merge = frame, m.op
            m.op.inputs[1] = n.outputs[0]  # the back edge (TF's _AddNextAndBackEdge)
            nexts.append(n)
    frame.nexts = nexts
    exits = frame.exits
    for s in switches:
        x = make_op("Exit", [s[0]], [(s[0].dtype, s[0].shape)], "Exit", {"T": s[0].dtype}).outputs[0]
        x.op._while_frame = frame
        exits.append(x)
    packed_out = _pack(result, exits)[0]
    if return_same_structure:
        return packed_out
    return exits[0] if len(exits) == 1 else packed_out


def _same_structure(a, b):
    if isinstance(a, (list, tuple)) != isinstance(b, (list, tuple)):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same_structure(x, y) for x, y in zip(a, b))
    return True


def _describe(s):
    if isinstance(s, (list, tuple)):
        inner = ", ".join(_describe(x) for x in s)
        return f"[{inner}]" if isinstance(s, list) else f"({inner})"
    return "tensor"


def _check_next(merge, value):
    """TF's checks of a body output against its loop variable (dtype; shape at least as specific)."""
    entered = merge.op.inputs[0].op.inputs[0]
    if value.dtype is not merge.dtype:
        raise TypeError(f"Input tensor '{entered.name}' enters the loop with type {merge.dtype.name}, but has "
                        f"type {value.dtype.name} after one iteration.")
    if not _shape_at_least_as_specific(value.shape, merge.shape):
        raise ValueError(f"Input tensor '{entered.name}' enters the loop with shape {merge.shape}, but has shape "
                         f"{value.shape} after one iteration. To allow the shape to vary across iterations, use "
                         "the `shape_invariants` argument of tf.while_loop to specify a less-specific shape.")


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10, back_prop=True,
               swap_memory=False, name=None, maximum_iterations=None, return_same_structure=False):
    """tf.while_loop: repeat `body` while `cond` holds; returns the loop variables' final values."""
    if not callable(cond):
        raise TypeError("cond must be callable.")
    if not callable(body):
        raise TypeError("body must be callable.")
    if not isinstance(parallel_iterations, int) or isinstance(parallel_iterations, bool) or parallel_iterations < 1:
        raise TypeError("parallel_iterations must be a positive integer.")
    if loop_vars is None or (isinstance(loop_vars, (list, tuple)) and not _flatten(loop_vars)):
        raise ValueError("No loop variables provided")
    values = [v for v in _flatten(loop_vars) if isinstance(v, Tensor)]
    with op_scope(name, "while", values) as scope:
        graph = _graph(values)
        if maximum_iterations is not None:
            maximum_iterations = convert_to_tensor(maximum_iterations, name="maximum_iterations")
            if maximum_iterations.shape.ndims != 0:
                raise ValueError(f"maximum_iterations must be a scalar, saw shape: {maximum_iterations.shape}")
            counter = convert_to_tensor(0, dtype=maximum_iterations.dtype, name="iteration_counter")
            cond, body, loop_vars = _count_iterations(cond, body, loop_vars, maximum_iterations, counter,
                                                      return_same_structure)
            if shape_invariants is not None:
                shape_invariants = (TensorShape(()), shape_invariants)
        frame = WhileFrame(scope + "while_context", graph._cond_context, parallel_iterations, back_prop)
        frame.graph, frame.scope = graph, scope
        result = _build_loop(cond, body, loop_vars, shape_invariants, frame, return_same_structure)
    return result[1] if maximum_iterations is not None else result


def _graph(values):
    from ..graph import get_default_graph

    return values[0].graph if values else get_default_graph()


def _count_iterations(cond, body, loop_vars, limit, counter, return_same_structure):
    """TF's maximum_iterations: a counter as first loop variable, and `i < maximum_iterations` in cond."""
    from .math import less, logical_and

    single = not isinstance(loop_vars, (list, tuple)) or (len(loop_vars) == 1 and not return_same_structure)
    if single:
        inner = loop_vars[0] if isinstance(loop_vars, (list, tuple)) else loop_vars
        return (lambda i, lv: logical_and(less(i, limit), cond(lv)),
                lambda i, lv: (i + 1, body(lv)), (counter, inner))
    return (lambda i, lv: logical_and(less(i, limit), cond(*lv)),
            lambda i, lv: (i + 1, body(*lv)), (counter, loop_vars))


def _not_differentiable_loop(op, *grads):
    """Reached only by loop ops that tf.while_loop did not build here (gradients.backprop differentiates
    its loops as a whole)."""
    frame = getattr(op, "_while_frame", None)
    if frame is not None and not frame.back_prop:  # TF: a back_prop=False loop passes no gradient
        return [None] * len(op.inputs)
    raise errors.UnimplementedError(None, op, errors.describe(
        op, f"pygraph cannot differentiate through '{op.name}' ({op.type}): it differentiates only loops built by "
            "tf.while_loop in this process (not an imported graph's)."))


for _type in ("Exit", "Enter", "NextIteration"):
    registry.RegisterGradient(_type)(_not_differentiable_loop)
registry.REGISTRY["LoopCond"].not_differentiable = True
