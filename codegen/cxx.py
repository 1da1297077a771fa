"""The one way values from a graph reach generated C++: typed values, rendered by pygraph.

`checked_request` runs first in lowering. It rebuilds every node's attributes from typed values only
(int, float, bool, None, tuples of these, dtype names from the fixed table); any other string becomes an
`Opaque` that refuses to be formatted, so an emitter that pastes a string attribute into C++ fails loudly
instead of compiling text from a file. Node names and labels become comment-safe text. The `*_lit`
helpers render numbers with range checks; `comment` and `ident` make names safe for comments and
identifiers. Emitters interpolate attribute values only through them.
"""

from __future__ import annotations

import dataclasses
import math
import re

from ..shape import TensorShape
from .ir import Request

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
DTYPE_NAMES = ("float32", "float64", "int32", "int64", "bool", "string")
_COMMENT_UNSAFE = re.compile(r"[^A-Za-z0-9_.,:;/>()\[\]=+ -]")
_IDENT_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


class RenderError(TypeError):
    """A value of the wrong type on its way into generated C++ (a pygraph bug, never user data)."""


class Opaque:
    """A string attribute: usable in Python (`.text`), never formatted into C++ source."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def _refuse(self, *args):
        raise RenderError("a string attribute cannot be rendered into generated C++")

    __str__ = __format__ = __add__ = __radd__ = __mod__ = _refuse

    def __repr__(self):
        return "Opaque(...)"

    def __eq__(self, other):  # compares like its text (tags such as StridedSlice's "range" still match)
        return other.text == self.text if isinstance(other, Opaque) else other == self.text

    def __hash__(self):
        return hash(self.text)


def int_lit(value, lo=INT64_MIN, hi=INT64_MAX):
    """A C++ integer literal for a Python int in [lo, hi] (bool and everything else refused)."""
    if type(value) is not int:
        raise RenderError(f"expected an int to render, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise RenderError(f"integer {value} is outside [{lo}, {hi}]")
    return int64_lit(value) if value < -(2**31) or value > 2**31 - 1 else str(value)


def int64_lit(value):
    """An int64_t literal (INT64_MIN spelled so that no literal overflows)."""
    if type(value) is not int:
        raise RenderError(f"expected an int to render, got {type(value).__name__}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise RenderError(f"integer {value} does not fit in int64")
    return "(-INT64_C(9223372036854775807) - 1)" if value == INT64_MIN else f"INT64_C({value})"


def float_lit(value, single):
    """A C++ float (`single`) or double literal for a Python int or float; NaN/Inf through the prelude's
    macros."""
    if type(value) not in (int, float):
        raise RenderError(f"expected a number to render, got {type(value).__name__}")
    v = float(value)
    kind, suffix = ("F", "f") if single else ("D", "")
    if math.isnan(v):
        return f"PG_NAN_{kind}"
    if math.isinf(v):
        return f"{'-' if v < 0 else ''}PG_INF_{kind}"
    text = repr(v)
    return f"{text}{suffix}" if ("e" in text or "." in text) else f"{text}.0{suffix}"


def bool_lit(value):
    if type(value) is not bool:
        raise RenderError(f"expected a bool to render, got {type(value).__name__}")
    return "true" if value else "false"


def ident(name):
    """`name` mangled to a C++ identifier ([A-Za-z0-9_], not starting with a digit)."""
    text = _IDENT_UNSAFE.sub("_", str(name))
    return text if text and not text[0].isdigit() else "n_" + text


def comment(text):
    """`text` safe inside a // comment or a string literal: no newline, backslash, quote or '*'."""
    return _COMMENT_UNSAFE.sub("_", str(text))


def _typed(value, where):
    """An attribute value rebuilt from typed parts only."""
    if value is None or type(value) in (bool, int):
        return value
    if type(value) is float:
        return value
    if isinstance(value, (tuple, list)):
        return tuple(_typed(v, where) for v in value)
    if isinstance(value, TensorShape):
        return None if value.ndims is None else _typed(value.as_tuple(), where)
    if type(value) is str:
        return value if value in DTYPE_NAMES else Opaque(value)
    raise RenderError(f"{where}: an attribute of type {type(value).__name__} cannot reach code generation")


def checked_request(req):
    """`req` with every node's attributes rebuilt from typed values and names made comment-safe."""
    nodes = []
    for node in req.nodes:
        attrs = {k: _typed(v, f"node {comment(node.name)} attr {comment(k)}") for k, v in node.attrs.items()}
        nodes.append(dataclasses.replace(node, name=comment(node.name), attrs=attrs,
                                         dtypes=tuple(_dtype(d) for d in node.dtypes)))
    return Request(nodes, req.args, req.outputs, label=comment(req.label))


def _dtype(name):
    if name not in DTYPE_NAMES:
        raise RenderError(f"unknown dtype {name!r} in a request")
    return name
