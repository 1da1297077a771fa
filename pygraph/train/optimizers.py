"""TF1's optimizers with the exact update formulas of its training_ops kernels (ApplyGradientDescent,
ApplyMomentum, ApplyAdam, ApplyAdagrad, ApplyRMSProp, ApplyCenteredRMSProp), written as graph ops.

Each update lives in the name scope `<optimizer>/update_<var>/Apply<Kind>/` and its final write to
the variable is the op named `<optimizer>/update_<var>/Apply<Kind>`, as TF names the kernel op.
"""

from __future__ import annotations

from ..graph import get_default_graph
from ..ops.core import constant, convert_to_tensor
from ..ops.math import rsqrt, sqrt, square
from ..ops.state import assign, assign_add, assign_sub, group
from .optimizer import Optimizer, cast_like


def _hyper(value, name):
    return convert_to_tensor(Optimizer._call_if_callable(value), name=name)


def _write(var, scope, value, op=assign_sub):
    """The update's final write, named exactly like the scope it was computed in."""
    return op(var, value, name=scope).op


class GradientDescentOptimizer(Optimizer):
    """tf.train.GradientDescentOptimizer(learning_rate): var -= learning_rate * grad.

    learning_rate: a float or a scalar tensor. `minimize(loss)` returns the training-step operation."""

    def __init__(self, learning_rate, use_locking=False, name="GradientDescent"):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate

    def _prepare(self):
        self._learning_rate_tensor = _hyper(self._learning_rate, "learning_rate")

    def _apply_dense(self, grad, var):
        lr = cast_like(self._learning_rate_tensor, var)
        with var.graph.name_scope("ApplyGradientDescent") as scope:
            return _write(var, scope, grad * lr)


class MomentumOptimizer(Optimizer):
    """tf.train.MomentumOptimizer(learning_rate, momentum): accum = accum * momentum + grad;
    var -= learning_rate * accum (use_nesterov: var -= lr * grad + lr * momentum * accum).

    One "Momentum" slot variable per trained variable. `minimize(loss)` returns the training-step operation."""

    def __init__(self, learning_rate, momentum, use_locking=False, name="Momentum", use_nesterov=False):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._momentum = momentum
        self._use_nesterov = use_nesterov

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "momentum", self._name)

    def _prepare(self):
        self._learning_rate_tensor = _hyper(self._learning_rate, "learning_rate")
        self._momentum_tensor = _hyper(self._momentum, "momentum")

    def _apply_dense(self, grad, var):
        accum = self.get_slot(var, "momentum")
        lr = cast_like(self._learning_rate_tensor, var)
        momentum = cast_like(self._momentum_tensor, var)
        with var.graph.name_scope("ApplyMomentum") as scope:
            accum_t = assign(accum, accum._ref_tensor() * momentum + grad)
            if self._use_nesterov:
                return _write(var, scope, grad * lr + accum_t * momentum * lr)
            return _write(var, scope, accum_t * lr)


class AdamOptimizer(Optimizer):
    """tf.train.AdamOptimizer(learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-08): Adam (Kingma & Ba)
    with TF1's bias-corrected step size and float32 beta power accumulators.

    Slot variables m and v per trained variable (named <var>/Adam and <var>/Adam_1), and beta1_power/beta2_power
    variables, as in TF1 (so checkpoints match). `minimize(loss)` returns the training-step operation."""

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-08, use_locking=False, name="Adam"):
        super().__init__(use_locking, name)
        self._lr, self._beta1, self._beta2, self._epsilon = learning_rate, beta1, beta2, epsilon

    def _get_beta_accumulators(self, graph=None):
        graph = graph or get_default_graph()
        return (self._get_non_slot_variable("beta1_power", graph),
                self._get_non_slot_variable("beta2_power", graph))

    def _create_slots(self, var_list):
        first_var = min(var_list, key=lambda v: v.name)
        self._create_non_slot_variable(self._beta1, "beta1_power", first_var)
        self._create_non_slot_variable(self._beta2, "beta2_power", first_var)
        for v in var_list:
            self._zeros_slot(v, "m", self._name)
            self._zeros_slot(v, "v", self._name)

    def _prepare(self):
        self._lr_t = _hyper(self._lr, "learning_rate")
        self._beta1_t = _hyper(self._beta1, "beta1")
        self._beta2_t = _hyper(self._beta2, "beta2")
        self._epsilon_t = _hyper(self._epsilon, "epsilon")

    def _apply_dense(self, grad, var):
        m, v = self.get_slot(var, "m"), self.get_slot(var, "v")
        beta1_power, beta2_power = self._get_beta_accumulators(var.graph)
        b1p, b2p = cast_like(beta1_power, var), cast_like(beta2_power, var)
        lr, b1, b2, eps = (cast_like(t, var) for t in (self._lr_t, self._beta1_t, self._beta2_t, self._epsilon_t))
        with var.graph.name_scope("ApplyAdam") as scope:
            one = constant(1, dtype=var.dtype)
            alpha = lr * sqrt(one - b2p) / (one - b1p)
            m_ref, v_ref = m._ref_tensor(), v._ref_tensor()
            m_t = assign(m, m_ref + (grad - m_ref) * (one - b1))
            v_t = assign(v, v_ref + (square(grad) - v_ref) * (one - b2))
            return _write(var, scope, (m_t * alpha) / (sqrt(v_t) + eps))

    def _finish(self, update_ops, name_scope):
        beta1_power, beta2_power = self._get_beta_accumulators(update_ops[0].graph)
        with update_ops[0].graph.control_dependencies(update_ops):
            update_beta1 = beta1_power.assign(beta1_power * self._beta1_t)
            update_beta2 = beta2_power.assign(beta2_power * self._beta2_t)
        return group(*update_ops, update_beta1, update_beta2, name=name_scope)


class AdagradOptimizer(Optimizer):
    """tf.train.AdagradOptimizer(learning_rate, initial_accumulator_value=0.1): accum += grad^2;
    var -= learning_rate * grad / sqrt(accum). `minimize(loss)` returns the training-step operation."""

    def __init__(self, learning_rate, initial_accumulator_value=0.1, use_locking=False, name="Adagrad"):
        if initial_accumulator_value <= 0.0:
            raise ValueError(f"initial_accumulator_value must be positive: {initial_accumulator_value}")
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._initial_accumulator_value = initial_accumulator_value

    def _create_slots(self, var_list):
        for v in var_list:
            self._get_or_make_slot_with_initializer(v, self._initial_accumulator_value, "accumulator", self._name)

    def _prepare(self):
        self._learning_rate_tensor = _hyper(self._learning_rate, "learning_rate")

    def _apply_dense(self, grad, var):
        accum = self.get_slot(var, "accumulator")
        lr = cast_like(self._learning_rate_tensor, var)
        with var.graph.name_scope("ApplyAdagrad") as scope:
            accum_t = assign_add(accum, square(grad))
            return _write(var, scope, grad * lr * rsqrt(accum_t))


class RMSPropOptimizer(Optimizer):
    """tf.train.RMSPropOptimizer(learning_rate, decay=0.9, momentum=0.0, epsilon=1e-10, centered=False):
    ms = decay*ms + (1-decay)*grad^2 (ms starts at ones); mom = momentum*mom + lr*grad/sqrt(ms+eps);
    var -= mom. Centered: the denominator is sqrt(ms - mg^2 + eps) with mg the mean gradient."""

    def __init__(self, learning_rate, decay=0.9, momentum=0.0, epsilon=1e-10, use_locking=False, centered=False,
                 name="RMSProp"):
        super().__init__(use_locking, name)
        self._learning_rate, self._decay, self._momentum, self._epsilon = learning_rate, decay, momentum, epsilon
        self._centered = centered

    def _create_slots(self, var_list):
        for v in var_list:
            self._get_or_make_slot_with_initializer(v, 1, "rms", self._name)
            if self._centered:
                self._zeros_slot(v, "mg", self._name)
            self._zeros_slot(v, "momentum", self._name)

    def _prepare(self):
        self._learning_rate_tensor = _hyper(self._learning_rate, "learning_rate")
        self._decay_tensor = _hyper(self._decay, "decay")
        self._momentum_tensor = _hyper(self._momentum, "momentum")
        self._epsilon_tensor = _hyper(self._epsilon, "epsilon")

    def _apply_dense(self, grad, var):
        rms, mom = self.get_slot(var, "rms"), self.get_slot(var, "momentum")
        lr, rho, momentum, eps = (cast_like(t, var) for t in (
            self._learning_rate_tensor, self._decay_tensor, self._momentum_tensor, self._epsilon_tensor))
        kind = "ApplyCenteredRMSProp" if self._centered else "ApplyRMSProp"
        with var.graph.name_scope(kind) as scope:
            one = constant(1, dtype=var.dtype)
            ms_ref = rms._ref_tensor()
            ms_t = assign(rms, ms_ref + (square(grad) - ms_ref) * (one - rho))
            if self._centered:
                mg = self.get_slot(var, "mg")
                mg_ref = mg._ref_tensor()
                mg_t = assign(mg, mg_ref + (grad - mg_ref) * (one - rho))
                denom = (ms_t - square(mg_t)) + eps
            else:
                denom = ms_t + eps
            mom_t = assign(mom, mom._ref_tensor() * momentum + (grad * lr) / sqrt(denom))
            return _write(var, scope, mom_t)


__all__ = ["GradientDescentOptimizer", "MomentumOptimizer", "AdamOptimizer", "AdagradOptimizer",
           "RMSPropOptimizer"]
