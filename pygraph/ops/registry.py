"""The op table: one row per primitive op type, with its facets side by side.

A row says how the op computes (`kind`, which picks the codegen emitter), what it means
(`numpy`, the reference semantics used by the tests), whether it has state, and its gradient
(filled by RegisterGradient). The builders that create nodes live beside the rows, in the op
family modules (math.py, array.py, state.py, ...).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from . import attr_schema

# kinds the code generator understands
ELEMENTWISE = "elementwise"  # one output element from the same-index (broadcast) input elements
SOURCE = "source"  # no inputs: constants, placeholders, variables
STATE = "state"  # writes a variable's buffer
STRUCTURED = "structured"  # its own emitter (reductions, matmul, layout ops, random)
HOST = "host"  # runs in Python on the results (summaries, strings)
CONTROL = "control"  # no data: NoOp, group


@dataclass
class OpDef:
    type: str
    kind: str
    numpy: Callable | None = None
    stateful: bool = False
    gradient: Callable | None = None
    not_differentiable: bool = False
    # op -> ndarray: per-session state the compiled kernel reads and updates in place (random counters)
    session_state: Callable | None = None
    # attr name -> type (attr_schema.TYPES, "?" prefix: may be None or absent); Graph.create_op checks every
    # node against it, so no attribute reaches code generation unchecked. None: the op cannot be created.
    attrs: dict | None = None
    # (attrs, inputs, output_specs) -> None, raising attr_schema.AttrError: value checks that need the
    # inputs (an axis within the input's rank, a permutation of the right length)
    check: Callable | None = None
    # registered at run time by an op library or tf.inline_op: a gradient is the user's to register
    user_defined: bool = False


REGISTRY: dict[str, OpDef] = {}


def register(op_type, kind, numpy=None, stateful=False, attrs=None, check=None):
    if op_type in REGISTRY:
        raise KeyError(f"Op type {op_type!r} is already registered.")
    if attrs is None:
        raise TypeError(f"register({op_type!r}): declare the op's attributes (attrs={{name: type}}, {{}} for none)")
    for name, attr_type in attrs.items():
        if attr_type.lstrip("?") not in attr_schema.TYPES:
            raise TypeError(f"register({op_type!r}): attr {name!r} has unknown type {attr_type!r}")
    REGISTRY[op_type] = OpDef(op_type, kind, numpy, stateful, attrs=dict(attrs), check=check)
    return REGISTRY[op_type]


# Op types registered by a module imported only when a graph needs them: a meta graph read from a file
# holds pygraph.distribute's collectives (or summaries) although its reader never imported that module.
LAZY = {"PgAllreduce": "pygraph.distribute.ops", "PgBroadcast": "pygraph.distribute.ops",
        "PgAllgather": "pygraph.distribute.ops",
        # tf.summary loads on first use (pygraph/__init__.py), a graph file's summary nodes load it too
        "ScalarSummary": "pygraph.summary.ops", "HistogramSummary": "pygraph.summary.ops",
        "MergeSummary": "pygraph.summary.ops"}


def find(op_type):
    """The OpDef of op_type, importing the module that registers it when it is one of LAZY; None if none."""
    if op_type not in REGISTRY and op_type in LAZY:
        importlib.import_module(LAZY[op_type])
    return REGISTRY.get(op_type)


def lookup(op_type) -> OpDef:
    try:
        return REGISTRY[op_type]
    except KeyError:
        raise KeyError(f"No op registered for type {op_type!r}.") from None


class RegisterGradient:
    """Decorator: @tf.RegisterGradient("OpType") def grad(op, *grads) -> list of input gradients."""

    def __init__(self, op_type):
        if not isinstance(op_type, str):
            raise TypeError("op_type must be a string")
        self._op_type = op_type

    def __call__(self, fn):
        row = REGISTRY.get(self._op_type)
        if row is None:  # gradients may be registered for ops a custom library adds later
            row = REGISTRY[self._op_type] = OpDef(self._op_type, STRUCTURED)
        if row.gradient is not None:
            raise KeyError(f"Registering two gradient with name '{self._op_type}'!")
        row.gradient = fn
        row.not_differentiable = False
        return fn


def NotDifferentiable(op_type):  # noqa: N802 (TF's name)
    row = REGISTRY.get(op_type)
    if row is None:
        row = REGISTRY[op_type] = OpDef(op_type, STRUCTURED)
    row.not_differentiable = True
    row.gradient = None


NoGradient = NotDifferentiable
