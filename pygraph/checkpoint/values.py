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


class MalformedValue(ValueError):
    """An encoded attribute value that is not one of the forms Encoder writes."""


_MAX_DEPTH = 32
_NUMERIC_KINDS = "biuf"


def decode(value, arrays, depth=0):
    """The Python value of an encoded attribute; `arrays` are the stored .npy arrays. Anything that is not
    a form Encoder writes raises MalformedValue."""
    if depth > _MAX_DEPTH:
        raise MalformedValue("values nested too deeply")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if not isinstance(value, dict):
        raise MalformedValue(f"unexpected value of type {type(value).__name__}")
    if len(value) != 1 and set(value) not in ({"strings", "dims"}, {"scalar", "np"}):
        raise MalformedValue(f"malformed attribute value {_short(value)}")
    try:
        return _decode_tagged(value, arrays, depth)
    except MalformedValue:
        raise
    except (TypeError, ValueError, KeyError, IndexError, OverflowError) as e:  # binascii.Error is a ValueError
        raise MalformedValue(f"malformed attribute value {_short(value)}: {e}") from None


def _short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _list(value, what):
    if not isinstance(value, list):
        raise MalformedValue(f"{what} must hold a list, not {type(value).__name__}")
    return value


def _decode_tagged(value, arrays, depth):
    if "list" in value:
        return [decode(v, arrays, depth + 1) for v in _list(value["list"], "'list'")]
    if "tuple" in value:
        return tuple(decode(v, arrays, depth + 1) for v in _list(value["tuple"], "'tuple'"))
    if "dict" in value:
        if not isinstance(value["dict"], dict):
            raise MalformedValue("'dict' must hold an object")
        return {k: decode(v, arrays, depth + 1) for k, v in value["dict"].items()}
    if "float" in value:
        if value["float"] not in ("nan", "inf", "-inf"):
            raise MalformedValue(f"'float' holds only nan, inf or -inf, not {_short(value['float'])}")
        return float(value["float"])
    if "dtype" in value:
        return dtypes.as_dtype(_str(value["dtype"], "'dtype'"))
    if "shape" in value:
        dims = value["shape"]
        if dims is not None and not (isinstance(dims, list) and all(
                d is None or (type(d) is int and d >= 0) for d in dims)):
            raise MalformedValue(f"'shape' must be null or a list of dims >= 0 or null, not {_short(dims)}")
        return TensorShape(dims)
    if "bytes" in value:
        return base64.b64decode(_str(value["bytes"], "'bytes'"), validate=True)
    if "array" in value:
        index = value["array"]
        if type(index) is not int or not 0 <= index < len(arrays):
            raise MalformedValue(f"'array' index {_short(index)} is not one of the {len(arrays)} stored arrays")
        arr = arrays[index]
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in _NUMERIC_KINDS:
            raise MalformedValue(f"stored array {index} is not a numeric array")
        arr.setflags(write=False)  # constants are immutable, as tf.constant makes them
        return arr
    if "strings" in value:
        items = [base64.b64decode(_str(v, "'strings'"), validate=True) for v in _list(value["strings"], "'strings'")]
        dims = _list(value["dims"], "'dims'")
        if not all(type(d) is int and d >= 0 for d in dims) or int(np.prod(dims, dtype=np.int64)) != len(items):
            raise MalformedValue(f"'dims' {_short(dims)} do not fit {len(items)} strings")
        out = np.empty(len(items), dtype=object)
        out[:] = items
        out = out.reshape(dims)
        out.setflags(write=False)
        return out
    if "scalar" in value:
        np_type = np.dtype(_str(value["np"], "'np'"))
        if np_type.kind not in _NUMERIC_KINDS:
            raise MalformedValue(f"'np' must name a numeric dtype, not {np_type}")
        scalar = decode(value["scalar"], arrays, depth + 1)
        if isinstance(scalar, (bool, int, float)):
            return np_type.type(scalar)
        raise MalformedValue(f"'scalar' must hold a number, not {_short(scalar)}")
    raise MalformedValue(f"unknown attribute value tag in {_short(value)}")


def _str(value, what):
    if not isinstance(value, str):
        raise MalformedValue(f"{what} must hold a string, not {type(value).__name__}")
    return value
