"""tf.nn.dynamic_rnn and tf.nn.rnn_cell.BasicRNNCell (TF1 names: `rnn/basic_rnn_cell/kernel` of shape
[input depth + units, units], applied to concat([x, h], 1), and `rnn/basic_rnn_cell/bias`).

dynamic_rnn is a tf.while_loop over time, as in TF, so tf.gradients backpropagates through time with the
loop's gradient (ops/while_grad.py). TF collects the per-step outputs in a TensorArray; pygraph has none
yet, so the outputs are a loop variable of shape [time, batch, units] that step t adds its output into
(masked by one_hot(t)), and reads its inputs by the same mask; the number of steps must therefore be known
when the graph is built. Each step costs O(time * batch * (depth + units)) for that, on top of the cell.
"""

from __future__ import annotations

from . import dtypes, errors
from .initializers import Zeros
from .ops.array import zeros
from .ops.core import convert_to_tensor, op_scope
from .ops.layout import concat, expand_dims, reshape
from .ops.linalg import matmul, transpose
from .ops.math import tanh, zeros_like
from .ops.nn_ops import bias_add
from .ops.reduce import reduce_sum
from .ops.slicing import one_hot
from .ops.while_loop import while_loop
from .scopes import get_variable, variable_scope


class BasicRNNCell:
    """output = new_state = activation(concat([inputs, state], 1) @ kernel + bias)."""

    def __init__(self, num_units, activation=None, reuse=None, name=None, dtype=None):
        self._num_units = int(num_units)
        self._activation = activation or tanh
        self._reuse, self._name, self._dtype = reuse, name or "basic_rnn_cell", dtype
        self._kernel = self._bias = None

    @property
    def state_size(self):
        return self._num_units

    @property
    def output_size(self):
        return self._num_units

    def zero_state(self, batch_size, dtype):
        with op_scope(None, type(self).__name__ + "ZeroState", []):
            return zeros([batch_size, self._num_units], dtype=dtype)

    def build(self, input_depth, dtype):
        """Create (or fetch, with reuse) the kernel and bias in the current variable scope."""
        if self._kernel is not None:
            return
        if input_depth is None:
            raise ValueError(f"Expected inputs.shape[-1] to be known, saw shape: [?, {input_depth}]")
        with variable_scope(self._name, reuse=self._reuse):
            self._kernel = get_variable("kernel", [input_depth + self._num_units, self._num_units],
                                        dtype=self._dtype or dtype)
            self._bias = get_variable("bias", [self._num_units], dtype=self._dtype or dtype, initializer=Zeros())

    def __call__(self, inputs, state, scope=None):
        inputs = convert_to_tensor(inputs, name="inputs")
        self.build(inputs.shape.as_tuple()[-1] if inputs.shape.ndims else None, inputs.dtype)
        gate = matmul(concat([inputs, state], 1), self._kernel)
        output = self._activation(bias_add(gate, self._bias))
        return output, output


class rnn_cell:  # noqa: N801  (TF 1.x's tf.nn.rnn_cell namespace)
    BasicRNNCell = BasicRNNCell


def dynamic_rnn(cell, inputs, sequence_length=None, initial_state=None, dtype=None, parallel_iterations=None,
                swap_memory=False, time_major=False, scope=None):
    """(outputs, final state) of `cell` run over the time axis of `inputs` ([batch, time, depth], or
    [time, batch, depth] with time_major)."""
    if sequence_length is not None:
        raise errors.UnimplementedError(None, None, "pygraph's dynamic_rnn does not take sequence_length yet "
                                                    "(every sequence runs for the full time axis)")
    if initial_state is None and dtype is None:
        raise ValueError("If there is no initial_state, you must give a dtype.")
    with variable_scope(scope or "rnn"):
        x = convert_to_tensor(inputs, name="inputs")
        if x.shape.ndims != 3:
            raise ValueError(f"dynamic_rnn takes inputs of rank 3 ([batch, time, depth]); got shape {x.shape}")
        x = x if time_major else transpose(x, [1, 0, 2])
        steps, depth = x.shape.as_tuple()[0], x.shape.as_tuple()[2]
        if steps is None:
            raise errors.UnimplementedError(None, x.op, "pygraph's dynamic_rnn needs the number of time steps known "
                                                        f"when the graph is built; inputs have shape {x.shape}")
        cell.build(depth, x.dtype)
        dtype = dtypes.as_dtype(dtype) if dtype is not None else initial_state.dtype
        if initial_state is None:  # zeros of [batch, units] for a batch known only at run time
            initial_state = zeros_like(x[0][:, :1]) + zeros([cell.state_size], dtype=dtype)
        units = cell.output_size
        outputs = zeros_like(x[:, :, :1]) + zeros([units], dtype=dtype)

        def step(t, state, outs):
            here = reshape(one_hot(t, steps, dtype=dtype), [steps, 1, 1])
            # step t's inputs by the same mask (tf.gather's gradient needs a static batch size)
            out, state = cell(reduce_sum(x * here, axis=0), state)
            return t + 1, state, outs + here * expand_dims(out, 0)

        _, state, outputs = while_loop(lambda t, s, o: t < steps, step, [0, initial_state, outputs],
                                       parallel_iterations=parallel_iterations or 32, swap_memory=swap_memory)
        return (outputs if time_major else transpose(outputs, [1, 0, 2])), state
