"""tf.cond as TF 1.x builds it: Switch/Merge ops in a `cond/` name scope, one CondContext per branch.

Every op created while a branch is being built records its context (Graph.create_op calls `admit`): a
tensor from outside the branch is brought in through a Switch (TF's `cond/Switch_1`, ...), and an op with
no inputs waits for the branch's pivot (`cond/switch_t`, `cond/switch_f`). The compiler runs the ops of a
context only when its predicate has the branch's value (codegen/structured/cond.py; the `guard` of a
node), so only the taken branch executes; Merge copies the taken branch's value out. The gradient of a
cond is a cond of the branches' gradients: Merge's gradient switches the incoming gradient into the
branches, Switch's merges the branches' gradients back (zeros from a branch that did not use the value).
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np

from .. import dtypes
from ..graph import Tensor
from ..shape import TensorShape
from . import registry
from .core import convert_to_tensor, make_op, op_scope
from .math import identity

# stateful: never folded on the host
registry.register("Switch", registry.STRUCTURED, stateful=True, attrs={"T": "type"})
registry.register("Merge", registry.STRUCTURED, stateful=True, attrs={"T": "type", "N": "int"})


def context_chain(context):
    """The control-flow contexts (cond branches, loop regions) from the outermost to `context`."""
    out, c = [], context
    while c is not None:
        out.append(c)
        c = c.outer
    return out[::-1]


class CondContext:
    """One branch of one cond: ops built in it run only when `pred` equals `branch` (1 true, 0 false)."""

    def __init__(self, pred, pred_id, pivot, branch, outer):
        self.pred, self.pred_id, self.pivot, self.branch, self.outer = pred, pred_id, pivot, branch, outer
        self._captured = {}

    def chain(self):
        return context_chain(self)

    def contains(self, t):
        c = home_context(t)
        while c is not None:
            if c is self:
                return True
            c = c.outer
        return False

    def capture(self, t):
        """`t` as seen inside this branch: itself, or the branch's output of a Switch on it."""
        if self.contains(t) or t.op.type == "VariableV2":  # a variable itself: assignments need its buffer
            return t
        if t not in self._captured:
            outside = self.outer.capture(t) if self.outer is not None else t
            with _in_context(t.graph, self.outer):
                inside = switch(outside, self.pred_id)[self.branch]
            inside.op._cond_output_contexts = {self.branch: self}
            self._captured[t] = inside
        return self._captured[t]

    def admit(self, inputs, control_inputs):
        """Graph.create_op's hook: inputs captured, and the pivot as control input of an input-less op."""
        inputs = [self.capture(t) for t in inputs]
        if not inputs and self.pivot.op not in control_inputs:
            control_inputs = [*control_inputs, self.pivot.op]
        return inputs, control_inputs


def home_context(t):
    """The context a tensor's value belongs to (a Switch output belongs to its branch)."""
    by_output = getattr(t.op, "_cond_output_contexts", None)
    if by_output and t.value_index in by_output:
        return by_output[t.value_index]
    return getattr(t.op, "_cond_context", None)


@contextlib.contextmanager
def _in_context(graph, ctx):
    saved = graph._cond_context
    graph._cond_context = ctx
    try:
        yield
    finally:
        graph._cond_context = saved


def op_context(op):
    """Gradients of `op` are built in its context (gradients.py)."""
    return _in_context(op.graph, getattr(op, "_cond_context", None))


def switch(data, pred, name="Switch"):
    """(output_false, output_true): `data` forwarded to the branch that `pred` selects."""
    spec = (data.dtype, data.shape)
    op = make_op("Switch", [data, pred], [spec, spec], name, {"T": data.dtype})
    return op.outputs


def _merged_shape(a, b):
    if a.ndims is None or b.ndims is None or a.ndims != b.ndims:
        return TensorShape(None)
    return TensorShape([x if x == y else None for x, y in zip(a.as_list(), b.as_list())])


def merge(false_value, true_value, pred, contexts=(None, None), name="Merge"):
    """The taken branch's value (and its index). `pred` picks it: the compiler knows no dead tensors."""
    if false_value.dtype is not true_value.dtype:
        raise ValueError(f"Outputs of true_fn and false_fn must have the same type: {true_value.dtype.name}, "
                         f"{false_value.dtype.name}")
    shape = _merged_shape(false_value.shape, true_value.shape)
    op = make_op("Merge", [false_value, true_value], [(false_value.dtype, shape), (dtypes.int32, ())], name,
                 {"T": false_value.dtype, "N": 2})
    op._cond_pred, op._cond_branch_contexts = pred, tuple(contexts)
    return op.outputs[0]


def _flatten(structure):
    if isinstance(structure, (list, tuple)):
        return [x for s in structure for x in _flatten(s)]
    return [structure]


def _pack(structure, flat):
    if isinstance(structure, (list, tuple)):
        out = []
        for s in structure:
            packed, flat = _pack(s, flat)
            out.append(packed)
        return type(structure)(out) if not hasattr(structure, "_fields") else type(structure)(*out), flat
    return flat[0], flat[1:]


def _build_branch(ctx, fn, which):
    graph = ctx.pred.graph
    with _in_context(graph, ctx):
        result = fn()
        if result is None:
            raise ValueError(f"{which} must have a return value.")
        flat = [ctx.capture(convert_to_tensor(v)) for v in _flatten(result)]
    return result, flat


def cond(pred, true_fn=None, false_fn=None, strict=False, name=None, fn1=None, fn2=None):
    """tf.cond: true_fn() if pred else false_fn(); only the taken branch runs."""
    true_fn = true_fn if true_fn is not None else fn1
    false_fn = false_fn if false_fn is not None else fn2
    if not callable(true_fn):
        raise TypeError("true_fn must be callable.")
    if not callable(false_fn):
        raise TypeError("false_fn must be callable.")
    if isinstance(pred, bool):
        raise TypeError("pred must not be a Python bool")
    with op_scope(name, "cond", [pred]):
        pred = convert_to_tensor(pred)
        if pred.dtype is not dtypes.bool_ or pred.shape.ndims not in (0, None):
            raise TypeError(f"pred must be a scalar bool tensor, got {pred.dtype.name} {pred.shape}")
        outer = pred.graph._cond_context
        p_false, p_true = switch(pred, pred)
        pivot_t = identity(p_true, name="switch_t")
        pivot_f = identity(p_false, name="switch_f")
        pred_id = identity(pred, name="pred_id")
        ctx_t = CondContext(pred, pred_id, pivot_t, 1, outer)
        ctx_f = CondContext(pred, pred_id, pivot_f, 0, outer)
        res_t, flat_t = _build_branch(ctx_t, true_fn, "true_fn")
        res_f, flat_f = _build_branch(ctx_f, false_fn, "false_fn")
        if len(flat_t) != len(flat_f):
            raise ValueError(f"Outputs of true_fn and false_fn must have the same structure: {len(flat_t)} "
                             f"vs {len(flat_f)} tensors.")
        merged = [merge(f, t, pred, (ctx_f, ctx_t)) for f, t in zip(flat_f, flat_t)]
    if not isinstance(res_t, (list, tuple)):
        return merged[0]
    if len(merged) == 1 and not strict:  # TF1 unpacks a singleton unless strict=True
        return merged[0]
    return _pack(res_t, merged)[0]


@registry.RegisterGradient("Merge")
def _merge_grad(op, grad, _index_grad):
    ctx_f, ctx_t = op._cond_branch_contexts
    sw = switch(grad, op._cond_pred, name="cond_grad")
    sw[0].op._cond_output_contexts = {0: ctx_f, 1: ctx_t}
    return [sw[0], sw[1]]


@registry.RegisterGradient("Switch")
def _switch_grad(op, grad_false, grad_true):
    # gradients.py gives an unused float output zeros: the branch that did not use the value adds nothing
    if grad_false is None or grad_true is None:
        return [None, None]
    return [merge(grad_false, grad_true, op.inputs[1], name="cond_grad"), None]


def smart_cond(pred, true_fn=None, false_fn=None, name=None):
    """TF's smart_cond (what tf.layers' dropout and batch_normalization use): a Python bool or a constant
    predicate calls the one function directly; a tensor predicate builds a cond."""
    value = pred
    if isinstance(pred, Tensor) and pred.op.type == "Const":
        value = bool(pred.op.attrs["value"])
    if isinstance(value, (bool, np.bool_)):
        return true_fn() if value else false_fn()
    return cond(pred, true_fn, false_fn, name=name)


def case(pred_fn_pairs, default=None, exclusive=False, strict=False, name="case"):
    """tf.case: the first pair whose predicate holds, else `default`, as nested conds (TF1's layout).
    Without a default or with exclusive=True TF adds run-time Asserts, which pygraph does not have yet."""
    if isinstance(pred_fn_pairs, dict):
        pred_fn_pairs = sorted(pred_fn_pairs.items(), key=lambda item: item[0].name)
    if not isinstance(pred_fn_pairs, (list, tuple)):
        raise TypeError(f"'pred_fn_pairs' must be a list, tuple, or dict. Received: {type(pred_fn_pairs)}")
    for pair in pred_fn_pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise TypeError(f"Each entry in 'pred_fn_pairs' must be a 2-tuple. Received {pair}.")
        pred, fn = pair
        if not isinstance(pred, Tensor):
            raise TypeError(f"pred must be a Tensor, got: {pred}")
        if pred.dtype is not dtypes.bool_:
            raise TypeError(f"pred must be Tensor of type bool: {pred.name}")
        if not callable(fn):
            raise TypeError(f"fn for pred {pred.name} must be callable.")
    if default is None or exclusive:
        raise NotImplementedError("tf.case without a default, or with exclusive=True, needs run-time Asserts, "
                                  "which pygraph does not have yet: pass default= and exclusive=False.")
    with op_scope(name, "case", [p for p, _ in pred_fn_pairs]):
        fn = default
        for pred, action in reversed(list(pred_fn_pairs)):
            fn = functools.partial(cond, pred, action, fn, strict=strict)
        return fn()
