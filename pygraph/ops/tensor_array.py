"""Arrays of per-step values for tf.nn.dynamic_rnn: TF's TensorArray, reduced to what a while loop over time
needs, so that a step reads its input and writes its output in O(one step) (a [time, ...] loop variable
would be copied whole every iteration).

An array is a per-run buffer of `size` slots named by its `array` attribute (codegen/structured/array.py),
threaded through the graph by a float32 scalar `flow`, as TF's TensorArray is, so that data dependencies
order its writes before its reads:

    PgArrayUnstack(value) -> flow              slot k = value[k], for every k (before a loop)
    PgArrayRead(flow, index) -> value          slot `index` (inside a loop; zeros if never written)
    PgArrayWrite(flow, index, value) -> flow   slot `index` = value, or += with `accumulate` (inside a loop)
    PgArrayStack(flow) -> [size, ...]          every slot (after the loop; zeros where never written)

A slot's shape is that of the op named by `source`: an Unstack's value without its first dim, or a
Write's value. Gradients follow TF's: the gradient of Stack unstacks the incoming gradient into the
array's gradient array (`<array>/grad`); the gradient of a Write reads its slot of it, that of a Read
accumulates into it, and that of Unstack stacks it. In a while loop's gradient these ops run in the
gradient loop, which passes the flows like any other float value.
"""

from __future__ import annotations

from .. import dtypes
from ..graph import get_default_graph
from ..shape import TensorShape
from . import registry
from .core import constant, make_op

_ATTRS = {"T": "type", "array": "string", "size": "int", "source": "string", "accumulate": "bool"}
for _type in ("PgArrayUnstack", "PgArrayRead", "PgArrayWrite", "PgArrayStack"):
    registry.register(_type, registry.STRUCTURED, stateful=True, attrs=_ATTRS)  # stateful: never merged/folded


def _attrs(dtype, array, size, source, accumulate=False):
    return {"T": dtype, "array": array, "size": int(size), "source": source, "accumulate": accumulate}


class TensorArray:
    """A fixed-size array of `size` values of one shape, written or read one slot at a time."""

    def __init__(self, dtype, size, name, element_shape=None):
        self.dtype, self.size = dtypes.as_dtype(dtype), int(size)
        self.element_shape = TensorShape(element_shape)
        self.array = get_default_graph().unique_name(name)
        self.source = None  # the op whose value gives a slot's shape
        self.flow = None

    def unstack(self, value):
        op = make_op("PgArrayUnstack", [value], [(dtypes.float32, ())], "TensorArrayUnstack",
                     _attrs(self.dtype, self.array, self.size, ""))
        op.attrs["source"] = op.name
        self.element_shape = TensorShape(value.shape.as_tuple()[1:] if value.shape.ndims else None)
        self.source, self.flow = op.name, op.outputs[0]
        return self

    def read(self, index, flow=None):
        return make_op("PgArrayRead", [flow if flow is not None else self.flow, index],
                       [(self.dtype, self.element_shape)], "TensorArrayRead",
                       _attrs(self.dtype, self.array, self.size, self.source)).outputs[0]

    def write(self, flow, index, value):
        """The new flow, after slot `index` = value (the first write names the slot's shape)."""
        op = make_op("PgArrayWrite", [flow, index, value], [(dtypes.float32, ())], "TensorArrayWrite",
                     _attrs(self.dtype, self.array, self.size, self.source or ""))
        if self.source is None:
            op.attrs["source"] = self.source = op.name
            self.element_shape = value.shape
        return op.outputs[0]

    def stack(self, flow):
        shape = TensorShape([self.size] + (self.element_shape.as_list() if self.element_shape.ndims is not None
                                           else []))
        if self.element_shape.ndims is None:
            shape = TensorShape(None)
        return make_op("PgArrayStack", [flow], [(self.dtype, shape)], "TensorArrayStack",
                       _attrs(self.dtype, self.array, self.size, self.source)).outputs[0]

    def zero_flow(self):
        return constant(0.0, dtype=dtypes.float32, name="flow")


def _grad_attrs(op, **change):
    attrs = dict(op.attrs, accumulate=False)
    attrs.update(change)
    return attrs


def _grad_array(op, grad_op):
    """`grad_op` works on the gradient array of `op`'s array, one per tf.gradients call (TF's grad source:
    the gradient op's name up to its "gradients" or "gradients_<k>" scope)."""
    parts = grad_op.name.split("/")
    k = next((i for i, p in enumerate(parts) if p == "gradients" or p.startswith("gradients_")), 0)
    grad_op.attrs["array"] = f"{op.attrs['array']}/{'/'.join(parts[:k + 1])}"
    return grad_op


@registry.RegisterGradient("PgArrayStack")
def _stack_grad(op, grad):
    """The gradient of every slot, unstacked into the gradient array (read back by the Writes' gradients)."""
    attrs = _grad_attrs(op)
    g = make_op("PgArrayUnstack", [grad], [(dtypes.float32, ())], "TensorArrayUnstackGrad", attrs)
    return [_grad_array(op, g).outputs[0]]


@registry.RegisterGradient("PgArrayWrite")
def _write_grad(op, grad):
    """The written value's gradient: its slot of the gradient array; the flow's passes through."""
    value = op.inputs[2]
    read = make_op("PgArrayRead", [grad, op.inputs[1]], [(value.dtype, value.shape)], "TensorArrayReadGrad",
                   _grad_attrs(op))
    return [grad, None, _grad_array(op, read).outputs[0]]


@registry.RegisterGradient("PgArrayRead")
def _read_grad(op, grad):
    """Added into its slot of the gradient array (a slot read twice gets both gradients)."""
    write = make_op("PgArrayWrite", [op.inputs[0], op.inputs[1], grad], [(dtypes.float32, ())],
                    "TensorArrayWriteGrad", _grad_attrs(op, accumulate=True))
    return [_grad_array(op, write).outputs[0], None]


@registry.RegisterGradient("PgArrayUnstack")
def _unstack_grad(op, grad):
    value = op.inputs[0]
    stack = make_op("PgArrayStack", [grad], [(value.dtype, value.shape)], "TensorArrayStackGrad", _grad_attrs(op))
    return [_grad_array(op, stack).outputs[0]]
