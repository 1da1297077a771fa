"""REGISTER_OP's spec strings, parsed as TF's op_def_builder reads them: inputs and outputs
("to_zero: int32", "x: T") and attributes ("T: {float, int32} = DT_INT32", "preserve_index: int >= 0 = 0",
"mode: {'a', 'b'} = 'a'"). Every attribute becomes a row of the op's attr schema (ops/attr_schema.py), so
a custom op's nodes are checked like a built-in's."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from .. import dtypes

# TF's spelling of the dtypes pygraph compiles
TF_TYPES = {"float": dtypes.float32, "double": dtypes.float64, "int32": dtypes.int32, "int64": dtypes.int64,
            "bool": dtypes.bool_}
_DT_NAMES = {"DT_FLOAT": "float", "DT_DOUBLE": "double", "DT_INT32": "int32", "DT_INT64": "int64",
             "DT_BOOL": "bool"}
_SCHEMA_TYPES = {"int": "int", "float": "float", "bool": "bool", "type": "type", "string": "string",
                 "list(int)": "list(int)", "list(type)": "list(type)"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_OP_NAME = re.compile(r"[A-Z][A-Za-z0-9]*\Z")


class SpecError(ValueError):
    """A REGISTER_OP spec pygraph cannot read (names the op and the spec)."""


@dataclass
class AttrSpec:
    name: str
    type: str  # an attr_schema type
    default: object = None
    has_default: bool = False
    allowed: tuple = ()  # allowed values (types: DTypes; strings: str)
    minimum: int | None = None


@dataclass
class ArgSpec:
    name: str
    dtype: object = None  # a DType, when fixed
    type_attr: str | None = None  # else the type attribute that names it


@dataclass
class OpSpec:
    name: str
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    attrs: dict = field(default_factory=dict)  # name -> AttrSpec, in spec order
    stateful: bool = False  # SetIsStateful(): never constant-folded


def _split_name(text, op, what):
    if ":" not in text:
        raise SpecError(f"{op}: {what} spec {text!r} has no ':' (expected 'name: type')")
    name, rest = (s.strip() for s in text.split(":", 1))
    if not _NAME.match(name):
        raise SpecError(f"{op}: {what} name {name!r} is not an identifier")
    return name, rest


def _type_name(text, op):
    text = _DT_NAMES.get(text.strip(), text.strip())
    if text not in TF_TYPES:
        raise SpecError(f"{op}: type {text!r} is not one pygraph compiles ({', '.join(TF_TYPES)})")
    return TF_TYPES[text]


def _default(attr, text, op):
    text = text.strip()
    try:
        if attr.type == "type":
            return _type_name(text, op)
        if attr.type == "list(type)":
            return tuple(_type_name(t, op) for t in text.strip("[]").split(",") if t.strip())
        if attr.type == "bool":
            if text not in ("true", "false"):
                raise ValueError(text)
            return text == "true"
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise SpecError(f"{op}: attr {attr.name!r} has a default {text!r} that is not a {attr.type}") from None
    if attr.type == "list(int)":
        return tuple(value)
    return value


def parse_attr(text, op):
    name, rest = _split_name(text, op, "attr")
    attr = AttrSpec(name, "")
    if rest.startswith("{"):
        if "}" not in rest:
            raise SpecError(f"{op}: attr {name!r} has an unclosed {{...}} list: {rest!r}")
        body, after = rest[1:].split("}", 1)
        items = [s.strip() for s in body.split(",") if s.strip()]
        if items and items[0][0] in "'\"":
            attr.type, attr.allowed = "string", tuple(ast.literal_eval(s) for s in items)
        else:
            attr.type, attr.allowed = "type", tuple(_type_name(s, op) for s in items)
        after = after.strip()
        if after and not after.startswith("="):
            raise SpecError(f"{op}: attr {name!r}: unexpected {after!r} after the list")
        default_text = after[1:] if after else None
    else:
        match = re.fullmatch(r"(\w+(?:\(\w+\))?)\s*(?:>=\s*(-?\d+))?\s*(?:=(.*))?", rest, re.S)
        if not match or match.group(1) not in _SCHEMA_TYPES:
            raise SpecError(f"{op}: attr {name!r} has type {rest!r}; pygraph reads "
                            f"{', '.join(_SCHEMA_TYPES)} and {{...}} type or string lists")
        attr.type = _SCHEMA_TYPES[match.group(1)]
        attr.minimum = int(match.group(2)) if match.group(2) is not None else None
        default_text = match.group(3)
    if default_text is not None:
        attr.default, attr.has_default = _default(attr, default_text, op), True
    return attr


def parse_arg(text, op, attrs, what):
    name, rest = _split_name(text, op, what)
    if "*" in rest or rest.startswith("Ref("):
        raise SpecError(f"{op}: {what} {name!r} is a list or reference ({rest!r}); pygraph reads single "
                        "tensors of a fixed type or of a type attribute")
    if rest in attrs:
        if attrs[rest].type != "type":
            raise SpecError(f"{op}: {what} {name!r} names attr {rest!r}, which is not a type")
        return ArgSpec(name, type_attr=rest)
    return ArgSpec(name, dtype=_type_name(rest, op))


def parse(name, inputs, outputs, attrs):
    if not _OP_NAME.match(name):
        raise SpecError(f"op name {name!r} must be CamelCase letters and digits, as TF requires")
    spec = OpSpec(name)
    for text in attrs:
        attr = parse_attr(text, name)
        if attr.name in spec.attrs:
            raise SpecError(f"{name}: attr {attr.name!r} is declared twice")
        spec.attrs[attr.name] = attr
    spec.inputs = [parse_arg(t, name, spec.attrs, "input") for t in inputs]
    spec.outputs = [parse_arg(t, name, spec.attrs, "output") for t in outputs]
    return spec


def snake_case(name):
    """TF's Python name of an op: ZeroOut -> zero_out, ScaleAndRowSum -> scale_and_row_sum."""
    s1 = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s1).lower()
