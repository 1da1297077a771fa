"""Typed op attributes: every registry row declares its attributes (name -> type), and Graph.create_op
checks a node's attributes against that schema whether the node comes from a builder or from a file.

Types: "int", "float" (int or float), "bool", "type" (a DType), "shape" (a TensorShape), "list(int)",
"list(type)", "string", "tensor" (a numpy array: Const's value) and "slice_spec" (StridedSlice's items).
A leading "?" means the attribute may be None (or absent: it then reads as None). Checked values come
back normalised (numpy integers become int, lists of ints become tuples), so code generation only ever
sees Python values of the declared type; a string is stored only where the op declares one.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import dtypes
from ..shape import TensorShape

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
TYPES = ("int", "float", "bool", "type", "shape", "list(int)", "list(type)", "string", "tensor", "slice_spec")


class AttrError(Exception):
    """An attribute value that does not fit its declared type (Graph.create_op turns it into
    InvalidArgumentError naming the op)."""


def _int(value, what):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise AttrError(f"{what} must be an int, not {type(value).__name__} ({_short(value)})")
    value = int(value)
    if not INT64_MIN <= value <= INT64_MAX:
        raise AttrError(f"{what} = {value} does not fit in 64 bits")
    return value


def _float(value, what):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise AttrError(f"{what} must be a number, not {type(value).__name__} ({_short(value)})")
    if isinstance(value, numbers.Integral):
        return _int(value, what)
    return float(value)


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _ints(value, what):
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise AttrError(f"{what} must be a list of ints, not {type(value).__name__} ({_short(value)})")
    return tuple(_int(v, f"{what}[{i}]") for i, v in enumerate(list(value)))


_SLICE_ITEMS = {"index": 3, "range": 5, "new": 1}


def _slice_spec(value, what):
    """StridedSlice's spec: a list of ("index", i, axis), ("range", start|None, stop|None, step, axis) or
    ("new",) items."""
    if not isinstance(value, (list, tuple)):
        raise AttrError(f"{what} must be a list of slice items, not {type(value).__name__}")
    out = []
    for k, item in enumerate(value):
        where = f"{what}[{k}]"
        if not isinstance(item, (list, tuple)) or not item or item[0] not in _SLICE_ITEMS:
            raise AttrError(f"{where} must be a tuple starting with one of {sorted(_SLICE_ITEMS)}, got "
                            f"{_short(item)}")
        if len(item) != _SLICE_ITEMS[item[0]]:
            raise AttrError(f"{where}: a {item[0]!r} item has {_SLICE_ITEMS[item[0]]} fields, got {len(item)}")
        fields = [item[0]]
        for j, v in enumerate(item[1:], 1):
            open_bound = item[0] == "range" and j in (1, 2) and v is None
            fields.append(None if open_bound else _int(v, f"{where}[{j}]"))
        if item[0] == "range" and fields[3] == 0:
            raise AttrError(f"{where}: slice step cannot be zero")
        out.append(tuple(fields))
    return tuple(out)


def check_value(kind, value, what):
    """`value` normalised to attribute type `kind`, or AttrError."""
    if kind == "int":
        return _int(value, what)
    if kind == "float":
        value = _float(value, what)
        return value
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise AttrError(f"{what} must be a bool, not {type(value).__name__} ({_short(value)})")
        return bool(value)
    if kind == "type":
        if not isinstance(value, dtypes.DType):
            raise AttrError(f"{what} must be a DType, not {type(value).__name__} ({_short(value)})")
        return value
    if kind == "shape":
        if not isinstance(value, TensorShape):
            raise AttrError(f"{what} must be a TensorShape, not {type(value).__name__} ({_short(value)})")
        for d in value.as_tuple() or ():
            if d is not None and (_int(d, what) < 0):
                raise AttrError(f"{what} has a negative dimension: {value}")
        return value
    if kind == "list(int)":
        return _ints(value, what)
    if kind == "list(type)":
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, dtypes.DType) for v in value):
            raise AttrError(f"{what} must be a list of DTypes, got {_short(value)}")
        return tuple(value)
    if kind == "string":
        if not isinstance(value, (str, bytes)):
            raise AttrError(f"{what} must be a string, not {type(value).__name__}")
        return value
    if kind == "tensor":
        if not isinstance(value, np.ndarray) or value.dtype.fields is not None:
            raise AttrError(f"{what} must be a numpy array, not {type(value).__name__}")
        if value.dtype.hasobject and not all(isinstance(v, bytes) for v in value.reshape(-1)):
            raise AttrError(f"{what}: a string tensor holds bytes only")
        return value
    if kind == "slice_spec":
        return _slice_spec(value, what)
    raise KeyError(f"unknown attribute type {kind!r}")


def check_attrs(op_type, schema, attrs):
    """The attrs normalised to `schema`; AttrError names the first attribute that does not fit."""
    out = {}
    unknown = sorted(set(attrs) - set(schema))
    if unknown:
        raise AttrError(f"attr {unknown[0]!r} is not an attribute of {op_type} (it has: "
                        f"{', '.join(sorted(schema)) or 'none'})")
    for name, kind in schema.items():
        optional = kind.startswith("?")
        kind = kind.lstrip("?")
        if name not in attrs and not optional:
            raise AttrError(f"attr {name!r} ({kind}) is missing")
        value = attrs.get(name)
        if value is None and optional:
            out[name] = None
            continue
        out[name] = check_value(kind, value, f"attr {name!r}")
    return out


def finite(value, what):
    if isinstance(value, float) and not math.isfinite(value):
        raise AttrError(f"{what} must be finite, got {value}")
    return value
