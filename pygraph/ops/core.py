"""Turning Python values into tensors, and the helper every builder uses to add a node."""

from __future__ import annotations

import contextlib

import numpy as np

from .. import dtypes
from ..graph import Operation, Tensor, _graph_of, get_default_graph
from ..shape import TensorShape
from . import attr_checks, registry

registry.register("Const", registry.SOURCE, numpy=lambda op: op.attrs["value"],
                  attrs={"value": "tensor", "dtype": "type"}, check=attr_checks.const)


def fmt_shape(shape):
    """A shape the way TF prints it in errors: [2,3], [?,3], <unknown>."""
    shape = TensorShape(shape)
    if shape.ndims is None:
        return "<unknown>"
    return "[" + ",".join("?" if d is None else str(d) for d in shape.as_tuple()) + "]"


def check_dtype(param, dtype, allowed, op_type=None):
    """TypeError unless dtype is one of `allowed`, in TF's words (op_def_library._SatisfiesTypeConstraint:
    "Value passed to parameter 'x' has DataType int32 not in list of allowed values: float32, float64"),
    the list in `allowed`'s order (keep TF's op-def order). op_type, when given, is appended as
    " (op Sin)": pygraph's errors name the op; TF's text is the message's whole prefix."""
    if dtype not in allowed:
        names = ", ".join(d.name for d in allowed)
        where = f" (op {op_type})" if op_type else ""
        raise TypeError(f"Value passed to parameter '{param}' has DataType {dtype.name} not in list of allowed "
                        f"values: {names}{where}")


def infer_dtype(value):
    """TF1's dtype for a Python value: int -> int32 (int64 if it does not fit), float -> float32."""
    if isinstance(value, (np.ndarray, np.generic)):
        return dtypes.as_dtype(value.dtype)
    flat = np.asarray(value, dtype=object).ravel() if isinstance(value, (list, tuple)) else [value]
    kinds = set()
    for v in flat:
        if isinstance(v, (bool, np.bool_)):
            kinds.add("b")
        elif isinstance(v, (int, np.integer)):
            kinds.add("i")
        elif isinstance(v, (float, np.floating)):
            kinds.add("f")
        elif isinstance(v, (str, bytes)):
            kinds.add("s")
        else:
            raise TypeError(f"Failed to convert object of type {type(value)} to Tensor. Contents: {value!r}. "
                            "Consider casting elements to a supported type.")
    if not kinds:
        return dtypes.float32
    if "s" in kinds:
        return dtypes.string
    if "f" in kinds:
        return dtypes.float32
    if "i" in kinds:
        ints = [int(v) for v in flat]
        return dtypes.int32 if all(-2**31 <= v < 2**31 for v in ints) else dtypes.int64
    return dtypes.bool_


def as_bytes_array(value):
    """An object array of bytes: TF strings are bytes, so str elements are UTF-8 encoded (as TF1 does)."""
    arr = np.array(value, dtype=object)
    flat = arr.reshape(-1)  # a view: the loop encodes in place
    for i, v in enumerate(flat):
        if isinstance(v, str):
            flat[i] = v.encode("utf-8")
    return arr


def to_numpy(value, dtype=None):
    """A numpy array holding `value` as `dtype` (None: TF's inference), with TF1's compatibility checks."""
    if dtype is None:
        dtype = infer_dtype(value)
    dtype = dtypes.as_dtype(dtype)
    if dtype is dtypes.string:
        return as_bytes_array(value), dtype
    if isinstance(value, (np.ndarray, np.generic)):
        return np.asarray(value).astype(dtype.np), dtype  # numpy inputs are cast, as TF does
    inferred = infer_dtype(value)
    compatible = (inferred is dtype or (inferred.is_integer and (dtype.is_integer or dtype.is_floating))
                  or (inferred.is_floating and dtype.is_floating) or (inferred.is_bool and dtype.is_bool))
    if not compatible:
        raise TypeError(f"Expected {dtype.name}, got {value!r} of type '{type(value).__name__}' instead.")
    arr = np.array(value)
    if dtype.is_integer and arr.size and (arr.min() < dtype.min or arr.max() > dtype.max):
        raise TypeError(f"Value {value!r} is out of range for {dtype.name}.")
    return arr.astype(dtype.np), dtype


def constant(value, dtype=None, shape=None, name="Const", verify_shape=False):
    """tf.constant: a node holding `value` (cast to `dtype`), optionally broadcast to `shape`."""
    arr, dt = to_numpy(value, dtype)
    if shape is not None:
        shape = tuple(int(d) for d in TensorShape(shape).as_list())
        if arr.shape != shape:
            if verify_shape:
                raise TypeError(f"Expected Tensor's shape: {shape}, got {arr.shape}.")
            if arr.size == 1:
                arr = np.full(shape, arr.reshape(()), dtype=arr.dtype)
            elif arr.size == int(np.prod(shape)):
                arr = arr.reshape(shape)
            else:
                raise TypeError(f"Eager execution of tf.constant with unsupported shape. Tried to convert "
                                f"value of shape {arr.shape} to a tensor of shape {shape}.")
    arr.setflags(write=False)
    g = get_default_graph()
    op = g.create_op("Const", [], {"value": arr, "dtype": dt}, [(dt, arr.shape)], name)
    return op.outputs[0]


def convert_to_tensor(value, dtype=None, name=None, preferred_dtype=None):
    """tf.convert_to_tensor: tensors pass through (dtype-checked), variables give their value, Python and
    numpy values become constants."""
    if dtype is not None:
        dtype = dtypes.as_dtype(dtype)
    conv = getattr(value, "_as_tensor", None)
    if conv is not None:
        value = conv()
    if isinstance(value, Tensor):
        if dtype is not None and value.dtype is not dtype:
            raise ValueError(f"Tensor conversion requested dtype {dtype.name} for Tensor with dtype "
                             f"{value.dtype.name}: {value!r}")
        return value
    if isinstance(value, Operation):
        raise TypeError(f"Can't convert Operation '{value.name}' to Tensor (target dtype={dtype}, "
                        f"name={name!r}, as_ref=False)")
    if dtype is None and preferred_dtype is not None:
        try:
            return constant(value, dtypes.as_dtype(preferred_dtype), name=name or "Const")
        except TypeError:
            pass
    return constant(value, dtype, name=name or "Const")


def convert_n(values, dtype=None, name="values"):
    return [convert_to_tensor(v, dtype, name=f"{name}_{i}") for i, v in enumerate(values)]


@contextlib.contextmanager
def op_scope(name, default_name, values=()):
    """TF's `with name_scope(name, default, values) as scope`: inputs converted inside get scoped names
    and the op itself takes the scope's name exactly."""
    g = _graph_of(values)
    with g.as_default(), g.name_scope(name if name else default_name) as scope:
        yield scope


def make_op(op_type, inputs, output_specs, name, attrs=None, control_inputs=()):
    """Create a node in the inputs' graph. Returns the Operation."""
    g = _graph_of(inputs) if inputs else get_default_graph()
    for t in inputs:
        if t.graph is not g:
            raise ValueError(f"Tensor {t.name} must be from the same graph as {inputs[0].name} "
                             f"(op {op_type}).")
    return g.create_op(op_type, inputs, attrs or {}, output_specs, name, control_inputs)
