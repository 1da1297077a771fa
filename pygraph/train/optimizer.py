"""tf.train.Optimizer: gradients -> per-variable update ops, with TF1's slots, names and ordering.

Updates are ordinary graph ops (elementwise math + assign), so a whole training step compiles
into one fused program: one `sess.run(train_op)` is one call of one compiled kernel.
"""

from __future__ import annotations

from .. import dtypes
from ..gradients import gated, gradients
from ..graph import GraphKeys, get_default_graph
from ..ops.core import constant, convert_to_tensor
from ..ops.math import cast
from ..ops.state import Variable, assign_add, group

_VALID_DTYPES = (dtypes.float32, dtypes.float64)
_VALID_NAMES = "[tf.float16, tf.bfloat16, tf.float32, tf.float64]"


def _var_key(var):
    return var.op


class Optimizer:
    """Base class of the tf.train optimizers (GradientDescent, Momentum, Adam, Adagrad, RMSProp).

    `opt.minimize(loss)` returns an operation; each `sess.run` of it takes one training step: the gradients
    of `loss` (tf.gradients) and the update of every trainable variable, compiled into one call. Slot
    variables (Adam's m and v, momentum accumulators) are created in the graph like TF1's, under the
    variable's name, so a Saver saves and restores them. Subclasses define _create_slots, _prepare,
    _apply_dense and maybe _finish.
    """

    GATE_NONE = 0
    GATE_OP = 1
    GATE_GRAPH = 2

    def __init__(self, use_locking, name):
        if not name:
            raise ValueError("Must specify the optimizer name")
        self._use_locking = use_locking
        self._name = name
        self._slots = {}  # slot name -> {variable op: slot variable}
        self._non_slot_dict = {}  # (name, graph) -> variable

    def get_name(self):
        return self._name

    # -- the three public steps
    def minimize(self, loss, global_step=None, var_list=None, gate_gradients=GATE_OP, aggregation_method=None,
                 colocate_gradients_with_ops=False, name=None, grad_loss=None):
        """The training-step operation: compute_gradients then apply_gradients.

        loss: a scalar tensor (or a callable returning one). var_list: the variables to train (default: the
        TRAINABLE_VARIABLES collection). global_step: a variable incremented by each step. Raises ValueError
        when no variable has a gradient (no differentiable path from the loss to any of them).
        """
        grads_and_vars = self.compute_gradients(
            loss, var_list=var_list, gate_gradients=gate_gradients, aggregation_method=aggregation_method,
            colocate_gradients_with_ops=colocate_gradients_with_ops, grad_loss=grad_loss)
        if not [v for g, v in grads_and_vars if g is not None]:
            raise ValueError("No gradients provided for any variable, check your graph for ops that do not "
                             f"support gradients, between variables {[str(v) for _, v in grads_and_vars]} and "
                             f"loss {loss}.")
        return self.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def compute_gradients(self, loss, var_list=None, gate_gradients=GATE_OP, aggregation_method=None,
                          colocate_gradients_with_ops=False, grad_loss=None):
        """A list of (gradient or None, variable) pairs for the loss."""
        if callable(loss):
            loss = loss()
        if gate_gradients not in (Optimizer.GATE_NONE, Optimizer.GATE_OP, Optimizer.GATE_GRAPH):
            raise ValueError("gate_gradients must be one of: Optimizer.GATE_NONE, Optimizer.GATE_OP, "
                             f"Optimizer.GATE_GRAPH.  Not {gate_gradients}")
        loss = convert_to_tensor(loss)
        self._assert_valid_dtypes([loss])
        if grad_loss is not None:
            self._assert_valid_dtypes([convert_to_tensor(grad_loss)])
        graph = loss.graph
        if var_list is None:
            var_list = graph.get_collection(GraphKeys.TRAINABLE_VARIABLES)
        else:
            var_list = _flatten(var_list)
        if not var_list:
            raise ValueError("No variables to optimize.")
        for v in var_list:
            if not isinstance(v, Variable):
                raise NotImplementedError(f"Trying to optimize unsupported type {v!r}")
        grads = gradients(loss, var_list, grad_ys=grad_loss, gate_gradients=gate_gradients == Optimizer.GATE_OP,
                          aggregation_method=aggregation_method,
                          colocate_gradients_with_ops=colocate_gradients_with_ops)
        if gate_gradients == Optimizer.GATE_GRAPH and any(g is not None for g in grads):
            with graph.as_default():
                grads = gated(grads)
        pairs = list(zip(grads, var_list))
        self._assert_valid_dtypes([v for g, v in pairs if g is not None])
        return pairs

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """The op that applies the gradients (and then increments global_step, if given)."""
        grads_and_vars = tuple(grads_and_vars)
        if not grads_and_vars:
            raise ValueError("No variables provided.")
        converted = []
        for g, v in grads_and_vars:
            if g is not None:
                try:
                    g = convert_to_tensor(g)
                except (TypeError, ValueError):
                    raise TypeError(f"Gradient must be convertible to a Tensor or IndexedSlices, or None: {g}") \
                        from None
            if not isinstance(v, Variable):
                raise NotImplementedError(f"Trying to update unsupported type {v!r}")
            if g is not None and g.dtype is not v.dtype:
                raise TypeError(f"Gradient {g.name} has dtype {g.dtype.name} but variable {v.name} has dtype "
                                f"{v.dtype.name}.")
            if g is not None and not g.shape.is_compatible_with(v.shape):
                raise ValueError(f"Shapes {g.shape} and {v.shape} are incompatible: gradient {g.name} for "
                                 f"variable {v.name}.")
            converted.append((g, v))
        var_list = [v for g, v in converted if g is not None]
        if not var_list:
            raise ValueError(f"No gradients provided for any variable: {[str(v) for _, v in converted]}.")
        graph = var_list[0].graph
        with graph.as_default():
            with graph.control_dependencies(None):  # TF's init_scope: slots ignore surrounding dependencies
                self._create_slots(var_list)
            update_ops = []
            with graph.name_scope(name or self._name) as scope:
                self._prepare()
                for grad, var in converted:
                    if grad is None:
                        continue
                    with graph.name_scope("update_" + var.op.name):
                        update_ops.append(self._update_op(grad, var))
                if global_step is None:
                    apply_updates = self._finish(update_ops, scope)
                else:
                    with graph.control_dependencies([self._finish(update_ops, "update")]):
                        apply_updates = assign_add(global_step, 1, name=scope).op
            train_ops = graph.get_collection_ref(GraphKeys.TRAIN_OP)
            if apply_updates not in train_ops:
                train_ops.append(apply_updates)
            return apply_updates

    def _update_op(self, grad, var):
        op = self._apply_dense(grad, var)
        if var.constraint is None:
            return op
        with var.graph.control_dependencies([op]):
            return var.assign(var.constraint(var)).op

    # -- slots
    def get_slot_names(self):
        return sorted(self._slots)

    def get_slot(self, var, name):
        return self._slots.get(name, {}).get(_var_key(var))

    def variables(self):
        """The optimizer's variables (slots and non-slot ones like beta1_power) of the current graph."""
        graph = get_default_graph()
        found = [v for v in self._non_slot_dict.values() if v.graph is graph]
        for per_var in self._slots.values():
            found.extend(v for v in per_var.values() if v.graph is graph)
        return sorted(found, key=lambda v: v.name)

    def _slot_dict(self, slot_name):
        return self._slots.setdefault(slot_name, {})

    def _get_or_make_slot_with_initializer(self, var, fill_value, slot_name, op_name):
        """A slot variable `<var>/<op_name>` (made unique: `_1`...) filled with `fill_value`."""
        slots = self._slot_dict(slot_name)
        key = _var_key(var)
        if key not in slots:
            slots[key] = _create_slot(var, fill_value, op_name)
        return slots[key]

    def _zeros_slot(self, var, slot_name, op_name):
        return self._get_or_make_slot_with_initializer(var, 0, slot_name, op_name)

    def _create_non_slot_variable(self, initial_value, name, colocate_with):
        key = (name, colocate_with.graph)
        v = self._non_slot_dict.get(key)
        if v is None:
            with colocate_with.graph.as_default():
                v = Variable(initial_value, name=name, trainable=False)
            self._non_slot_dict[key] = v
        return v

    def _get_non_slot_variable(self, name, graph=None):
        return self._non_slot_dict.get((name, graph or get_default_graph()))

    def _non_slot_variables(self):
        return list(self._non_slot_dict.values())

    # -- hooks for subclasses
    def _create_slots(self, var_list):
        pass

    def _prepare(self):
        pass

    def _apply_dense(self, grad, var):
        raise NotImplementedError()

    def _finish(self, update_ops, name_scope):
        return group(*update_ops, name=name_scope)

    # -- helpers
    @staticmethod
    def _call_if_callable(param):
        return param() if callable(param) else param

    @staticmethod
    def _assert_valid_dtypes(tensors):
        for t in tensors:
            if t.dtype not in _VALID_DTYPES:
                raise ValueError(f"Invalid type {t.dtype!r} for {t.name}, expected: {_VALID_NAMES}.")


_INIT_NAMES = {0: "zeros", 1: "ones"}  # TF's zeros_initializer / ones_initializer op names


def _create_slot(var, fill_value, op_name):
    """TF1's slot_creator: a non-trainable global variable named `<var op name>/<op_name>` at the root
    name scope, initialised to `fill_value` with the variable's shape and dtype."""
    g = var.graph
    shape = var.shape.as_list()
    with g.as_default(), g.name_scope(None):
        def initial():
            return constant(fill_value, dtype=var.dtype, shape=shape, name=_INIT_NAMES.get(fill_value, "Const"))

        return Variable(initial, name=f"{var.op.name}/{op_name}", trainable=False, dtype=var.dtype)


def cast_like(t, var):
    """A hyperparameter tensor in the variable's dtype (TF casts float32 hyperparameters the same way)."""
    return cast(t, var.dtype)


def _flatten(items):
    out = []
    for item in items if isinstance(items, (list, tuple)) else [items]:
        if isinstance(item, (list, tuple)):
            out.extend(_flatten(item))
        else:
            out.append(item)
    return out


__all__ = ["Optimizer", "cast_like"]
