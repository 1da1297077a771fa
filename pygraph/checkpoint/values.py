"""JSON encoding of op attribute values for meta graph files, without pickle.

Every value becomes JSON: plain for None, bool, int, str and finite floats; a one-key tagged object for
everything else ({"list": [...]}, {"tuple": [...]}, {"dtype": "float32"}, {"shape": [2, null]},
{"array": <index>} for numeric arrays stored beside the document as .npy, ...). Values of any other
type are refused with an error naming the op and attribute, so nothing is silently dropped.
"""

from __future__ import annotations

import base64
import math

import numpy as np

from .. import dtypes
from ..shape import TensorShape


class Encoder:
    """Encodes attribute values; collects the numeric arrays it meets in `arrays` (stored as .npy)."""

    def __init__(self):
        self.arrays = []

    def encode(self, value, where):
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"float": repr(value)}
        if isinstance(value, dtypes.DType):
            return {"dtype": value.name}
        if isinstance(value, TensorShape):
            return {"shape": None if value.ndims is None else list(value.as_tuple())}
        if isinstance(value, bytes):
            return {"bytes": base64.b64encode(value).decode("ascii")}
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "OSU":
                items = [v.encode() if isinstance(v, str) else bytes(v) for v in value.reshape(-1)]
                return {"strings": [base64.b64encode(v).decode("ascii") for v in items], "dims": list(value.shape)}
            if value.dtype.hasobject or value.dtype.fields is not None:
                raise TypeError(f"{where}: cannot store an array of dtype {value.dtype} in a meta graph")
            self.arrays.append(value)
            return {"array": len(self.arrays) - 1}
        if isinstance(value, np.generic):
            return {"scalar": self.encode(value.item(), where), "np": value.dtype.str}
        if isinstance(value, list):
            return {"list": [self.encode(v, where) for v in value]}
        if isinstance(value, tuple):
            return {"tuple": [self.encode(v, where) for v in value]}
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"dict": {k: self.encode(v, where) for k, v in value.items()}}
        raise TypeError(f"{where}: cannot store a value of type {type(value).__name__} ({value!r}) in a meta "
                        "graph; only numbers, strings, bytes, dtypes, shapes, numpy arrays and lists, tuples "
                        "and dicts of these can be saved")


def decode(value, arrays):
    """The Python value of an encoded attribute; `arrays` are the stored .npy arrays."""
    if not isinstance(value, dict):
        return value
    if len(value) != 1 and set(value) not in ({"strings", "dims"}, {"scalar", "np"}):
        raise ValueError(f"malformed attribute value {value!r}")
    if "list" in value:
        return [decode(v, arrays) for v in value["list"]]
    if "tuple" in value:
        return tuple(decode(v, arrays) for v in value["tuple"])
    if "dict" in value:
        return {k: decode(v, arrays) for k, v in value["dict"].items()}
    if "float" in value:
        return float(value["float"])
    if "dtype" in value:
        return dtypes.as_dtype(value["dtype"])
    if "shape" in value:
        return TensorShape(value["shape"])
    if "bytes" in value:
        return base64.b64decode(value["bytes"])
    if "array" in value:
        arr = arrays[value["array"]]
        arr.setflags(write=False)  # constants are immutable, as tf.constant makes them
        return arr
    if "strings" in value:
        items = [base64.b64decode(v) for v in value["strings"]]
        out = np.empty(len(items), dtype=object)
        out[:] = items
        out = out.reshape(value["dims"])
        out.setflags(write=False)
        return out
    if "scalar" in value:
        return np.dtype(value["np"]).type(decode(value["scalar"], arrays))
    raise ValueError(f"unknown attribute value tag in {value!r}")
