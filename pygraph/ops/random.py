"""Random ops with TF1's seed rules: tf.random_uniform, random_normal, truncated_normal, set_random_seed.

Seeds follow tensorflow/python/framework/random_seed.py (get_seed): with a graph seed, an op without a
seed takes the graph's op count (TF's `_last_id`); an op seed without a graph seed pairs with
DEFAULT_GRAPH_SEED; neither gives fresh random seeds per session. Each op keeps {seed, seed2, counter} as
per-session state: every sess.run draws new numbers, a new session starts the sequence again, and the
same seeds give the same numbers in any session, process or thread count.

The numbers are TensorFlow's, bit for bit (codegen/templates/random.h.j2 has TF's Philox stream layout,
float conversion and samplers; tests/test_tf_random.py holds values TF wrote). Op seeds derived from the
graph seed follow TF 1.x (the op count); TF 2.x's compat.v1 counts seedless random ops instead.
"""

from __future__ import annotations

import secrets

import numpy as np

from .. import dtypes
from ..graph import get_default_graph
from . import attr_checks as checks
from . import registry
from .core import check_dtype, convert_to_tensor, make_op, op_scope
from .layout import static_ints
from .math import add

DEFAULT_GRAPH_SEED = 87654321
_MAXINT32 = 2**31 - 1
FLOATS = (dtypes.float32, dtypes.float64)


def _initial_state(op):
    seed, seed2 = op.attrs["seed"], op.attrs["seed2"]
    if seed == 0 and seed2 == 0:  # no seed anywhere: nondeterministic, as TF
        seed, seed2 = secrets.randbits(63) | 1, secrets.randbits(63)
    return np.array([seed, seed2, 0], dtype=np.int64)


for _t in ("RandomUniform", "RandomStandardNormal", "TruncatedNormal", "RandomUniformInt"):
    _dtype_attr = "Tout" if _t == "RandomUniformInt" else "dtype"
    registry.register(_t, registry.STRUCTURED, stateful=True, check=checks.random,
                      attrs={"shape": "?list(int)", _dtype_attr: "type", "seed": "int", "seed2": "int",
                             "T": "type"}).session_state = _initial_state
registry.register("RandomShuffle", registry.STRUCTURED, stateful=True,
                  attrs={"T": "type", "seed": "int", "seed2": "int"}).session_state = _initial_state


@registry.RegisterGradient("RandomShuffle")
def _shuffle_grad(op, grad):
    raise LookupError(f"No gradient defined for operation '{op.name}' (op type: RandomShuffle)")


def set_random_seed(seed):
    """tf.set_random_seed: the graph-level seed of the default graph."""
    get_default_graph().seed = seed


def get_seed(op_seed):
    """TF1's random_seed.get_seed: the (seed, seed2) pair an op uses."""
    graph = get_default_graph()
    global_seed = graph.seed
    if global_seed is not None:
        if op_seed is None:
            op_seed = len(graph._ops)  # TF's graph._last_id: the number of ops created so far
        seeds = (int(global_seed) % _MAXINT32, int(op_seed) % _MAXINT32)
    elif op_seed is not None:
        seeds = (DEFAULT_GRAPH_SEED, int(op_seed) % _MAXINT32)
    else:
        seeds = (None, None)
    if seeds == (0, 0):  # (0, 0) means "nondeterministic" to the kernels
        return (0, _MAXINT32)
    return seeds


def _shape_tensor(shape):
    """The shape argument as (tensor input, static dims or None for tf.shape(x))."""
    dims = static_ints(shape, "the shape of a random op")
    if dims is None:
        return shape, None, shape.op.inputs[0].shape
    if any(d < 0 for d in dims):
        raise ValueError(f"Shape dimensions must be >= 0, got {dims}")
    t = convert_to_tensor(np.asarray(dims, np.int32), name="shape")
    return t, tuple(dims), dims


def _random_op(op_type, shape_t, static, out_shape, dtype, seed, inputs=(), name=None):
    seed1, seed2 = get_seed(seed)
    attrs = {"shape": static, "dtype": dtype, "seed": seed1 or 0, "seed2": seed2 or 0, "T": dtypes.int32}
    return make_op(op_type, [shape_t, *inputs], [(dtype, out_shape)], name or op_type, attrs).outputs[0]


def _check_accepted(dtype, accepted):
    """TF's random_ops check of a `dtype` argument: ValueError in TF's words ("Argument `dtype` got invalid
    value <dtype: 'bool'>. Accepted dtypes are (tf.float32, ...)."), listing the dtypes pygraph has."""
    if dtype not in accepted:
        shown = ", ".join(repr(d) for d in accepted)
        raise ValueError(f"Argument `dtype` got invalid value <dtype: '{dtype.name}'>. Accepted dtypes are "
                         f"({shown}).")


def random_uniform(shape, minval=0, maxval=None, dtype=dtypes.float32, seed=None, name=None):
    """Uniform values in [minval, maxval) (maxval defaults to 1 for floats; required for integers)."""
    dtype = dtypes.as_dtype(dtype)
    _check_accepted(dtype, FLOATS + (dtypes.int32, dtypes.int64))
    if maxval is None:
        if dtype.is_integer:
            raise ValueError(f"Must specify maxval for integer dtype {dtype!r}")
        maxval = 1
    with op_scope(name, "random_uniform", [minval, maxval]) as scope:
        shape_t, static, out = _shape_tensor(shape)
        lo = convert_to_tensor(minval, dtype=dtype, name="min")
        hi = convert_to_tensor(maxval, dtype=dtype, name="max")
        if dtype.is_integer:
            seed1, seed2 = get_seed(seed)
            attrs = {"shape": static, "Tout": dtype, "seed": seed1 or 0, "seed2": seed2 or 0, "T": dtypes.int32}
            return make_op("RandomUniformInt", [shape_t, lo, hi], [(dtype, out)], scope, attrs).outputs[0]
        rnd = _random_op("RandomUniform", shape_t, static, out, dtype, seed)
        return add(rnd * (hi - lo), lo, name=scope)


def _scaled_normal(op_type, default_name, shape, mean, stddev, dtype, seed, name):
    dtype = dtypes.as_dtype(dtype)
    check_dtype("dtype", dtype, FLOATS)  # TF: the op def's TypeError (or converting mean to the dtype fails)
    with op_scope(name, default_name, [mean, stddev]) as scope:
        shape_t, static, out = _shape_tensor(shape)
        mean_t = convert_to_tensor(mean, dtype=dtype, name="mean")
        std_t = convert_to_tensor(stddev, dtype=dtype, name="stddev")
        rnd = _random_op(op_type, shape_t, static, out, dtype, seed)
        return add(rnd * std_t, mean_t, name=scope)


def random_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    return _scaled_normal("RandomStandardNormal", "random_normal", shape, mean, stddev, dtype, seed, name)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """Normal values redrawn until within two standard deviations of the mean."""
    return _scaled_normal("TruncatedNormal", "truncated_normal", shape, mean, stddev, dtype, seed, name)


def random_shuffle(value, seed=None, name=None):
    """A random permutation of `value` along its first dimension (TF's in-place Fisher-Yates draws)."""
    value = convert_to_tensor(value, name="value")
    if value.shape.ndims == 0:
        raise ValueError(f"Shape must be at least rank 1 but is rank 0 for 'RandomShuffle' (input {value.name})")
    seed1, seed2 = get_seed(seed)
    attrs = {"T": value.dtype, "seed": seed1 or 0, "seed2": seed2 or 0}
    return make_op("RandomShuffle", [value], [(value.dtype, value.shape)], name or "RandomShuffle",
                   attrs).outputs[0]


registry.register("Multinomial", registry.STRUCTURED, stateful=True,
                  attrs={"seed": "int", "seed2": "int", "T": "type", "output_dtype": "type"}
                  ).session_state = _initial_state


@registry.RegisterGradient("Multinomial")
def _multinomial_grad(op, grad):
    return [None, None]  # TF registers Multinomial as not differentiable: samples carry no gradient


def _categorical(logits, num_samples, dtype, seed, name, default_name):
    """TF's multinomial_categorical_impl: TF's CPU kernel's numbers (codegen/templates/random.h.j2)."""
    with op_scope(name, default_name, [logits]) as scope:
        logits = convert_to_tensor(logits, name="logits")
        dtype = dtypes.int64 if dtype is None else dtypes.as_dtype(dtype)
        _check_accepted(dtype, (dtypes.int32, dtypes.int64))  # after converting logits, as TF
        check_dtype("logits", logits.dtype, FLOATS)
        if logits.shape.ndims not in (None, 2):
            raise ValueError(f"Shape must be rank 2 but is rank {logits.shape.ndims} for '{scope}Multinomial' "
                             f"(op: 'Multinomial'): logits should be a matrix, got shape {logits.shape}")
        seed1, seed2 = get_seed(seed)
        with op_scope(None, "Multinomial") as op_name:  # TF names the op's own inputs under its name
            n = convert_to_tensor(num_samples, dtype=dtypes.int32, name="num_samples")
        if n.shape.ndims not in (None, 0):
            raise ValueError(f"Shape must be rank 0 but is rank {n.shape.ndims}: num_samples should be a scalar")
        static = int(n.op.attrs["value"]) if n.op.type == "Const" else None
        if static is not None and static < 0:
            raise ValueError(f"num_samples should be non-negative, got {static}")
        batch = logits.shape.as_tuple()[0] if logits.shape.ndims == 2 else None
        attrs = {"seed": seed1 or 0, "seed2": seed2 or 0, "T": logits.dtype, "output_dtype": dtype}
        return make_op("Multinomial", [logits, n], [(dtype, (batch, static))], op_name, attrs).outputs[0]


def multinomial(logits, num_samples, seed=None, name=None, output_dtype=None):
    """tf.multinomial: `num_samples` class indices per row of `logits` (unnormalized log-probabilities)."""
    return _categorical(logits, num_samples, output_dtype, seed, name, "multinomial")


def categorical(logits, num_samples, dtype=None, seed=None, name=None):
    """tf.random.categorical: tf.multinomial with `dtype` for the samples."""
    return _categorical(logits, num_samples, dtype, seed, name, "categorical")
