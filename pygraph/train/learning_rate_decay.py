"""Learning-rate schedules of TF1's tf.train (learning_rate_decay.py): tensors of the global step, so each
sess.run sees the rate for the current step. Formulas and names as TF1; `staircase` floors step/decay_steps."""

from __future__ import annotations

from ..ops.core import convert_to_tensor, op_scope
from ..ops.math import (
    add,
    cast,
    ceil,
    equal,
    exp,
    floor,
    greater,
    identity,
    less_equal,
    logical_and,
    minimum,
    multiply,
    negative,
    pow,
    truediv,
    where,
)


def _decay_inputs(fn, learning_rate, global_step, decay_steps, decay_rate):
    if global_step is None:
        raise ValueError(f"global_step is required for {fn}.")
    learning_rate = convert_to_tensor(learning_rate, name="learning_rate")
    dtype = learning_rate.dtype
    step = cast(global_step, dtype)
    return learning_rate, step, cast(decay_steps, dtype), cast(decay_rate, dtype)


def exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None):
    """learning_rate * decay_rate ** (global_step / decay_steps)."""
    with op_scope(name, "ExponentialDecay", [learning_rate, global_step, decay_steps, decay_rate]) as scope:
        lr, step, steps, rate = _decay_inputs("exponential_decay", learning_rate, global_step, decay_steps, decay_rate)
        p = truediv(step, steps)
        if staircase:
            p = floor(p)
        return multiply(lr, pow(rate, p), name=scope)


def natural_exp_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None):
    """learning_rate * exp(-decay_rate * global_step / decay_steps)."""
    with op_scope(name, "NaturalExpDecay", [learning_rate, global_step, decay_rate]) as scope:
        lr, step, steps, rate = _decay_inputs("natural_exp_decay", learning_rate, global_step, decay_steps, decay_rate)
        p = truediv(step, steps)
        if staircase:
            p = floor(p)
        return multiply(lr, exp(negative(rate) * p), name=scope)


def inverse_time_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None):
    """learning_rate / (1 + decay_rate * global_step / decay_steps)."""
    with op_scope(name, "InverseTimeDecay", [learning_rate, global_step, decay_rate]) as scope:
        lr, step, steps, rate = _decay_inputs("inverse_time_decay", learning_rate, global_step, decay_steps,
                                              decay_rate)
        p = truediv(step, steps)
        if staircase:
            p = floor(p)
        return truediv(lr, add(1.0, multiply(rate, p)), name=scope)


def polynomial_decay(learning_rate, global_step, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                     name=None):
    """(learning_rate - end) * (1 - step / decay_steps) ** power + end, the step capped at decay_steps (or,
    with cycle, decay_steps stretched to the next multiple above the step)."""
    with op_scope(name, "PolynomialDecay", [learning_rate, global_step, decay_steps, end_learning_rate, power]) \
            as scope:
        lr, step, steps, _ = _decay_inputs("polynomial_decay", learning_rate, global_step, decay_steps, 0)
        end = cast(end_learning_rate, lr.dtype)
        power = cast(power, lr.dtype)
        if cycle:  # TF's cond(step == 0, 1, ceil(step / decay_steps)), as a select of two scalars
            multiplier = where(equal(step, 0.0), convert_to_tensor(1.0, lr.dtype), ceil(truediv(step, steps)))
            steps = multiply(steps, multiplier)
        else:
            step = minimum(step, steps)
        p = truediv(step, steps)
        return add(multiply(lr - end, pow(1 - p, power)), end, name=scope)


def piecewise_constant(x, boundaries, values, name=None):
    """values[0] for x <= boundaries[0], values[i] for boundaries[i-1] < x <= boundaries[i], values[-1] after."""
    if len(boundaries) != len(values) - 1:
        raise ValueError("The length of boundaries should be 1 less than the length of values")
    with op_scope(name, "PiecewiseConstant", [x]) as scope:
        x = convert_to_tensor(x)
        bounds = []
        for b in boundaries:
            b = convert_to_tensor(b)
            if b.dtype is not x.dtype:
                if b.dtype.name == "int32" and x.dtype.name == "int64":  # TF promotes Python ints
                    b = cast(b, x.dtype)
                else:
                    raise ValueError(f"Boundaries ({b.dtype.name}) must have the same dtype as x ({x.dtype.name}).")
            bounds.append(b)
        vals = [convert_to_tensor(v) for v in values]
        if any(v.dtype is not vals[0].dtype for v in vals):
            raise ValueError("Values must have elements all with the same dtype "
                             f"({', '.join(v.dtype.name for v in vals)}).")
        result = vals[-1]
        for low, high, v in reversed(list(zip([None] + bounds[:-1], bounds, vals[:-1]))):
            pred = less_equal(x, high) if low is None else logical_and(greater(x, low), less_equal(x, high))
            result = where(pred, v, result)
        return identity(result, name=scope)
