"""Element types: TF1 names, numpy types, C++ types and the ABI codes of runtime/include/pygraph/abi.h."""

from __future__ import annotations

import numpy as np


class DType:
    __slots__ = ("name", "np", "cpp", "code", "is_floating", "is_integer", "is_bool")

    def __init__(self, name, np_type, cpp, code):
        self.name = name
        self.np = np.dtype(np_type)
        self.cpp = cpp
        self.code = code
        self.is_floating = self.np.kind == "f"
        self.is_integer = self.np.kind in "iu"
        self.is_bool = self.np.kind == "b"

    @property
    def as_numpy_dtype(self):
        return self.np.type

    @property
    def base_dtype(self):
        return self

    @property
    def itemsize(self):
        return self.np.itemsize

    @property
    def is_compiled(self):
        """Whether generated C++ can hold this type (strings stay on the host)."""
        return self.code != 0

    @property
    def min(self):
        return np.finfo(self.np).min if self.is_floating else np.iinfo(self.np).min

    @property
    def max(self):
        return np.finfo(self.np).max if self.is_floating else np.iinfo(self.np).max

    def __repr__(self):
        return f"tf.{self.name}"

    def __reduce__(self):
        return (as_dtype, (self.name,))


float32 = DType("float32", np.float32, "float", 1)
float64 = DType("float64", np.float64, "double", 2)
int32 = DType("int32", np.int32, "int32_t", 3)
int64 = DType("int64", np.int64, "int64_t", 4)
bool_ = DType("bool", np.bool_, "bool", 5)
string = DType("string", np.object_, "", 0)
half = None  # not supported: generated code has no portable float16

ALL = (float32, float64, int32, int64, bool_, string)
_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update({"float": float32, "double": float64, "bool_": bool_})
_BY_CODE = {d.code: d for d in ALL if d.code}
_BY_NP = {d.np: d for d in ALL if d is not string}


def as_dtype(value) -> DType:
    """TF1's tf.as_dtype: a DType, its name, a numpy dtype or a Python type."""
    if isinstance(value, DType):
        return value
    if isinstance(value, str):
        if value in _BY_NAME:
            return _BY_NAME[value]
        raise TypeError(f"Cannot convert value {value!r} to a TensorFlow DType.")
    if value is bool:
        return bool_
    if value is int:
        return int32
    if value is float:
        return float32
    if value in (str, bytes):
        return string
    try:
        npd = np.dtype(value)
    except TypeError:
        raise TypeError(f"Cannot convert value {value!r} to a TensorFlow DType.") from None
    if npd.kind in "SUO":
        return string
    if npd in _BY_NP:
        return _BY_NP[npd]
    raise TypeError(f"pygraph does not support dtype {npd} (supported: {', '.join(d.name for d in ALL)}).")


def from_code(code: int) -> DType:
    return _BY_CODE[code]
