"""tf.nn.dynamic_rnn and TF1's tf.nn.rnn_cell: BasicRNNCell, BasicLSTMCell, LSTMCell (without peepholes or a
projection), GRUCell and MultiRNNCell, with TF1's variable names and gate orders (rnn_cell_impl.py); xh is
concat([inputs, h], 1):

    BasicRNNCell   basic_rnn_cell/kernel [depth + units, units], bias     h = act(xh @ K + b)
    BasicLSTMCell  basic_lstm_cell/kernel [depth + units, 4 units], bias  i, j, f, o = split(xh @ K + b, 4)
                                                                          c = c sigmoid(f + forget_bias)
                                                                              + sigmoid(i) act(j)
                                                                          h = act(c) sigmoid(o)
    LSTMCell       lstm_cell/kernel, lstm_cell/bias                       the same gates
    GRUCell        gru_cell/gates/kernel [depth + units, 2 units],        r, u = split(sigmoid(xh @ Kg + bg), 2)
                   gru_cell/gates/bias (initialized to 1)
                   gru_cell/candidate/kernel [depth + units, units],      c = act(concat([x, r h]) @ Kc + bc)
                   gru_cell/candidate/bias                                h = u h + (1 - u) c
    MultiRNNCell   multi_rnn_cell/cell_<i>/<the cell's own names>         a tuple of the cells' states

dynamic_rnn is a tf.while_loop over time, as in TF, so tf.gradients backpropagates through time with the
loop's gradient (ops/while_grad.py). As TF, it reads each step's inputs from an array that the inputs were
unstacked into, and writes each step's output into an array stacked after the loop (ops/tensor_array.py),
so a step costs what its cell costs; the number of steps must be known when the graph is built. With
`sequence_length`, a sequence's outputs past its length are zeros and its state stays the state of its
last step (TF's _rnn_step, with tf.where).
"""

from __future__ import annotations

import collections
import contextlib

from . import dtypes, errors
from .initializers import Constant, Zeros
from .ops.array import zeros
from .ops.clip import clip_by_value
from .ops.core import convert_to_tensor, op_scope
from .ops.layout import concat, split
from .ops.linalg import matmul, transpose
from .ops.math import cast, greater_equal, sigmoid, tanh, where, zeros_like
from .ops.nn_ops import bias_add
from .ops.tensor_array import TensorArray
from .ops.while_loop import while_loop
from .scopes import get_variable, variable_scope


class LSTMStateTuple(collections.namedtuple("LSTMStateTuple", ("c", "h"))):
    """An LSTM cell's state: the cell state c and the output h, each [batch, units]."""

    __slots__ = ()

    @property
    def dtype(self):
        c, h = self
        if c.dtype != h.dtype:
            raise TypeError(f"Inconsistent internal state: {c.dtype} vs {h.dtype}")
        return c.dtype


def _flatten(structure):
    if isinstance(structure, (tuple, list)):
        return [leaf for item in structure for leaf in _flatten(item)]
    return [structure]


def _pack(structure, flat):
    """`flat` (an iterator) in the nesting of `structure` (namedtuples keep their type)."""
    if isinstance(structure, (tuple, list)):
        items = [_pack(item, flat) for item in structure]
        return type(structure)(*items) if hasattr(structure, "_fields") else type(structure)(items)
    return next(flat)


def _depth(inputs):
    return inputs.shape.as_tuple()[-1] if inputs.shape.ndims else None


class RNNCell:
    """tf.nn.rnn_cell.RNNCell: a subclass gives `state_size`, `output_size` and `call(inputs, state)` ->
    (output, new state). Variables come from `_make_variables(input depth, dtype)`, run once on first use
    under `<current variable scope>/<cell name>` (dynamic_rnn runs it before its loop)."""

    _default_name = "rnn_cell"

    def __init__(self, trainable=True, name=None, dtype=None, **kwargs):
        self._name, self._dtype = name or self._default_name, dtype
        self._reuse = kwargs.get("_reuse")
        self._built = False

    @property
    def state_size(self):
        raise NotImplementedError("Abstract method")

    @property
    def output_size(self):
        raise NotImplementedError("Abstract method")

    def zero_state(self, batch_size, dtype):
        with op_scope(None, type(self).__name__ + "ZeroState", []):
            return _pack(self.state_size, iter([zeros([batch_size, n], dtype=dtype)
                                                 for n in _flatten(self.state_size)]))

    def build(self, input_depth, dtype):
        """Create (or fetch, with reuse) the variables in the current variable scope."""
        if self._built:
            return
        if input_depth is None:
            raise ValueError(f"Expected inputs.shape[-1] to be known, saw shape: [?, {input_depth}]")
        with variable_scope(self._name, reuse=self._reuse):
            self._make_variables(int(input_depth), self._dtype or dtype)
        self._built = True

    def _make_variables(self, depth, dtype):
        pass

    def __call__(self, inputs, state, scope=None):
        inputs = convert_to_tensor(inputs, name="inputs")
        self.build(_depth(inputs), inputs.dtype)
        with op_scope(scope, self._name, [inputs]):
            return self.call(inputs, state)


class _UnitsCell(RNNCell):
    """A cell of `num_units` units whose output and state are [batch, num_units] (LSTM: two of them)."""

    def __init__(self, num_units, activation=None, reuse=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype, _reuse=reuse)
        self._num_units = int(num_units)
        self._activation = activation or tanh

    @property
    def state_size(self):
        return self._num_units

    @property
    def output_size(self):
        return self._num_units

    def _linear(self, scope, depth, units, dtype, bias_init, kernel_init=None):
        """kernel [depth + units of state, units] and bias, in variable scope `scope` when one is given."""
        with variable_scope(scope) if scope else contextlib.nullcontext():
            kernel = get_variable("kernel", [depth + self._num_units, units], dtype=dtype, initializer=kernel_init)
            return kernel, get_variable("bias", [units], dtype=dtype, initializer=bias_init)


class BasicRNNCell(_UnitsCell):
    """output = new_state = activation(concat([inputs, state], 1) @ kernel + bias)."""

    _default_name = "basic_rnn_cell"

    def _make_variables(self, depth, dtype):
        self._kernel, self._bias = self._linear("", depth, self._num_units, dtype, Zeros())

    def call(self, inputs, state):
        output = self._activation(bias_add(matmul(concat([inputs, state], 1), self._kernel), self._bias))
        return output, output


class BasicLSTMCell(_UnitsCell):
    """TF1's BasicLSTMCell: gates i, j, f, o from one kernel; forget_bias added to f; LSTMStateTuple(c, h)
    (or concat([c, h], 1) with state_is_tuple=False)."""

    _default_name = "basic_lstm_cell"

    def __init__(self, num_units, forget_bias=1.0, state_is_tuple=True, activation=None, reuse=None, name=None,
                 dtype=None):
        super().__init__(num_units, activation, reuse, name, dtype)
        self._forget_bias, self._state_is_tuple = float(forget_bias), bool(state_is_tuple)
        self._cell_clip = None

    @property
    def state_size(self):
        n = self._num_units
        return LSTMStateTuple(n, n) if self._state_is_tuple else 2 * n

    def zero_state(self, batch_size, dtype):
        if self._state_is_tuple:
            return super().zero_state(batch_size, dtype)
        with op_scope(None, type(self).__name__ + "ZeroState", []):
            return zeros([batch_size, 2 * self._num_units], dtype=dtype)

    def _make_variables(self, depth, dtype):
        self._kernel, self._bias = self._linear("", depth, 4 * self._num_units, dtype, Zeros(),
                                                getattr(self, "_initializer", None))

    def call(self, inputs, state):
        if self._state_is_tuple:
            c, h = state
        else:
            c, h = split(state, 2, axis=1)
        gates = bias_add(matmul(concat([inputs, h], 1), self._kernel), self._bias)
        i, j, f, o = split(gates, 4, axis=1)
        new_c = c * sigmoid(f + self._forget_bias) + sigmoid(i) * self._activation(j)
        if self._cell_clip is not None:
            new_c = clip_by_value(new_c, -self._cell_clip, self._cell_clip)
        new_h = self._activation(new_c) * sigmoid(o)
        return new_h, (LSTMStateTuple(new_c, new_h) if self._state_is_tuple else concat([new_c, new_h], 1))


class LSTMCell(BasicLSTMCell):
    """TF1's LSTMCell without peepholes or a projection (those raise): BasicLSTMCell's gates, its variables
    named lstm_cell/kernel and lstm_cell/bias, an optional `initializer` for the kernel and `cell_clip`."""

    _default_name = "lstm_cell"

    def __init__(self, num_units, use_peepholes=False, cell_clip=None, initializer=None, num_proj=None,
                 proj_clip=None, num_unit_shards=None, num_proj_shards=None, forget_bias=1.0, state_is_tuple=True,
                 activation=None, reuse=None, name=None, dtype=None):
        if use_peepholes or num_proj is not None or num_unit_shards is not None or num_proj_shards is not None:
            raise NotImplementedError("pygraph's LSTMCell has no peepholes, projection (num_proj) or shards yet")
        super().__init__(num_units, forget_bias, state_is_tuple, activation, reuse, name, dtype)
        self._initializer, self._cell_clip = initializer, cell_clip


class GRUCell(_UnitsCell):
    """TF1's GRUCell: reset and update gates r, u from gates/kernel (bias initialized to 1), the candidate
    from concat([x, r * h]); new h = u * h + (1 - u) * candidate."""

    _default_name = "gru_cell"

    def __init__(self, num_units, activation=None, reuse=None, kernel_initializer=None, bias_initializer=None,
                 name=None, dtype=None):
        super().__init__(num_units, activation, reuse, name, dtype)
        self._kernel_init, self._bias_init = kernel_initializer, bias_initializer

    def _make_variables(self, depth, dtype):
        n = self._num_units
        self._gates = self._linear("gates", depth, 2 * n, dtype, self._bias_init or Constant(1.0), self._kernel_init)
        self._candidate = self._linear("candidate", depth, n, dtype, self._bias_init or Zeros(), self._kernel_init)

    def call(self, inputs, state):
        n = self._num_units
        value = sigmoid(bias_add(matmul(concat([inputs, state], 1), self._gates[0]), self._gates[1]))
        # slices, not TF's split: with Split this benchmarks.rnn_step GRU step took 39 ms instead of 32
        r, u = value[:, :n], value[:, n:]
        c = self._activation(bias_add(matmul(concat([inputs, r * state], 1), self._candidate[0]),
                                      self._candidate[1]))
        new_h = u * state + (1 - u) * c
        return new_h, new_h


class MultiRNNCell(RNNCell):
    """Cells stacked in depth: cell i reads cell i-1's output; the state is the tuple of their states."""

    _default_name = "multi_rnn_cell"

    def __init__(self, cells, state_is_tuple=True):
        if not cells:
            raise ValueError("Must specify at least one cell for MultiRNNCell.")
        if not state_is_tuple:
            raise NotImplementedError("pygraph's MultiRNNCell takes state_is_tuple=True only (TF1 deprecated False)")
        super().__init__()
        self._cells = list(cells)

    @property
    def state_size(self):
        return tuple(cell.state_size for cell in self._cells)

    @property
    def output_size(self):
        return self._cells[-1].output_size

    def zero_state(self, batch_size, dtype):
        with op_scope(None, type(self).__name__ + "ZeroState", []):
            return tuple(cell.zero_state(batch_size, dtype) for cell in self._cells)

    def _make_variables(self, depth, dtype):
        for i, cell in enumerate(self._cells):
            with variable_scope(f"cell_{i}"):
                cell.build(depth, dtype)
            depth = cell.output_size

    def call(self, inputs, state):
        if not isinstance(state, (tuple, list)) or len(state) != len(self._cells):
            raise ValueError(f"Expected state to be a tuple of length {len(self._cells)}, but received: {state}")
        new_states = []
        for i, cell in enumerate(self._cells):
            with op_scope(None, f"cell_{i}", []):
                inputs, s = cell(inputs, state[i])
            new_states.append(s)
        return inputs, tuple(new_states)


class rnn_cell:  # noqa: N801  (TF 1.x's tf.nn.rnn_cell namespace)
    RNNCell = RNNCell
    BasicRNNCell = BasicRNNCell
    BasicLSTMCell = BasicLSTMCell
    LSTMCell = LSTMCell
    GRUCell = GRUCell
    MultiRNNCell = MultiRNNCell
    LSTMStateTuple = LSTMStateTuple


def dynamic_rnn(cell, inputs, sequence_length=None, initial_state=None, dtype=None, parallel_iterations=None,
                swap_memory=False, time_major=False, scope=None):
    """(outputs, final state) of `cell` run over the time axis of `inputs` ([batch, time, depth], or
    [time, batch, depth] with time_major). swap_memory is accepted and ignored (there is no GPU)."""
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
        if initial_state is not None:
            flat = [convert_to_tensor(s, name="initial_state") for s in _flatten(initial_state)]
            initial_state = _pack(initial_state, iter(flat))
            dtype = flat[0].dtype
        dtype = dtypes.as_dtype(dtype)
        if hasattr(cell, "build"):  # variables are made before the loop (a cell may have none)
            cell.build(depth, x.dtype)
        if initial_state is None:  # zeros of [batch, n] for a batch known only at run time
            batch_zeros = zeros_like(x[0][:, :1])
            initial_state = _pack(cell.state_size, iter([cast(batch_zeros, dtype) + zeros([n], dtype=dtype)
                                                          for n in _flatten(cell.state_size)]))
        seq = None
        if sequence_length is not None:
            seq = cast(convert_to_tensor(sequence_length, name="sequence_length"), dtypes.int32)
            if seq.shape.ndims != 1:
                raise ValueError(f"sequence_length must be a vector of length batch_size, but saw shape: {seq.shape}")
        input_ta = TensorArray(x.dtype, steps, "input_ta").unstack(x)
        output_ta = TensorArray(dtype, steps, "output_ta")
        structure = initial_state

        def step(t, flow, *flat_state):
            state = _pack(structure, iter(flat_state))
            out, new_state = cell(input_ta.read(t), state)
            if seq is not None:  # TF's _rnn_step: past its length, a sequence outputs zeros and keeps its state
                done = greater_equal(t, seq)
                out = where(done, zeros_like(out), out)
                new_state = _pack(structure, iter([where(done, old, new) for old, new in
                                                   zip(flat_state, _flatten(new_state))]))
            return [t + 1, output_ta.write(flow, t, out)] + _flatten(new_state)

        result = while_loop(lambda t, *_: t < steps, step,
                            [0, output_ta.zero_flow()] + _flatten(initial_state),
                            parallel_iterations=parallel_iterations or 32, swap_memory=swap_memory)
        outputs = output_ta.stack(result[1])
        state = _pack(structure, iter(result[2:]))
        return (outputs if time_major else transpose(outputs, [1, 0, 2])), state
