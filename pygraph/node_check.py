"""The checks Graph.create_op makes on every node, built by an op function or read from a file: the op type
is registered, inputs and control inputs belong to the graph, outputs are (DType, shape) pairs, and the
attributes fit the op's declared schema and value checks (pygraph/ops/attr_schema.py, attr_checks.py)."""

from __future__ import annotations

from . import errors
from .dtypes import DType
from .graph import Operation, Tensor
from .ops import attr_checks, attr_schema, registry
from .shape import TensorShape


def check_node(graph, op_type, name, inputs, attrs, output_specs, control_inputs):
    """(attrs, output specs) normalised to the op's registered schema, for built and imported nodes
    alike; InvalidArgumentError naming the node and attribute otherwise. Code generation relies on it:
    no attribute reaches generated C++ without being checked against its declared type."""
    row = registry.find(op_type) if isinstance(op_type, str) else None
    if row is None or row.attrs is None:
        raise errors.NotFoundError(None, None, f"Op type not registered '{op_type}' (node '{name}')")
    if not isinstance(attrs, dict) or not all(isinstance(k, str) for k in attrs):
        raise _bad(op_type, name, f"attrs must be a dict keyed by attribute name, not {type(attrs).__name__}")
    for t in inputs:
        if not isinstance(t, Tensor) or t.graph is not graph:
            raise _bad(op_type, name, f"input {t!r} is not a tensor of this graph")
    for c in control_inputs:
        if not isinstance(c, Operation) or c.graph is not graph:
            raise _bad(op_type, name, f"control input {c!r} is not an operation of this graph")
    specs = []
    for k, spec in enumerate(output_specs):
        if not isinstance(spec, (tuple, list)) or len(spec) != 2 or not isinstance(spec[0], DType):
            raise _bad(op_type, name, f"output {k} must be a (DType, shape) pair, got {spec!r}")
        shape = spec[1]
        if not isinstance(shape, TensorShape):
            try:
                shape = TensorShape(shape)
            except (TypeError, ValueError) as e:
                raise _bad(op_type, name, f"output {k} has an invalid shape {spec[1]!r}: {e}") from None
        specs.append((spec[0], shape))
    try:
        attrs = attr_schema.check_attrs(op_type, row.attrs, attrs)
        attr_checks.check_arity(op_type, inputs, specs, attrs)
        attr_checks.check_dtypes(op_type, inputs, specs, attrs)
        if row.check is not None:
            row.check(attrs, list(inputs), specs)
        attr_checks.check_mirrored(op_type, inputs, attrs)
    except attr_schema.AttrError as e:
        raise _bad(op_type, name, str(e)) from None
    return attrs, specs


def _bad(op_type, name, what):
    return errors.InvalidArgumentError(None, None, f"Invalid node '{name}' (op: '{op_type}'): {what}")
