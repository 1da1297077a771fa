"""Which variables hold a value: tf.is_variable_initialized, tf.report_uninitialized_variables and
tf.assert_variables_initialized.

Whether a variable is initialized is session state the compiled program never sees (Session._initialized),
so the two query ops are host ops: the plan answers them from the session after the program ran, and their
variable inputs are not reads (reading an uninitialized variable fails; asking about it must not).
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..graph import Tensor
from ..shape import TensorShape
from . import registry
from .core import constant, make_op, op_scope
from .layout import stack

# TF's op; the plan computes it (it needs the session), so it has no numpy function
registry.register("IsVariableInitialized", registry.HOST, stateful=True, attrs={"dtype": "type"})
# pygraph's one-op form of TF's mask over the names (IsVariableInitialized, Pack, LogicalNot, boolean_mask):
# strings live on the host, and so does this op
registry.register("ReportUninitializedVariables", registry.HOST, stateful=True, attrs={})
registry.NotDifferentiable("IsVariableInitialized")
registry.NotDifferentiable("ReportUninitializedVariables")

SESSION_QUERIES = ("IsVariableInitialized", "ReportUninitializedVariables")


def answer(op, initialized):
    """The value of a session query `op`, given the set of initialized VariableV2 operations."""
    if op.type == "IsVariableInitialized":
        return np.bool_(op.inputs[0].op in initialized)
    return np.array([t.op.name.encode() for t in op.inputs if t.op not in initialized], dtype=object)


def _variable_ref(v, what):
    ref = v._ref_tensor() if hasattr(v, "_ref_tensor") else v
    if not isinstance(ref, Tensor) or ref.op.type != "VariableV2":
        raise TypeError(f"{what} expects a variable, got {v!r}")
    return ref


def is_variable_initialized(variable):
    """A scalar bool tensor: whether `variable` holds a value in the session that runs it."""
    ref = _variable_ref(variable, "is_variable_initialized")
    with op_scope(None, "IsVariableInitialized", [ref]) as scope:
        return make_op("IsVariableInitialized", [ref], [(dtypes.bool_, TensorShape(()))], scope,
                       {"dtype": ref.dtype}).outputs[0]


def _all_variables(var_list):
    from .state import global_variables, local_variables

    return global_variables() + local_variables() if var_list is None else list(var_list)


def report_uninitialized_variables(var_list=None, name="report_uninitialized_variables"):
    """A 1-D string tensor of the names (b'hidden1/kernel') of the variables in var_list (default: global
    and local variables) that are not initialized; empty when all are."""
    refs = [_variable_ref(v, "report_uninitialized_variables") for v in _all_variables(var_list)]
    with op_scope(name, "report_uninitialized_variables", refs) as scope:
        if not refs:
            return constant(np.array([], dtype=object), dtype=dtypes.string, name=scope)
        return make_op("ReportUninitializedVariables", refs, [(dtypes.string, TensorShape([None]))], scope,
                       {}).outputs[0]


def assert_variables_initialized(var_list=None):
    """TF1's (deprecated) check: a tensor of the variables' ranks, whose run fails with
    FailedPreconditionError ("Attempting to use uninitialized value ...") when one is not initialized.
    None when there are no variables."""
    refs = [_variable_ref(v, "assert_variables_initialized") for v in _all_variables(var_list)]
    if not refs:
        return None
    ranks = []
    for ref in refs:  # Shape reads the variable (a constant would not): its run checks the variable's value
        with op_scope(None, "Rank", [ref]) as scope:
            dims = make_op("Shape", [ref], [(dtypes.int32, TensorShape([ref.shape.ndims]))], "Shape",
                           {"out_type": dtypes.int32, "T": ref.dtype}).outputs[0]
            ranks.append(make_op("Size", [dims], [(dtypes.int32, TensorShape(()))], scope,
                                 {"out_type": dtypes.int32, "T": dtypes.int32}).outputs[0])
    return ranks[0] if len(ranks) == 1 else stack(ranks)
