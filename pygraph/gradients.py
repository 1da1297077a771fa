"""tf.gradients: reverse-mode differentiation over the graph.

The walk follows TF1's gradients_util: collect the ops between xs and ys, visit them in reverse
creation order (creation order is a topological order), sum the gradients that reach each output
(AddN), call the op type's registered gradient function under `gradients/<op name>_grad/`, and hand
the input gradients on. Variables are differentiated through their ref tensor, so a loss that reads
`theta/read` (or any other read of `theta`) reaches `theta`.
"""

from __future__ import annotations

import enum

from . import dtypes
from .graph import Operation, Tensor, _graph_of
from .ops import (  # noqa: F401  (registers gradients)
    array_grad,
    control_flow,
    linalg_grad,
    math_grad,
    reduce_grad,
    registry,
    slicing_grad,
    while_grad,
)
from .ops.core import constant, convert_to_tensor, fmt_shape
from .ops.math import add_n, identity, ones_like, zeros_like
from .ops.state import group


class UnconnectedGradients(enum.Enum):
    """What tf.gradients returns for an x that the ys do not depend on."""

    NONE = "none"
    ZERO = "zero"


class AggregationMethod:
    """How gradients reaching one tensor over several paths are summed (all use AddN here)."""

    ADD_N = 0
    DEFAULT = ADD_N
    EXPERIMENTAL_TREE = 1
    EXPERIMENTAL_ACCUMULATE_N = 2


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _as_x(x):
    """A tensor to differentiate with respect to: a Variable means its ref (TF1's as_ref=True)."""
    ref = getattr(x, "_ref_tensor", None)
    if ref is not None:
        return ref()
    if isinstance(x, Tensor):
        return x
    if isinstance(x, Operation):
        raise TypeError(f"Can't differentiate with respect to Operation '{x.name}': xs must be Tensors or "
                        "Variables.")
    return convert_to_tensor(x, name="x")


def gradients(ys, xs, grad_ys=None, name="gradients", colocate_gradients_with_ops=False, gate_gradients=False,
              aggregation_method=None, stop_gradients=None, unconnected_gradients=UnconnectedGradients.NONE):
    """Symbolic derivatives of sum(ys) with respect to each x in xs (None where ys do not depend on x)."""
    ys, xs = _as_list(ys), _as_list(xs)
    stop_gradients = [] if stop_gradients is None else _as_list(stop_gradients)
    grad_ys = [None] * len(ys) if grad_ys is None else _as_list(grad_ys)
    try:
        unconnected_gradients = UnconnectedGradients(unconnected_gradients)
    except ValueError:
        raise ValueError(f"Unknown value for unconnected_gradients: {unconnected_gradients!r}") from None
    if aggregation_method is not None and aggregation_method not in (0, 1, 2):
        raise ValueError(f"Invalid aggregation_method specified {aggregation_method}.")
    if len(grad_ys) != len(ys):
        raise ValueError(f"Passed {len(grad_ys)} grad_ys for {len(ys)} ys")

    g = _graph_of(ys + xs)
    with g.as_default(), g.name_scope(name or "gradients"):
        ys = [convert_to_tensor(y, name="y") for y in ys]
        xs = [_as_x(x) for x in xs]
        stop_tensors = [_as_x(t) for t in stop_gradients]
        for t in ys + xs + stop_tensors:
            if t.graph is not g:
                raise ValueError(f"Tensor {t.name} is not an element of the graph of the ys and xs.")
        grad_ys = _default_grad_ys(grad_ys, ys)
        while_grad.check_xs_outside_loops(xs)
        between = _between_ops(g, [y.op for y in ys], [x.op for x in xs])
        stop_ops = _stop_ops([x.op for x in xs], between) | {t.op for t in stop_tensors}

        grads = {}  # op -> per output: list of incoming gradients, then the aggregated one
        for y, gy in zip(ys, grad_ys):
            _set_grad(grads, y, gy)
        backprop(grads, between, stop_ops, gate_gradients, control_flow.op_context)
        return [_get_grad(grads, x, unconnected_gradients) for x in xs]


def backprop(grads, between, stop_ops, gate_gradients, context_of, inside=None):
    """Hand the gradients in `grads` back through `between`, last op first. A tf.while_loop's ops are
    differentiated together, by a gradient loop (ops/while_grad.py); every other op's gradient function
    runs in `context_of(op)` (an op in a cond branch: its gradient is in that branch). `inside`: the loop
    whose body's ops these are (each differentiated on its own, inside the gradient loop)."""
    done_loops = set()
    for op in sorted(between, key=lambda o: o._id, reverse=True):
        frame = while_grad.loop_frame(op)
        if frame is not None and frame is not inside:
            if frame not in done_loops:
                done_loops.add(frame)
                exit_grads = [_aggregate(grads, x.op)[0] for x in frame.exits]
                for t_in, in_grad in while_grad.loop_gradients(frame, exit_grads, between, op):
                    _set_grad(grads, t_in, in_grad)
            continue
        with context_of(op):
            out_grads = _aggregate(grads, op)
            in_grads = _op_gradients(op, out_grads, op not in stop_ops, gate_gradients, between)
        for i, (t_in, in_grad) in enumerate(zip(op.inputs, in_grads)):
            if in_grad is None:
                continue
            _check_gradient(op, i, t_in, in_grad)
            _set_grad(grads, t_in, in_grad)


def _default_grad_ys(grad_ys, ys):
    """Fill in ones for missing grad_ys; given ones are checked and named `grad_ys_<i>` as in TF."""
    out = []
    for i, (y, gy) in enumerate(zip(ys, grad_ys)):
        if gy is None:
            if not (y.dtype.is_floating or y.dtype.is_integer):
                raise TypeError(f"Tensor {y.name} with type {y.dtype.name} must be numeric to obtain a default "
                                "gradient")
            if y.shape.ndims == 0:
                out.append(constant(1, dtype=y.dtype, name=f"grad_ys_{i}"))
            else:
                out.append(ones_like(y, name=f"grad_ys_{i}"))
            continue
        if not isinstance(gy, Tensor) and not hasattr(gy, "_as_tensor"):
            gy = convert_to_tensor(gy, dtype=y.dtype, name="grad_y")
        gy = convert_to_tensor(gy)
        if gy.dtype is not y.dtype:
            raise TypeError(f"Gradient type {gy.dtype.name} generated for tensor {y.name} with type "
                            f"{y.dtype.name}: grad_ys[{i}] must have the dtype of ys[{i}].")
        if not gy.shape.is_compatible_with(y.shape):
            raise ValueError(f"grad_ys[{i}] ({gy.name}) has shape {fmt_shape(gy.shape)}, which is incompatible "
                             f"with the shape {fmt_shape(y.shape)} of ys[{i}] ({y.name}).")
        out.append(identity(gy, name=f"grad_ys_{i}"))
    return out


def _between_ops(g, to_ops, from_ops, within=None):
    """Ops on a data path from some x's op to some y's op (both ends included); with `within`, a path
    only through those ops (and the xs' ops)."""
    consumers = {}
    for op in g._ops if within is None else within:
        for t in op.inputs:
            consumers.setdefault(t.op, []).append(op)
    reached = set()
    stack = list(from_ops)
    while stack:
        op = stack.pop()
        if op in reached:
            continue
        reached.add(op)
        stack.extend(consumers.get(op, ()))
    between = set()
    stack = list(to_ops)
    while stack:
        op = stack.pop()
        if op in between or op not in reached:
            continue
        between.add(op)
        stack.extend(t.op for t in op.inputs)
    return between


def _stop_ops(from_ops, between):
    """The xs' ops that no other x feeds: gradients stop there (TF's _StopOps)."""
    return {op for op in from_ops if not any(t.op in between for t in op.inputs)}


def _set_grad(grads, t, grad):
    per_output = grads.setdefault(t.op, [[] for _ in t.op.outputs])
    per_output[t.value_index].append(grad)


def _aggregate(grads, op):
    """Sum each output's incoming gradients (AddN under `gradients/`); [] becomes None."""
    per_output = grads.get(op)
    if per_output is None:
        return [None] * len(op.outputs)
    out = []
    for received in per_output:
        if isinstance(received, list):
            if not received:
                received = None
            elif len(received) == 1:
                received = received[0]
            else:
                received = add_n(received)
        out.append(received)
    grads[op] = out
    return out


def _op_gradients(op, out_grads, differentiate, gate, between):
    """Input gradients of one op: its registered function under `<op name>_grad/`, or Nones.

    Gradients for inputs outside the xs-to-ys subgraph can reach no x: they are dropped before gating, so
    the gate does not force computing them (TF computes them anyway; the returned gradients are the same).
    """
    if not differentiate or all(gr is None for gr in out_grads):
        return [None] * len(op.inputs)
    row = registry.REGISTRY.get(op.type)
    if row is None or (row.gradient is None and not row.not_differentiable):
        raise LookupError(f"No gradient defined for operation '{op.name}' (op type: {op.type})")
    if row.not_differentiable:
        return [None] * len(op.inputs)
    out_grads = list(out_grads)
    for i, gr in enumerate(out_grads):  # an unused float output of a multi-output op has gradient zero
        if gr is None and op.outputs[i].dtype.is_floating:
            out_grads[i] = zeros_like(op.outputs[i])
    with op.graph.name_scope(op.name + "_grad"):
        in_grads = row.gradient(op, *out_grads)
        in_grads = list(in_grads) if isinstance(in_grads, (list, tuple)) else [in_grads]
        if len(in_grads) != len(op.inputs):
            raise ValueError(f"Num gradients {len(in_grads)} generated for op {op.name} (type {op.type}) do not "
                             f"match num inputs {len(op.inputs)}")
        in_grads = [gr if t.op in between else None for t, gr in zip(op.inputs, in_grads)]
        if gate and sum(gr is not None for gr in in_grads) > 1:
            in_grads = gated(in_grads)
    return in_grads


def _check_gradient(op, i, t_in, in_grad):
    if not isinstance(in_grad, Tensor):
        raise TypeError(f"The gradient function of {op.type} returned {in_grad!r} for input {i} of "
                        f"'{op.name}': expected a Tensor or None.")
    try:
        in_grad.set_shape(t_in.shape)
    except ValueError:
        raise ValueError(f"Incompatible shapes between op input and calculated input gradient.  Forward "
                         f"operation: {op.name}.  Input index: {i}. Original input shape: "
                         f"{fmt_shape(t_in.shape)}.  Calculated input gradient shape: "
                         f"{fmt_shape(in_grad.shape)}") from None


def _get_grad(grads, x, unconnected):
    per_output = grads.get(x.op)
    grad = None if per_output is None else per_output[x.value_index]
    if isinstance(grad, list):  # x's op was not visited (x is a y that no x feeds): aggregate now
        grad = _aggregate(grads, x.op)[x.value_index]
    if grad is None and unconnected is UnconnectedGradients.ZERO:
        dtype = x.dtype if x.dtype.is_floating else dtypes.float32
        return zeros_like(x, dtype=dtype)
    return grad


def gated(tensors, name=None):
    """TF's control_flow_ops.tuple: each tensor passed through an Identity that waits for all of them."""
    present = [t for t in tensors if t is not None]
    with present[0].graph.name_scope(name or "tuple"):
        gate = group(*[t.op for t in present], name="group_deps")
        out = []
        for t in tensors:
            if t is None:
                out.append(None)
                continue
            with t.graph.control_dependencies([gate]):
                out.append(identity(t, name="control_dependency"))
        return out


__all__ = ["gradients", "UnconnectedGradients", "AggregationMethod"]
