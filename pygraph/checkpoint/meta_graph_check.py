"""Structure checks for a meta graph document before anything is built from it.

A meta graph file comes from outside: every field is checked for its type and every reference for its
target (inputs name earlier ops, so a cycle or a dangling input is found here), and a failure raises one
DataLossError that names the op and field. The attribute values themselves are checked by Graph.create_op
against the op's registered schema (InvalidArgumentError), as for any node.
"""

from __future__ import annotations

import re

from .. import dtypes
from ..errors import DataLossError

MAX_ARRAYS = 1 << 20
_TENSOR_REF = re.compile(r"(.+):(0|[1-9][0-9]{0,8})")
_ITEM_KEYS = ("variable", "tensor", "op", "value")
_DTYPE_NAMES = {d.name for d in dtypes.ALL}
_SAVER_FIELDS = {"max_to_keep": int, "keep_checkpoint_every_n_hours": (int, float), "sharded": bool,
                 "version": int, "var_names": dict, "pad_step_number": bool, "save_relative_paths": bool,
                 "allow_empty": bool, "reshape": bool}


class _Problem(Exception):
    pass


def _need(cond, what):
    if not cond:
        raise _Problem(what)


def _is(value, kind):
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


def _strings(value, what):
    _need(isinstance(value, list) and all(isinstance(v, str) for v in value), f"{what} must be a list of strings")


def check_structure(doc, source):
    """Raise DataLossError naming the first malformed field of `doc` (a meta graph document)."""
    try:
        _check(doc)
    except _Problem as e:
        raise DataLossError(None, None, f"Malformed meta graph {source}: {e}") from None


def _check(doc):
    for key, kind in (("ops", list), ("variables", list), ("collections", dict), ("num_arrays", int)):
        _need(key in doc, f"the document has no {key!r} field")
        _need(_is(doc[key], kind), f"field {key!r} must be a {kind.__name__}, not {type(doc[key]).__name__}")
    _need(0 <= doc["num_arrays"] <= MAX_ARRAYS, f"num_arrays = {doc['num_arrays']} is out of range")
    outputs, types = {}, {}  # op name -> number of outputs, op type
    for k, spec in enumerate(doc["ops"]):
        name = _check_op(spec, k, outputs)
        outputs[name], types[name] = len(spec["outputs"]), spec["type"]
    variables = _check_variables(doc["variables"], outputs, types)
    for key, items in doc["collections"].items():
        _need(isinstance(items, list), f"collection {key!r} must be a list")
        for item in items:
            _check_item(item, key, outputs, variables)
    if doc.get("saver") is not None:
        _check_saver(doc["saver"], outputs)


def _tensor_ref(ref, outputs, what):
    m = _TENSOR_REF.fullmatch(ref) if isinstance(ref, str) else None
    _need(m is not None, f"{what} {ref!r} is not a tensor name ('op:index')")
    op, index = m.group(1), int(m.group(2))
    _need(op in outputs, f"{what} {ref!r} names no earlier op (a dangling input, or a cycle)")
    _need(index < outputs[op], f"{what} {ref!r}: op {op!r} has only {outputs[op]} output(s)")


def _check_op(spec, k, outputs):
    _need(isinstance(spec, dict), f"ops[{k}] must be an object")
    name = spec.get("name")
    _need(isinstance(name, str) and name, f"ops[{k}] has no name")
    where = f"op {name!r}"
    _need(name not in outputs, f"{where} appears twice")
    for key, kind in (("type", str), ("inputs", list), ("control_inputs", list), ("attrs", dict), ("outputs", list)):
        _need(key in spec, f"{where} has no {key!r} field")
        _need(isinstance(spec[key], kind), f"{where}: field {key!r} must be a {kind.__name__}, not "
                                           f"{type(spec[key]).__name__}")
    for ref in spec["inputs"]:
        _tensor_ref(ref, outputs, f"{where} input")
    _strings(spec["control_inputs"], f"{where} control_inputs")
    for c in spec["control_inputs"]:
        _need(c in outputs, f"{where} control input {c!r} names no earlier op (a dangling input, or a cycle)")
    _need(all(isinstance(a, str) for a in spec["attrs"]), f"{where}: attr names must be strings")
    for j, out in enumerate(spec["outputs"]):
        _check_output(out, f"{where} output {j}")
    _need(spec.get("op_library") is None or isinstance(spec["op_library"], str),
          f"{where}: op_library must be a string")
    site = spec.get("creation_site")
    _need(site is None or isinstance(site, str), f"{where}: creation_site must be a string")
    return name


def _check_output(out, what):
    _need(isinstance(out, dict) and set(out) == {"dtype", "shape"}, f"{what} must be {{dtype, shape}}")
    _need(isinstance(out["dtype"], str) and out["dtype"] in _DTYPE_NAMES,
          f"{what} has unknown dtype {out['dtype']!r}")
    shape = out["shape"]
    _need(shape is None or (isinstance(shape, list) and all(d is None or (_is(d, int) and d >= 0) for d in shape)),
          f"{what} has a malformed shape {shape!r}")


def _check_variables(variables, outputs, types):
    names = set()
    for k, v in enumerate(variables):
        _need(isinstance(v, dict), f"variables[{k}] must be an object")
        for key in ("variable_name", "snapshot_name"):
            _tensor_ref(v.get(key), outputs, f"variables[{k}] {key}")
        init = v.get("initializer_name")
        _need(isinstance(init, str) and init in outputs, f"variables[{k}] initializer_name {init!r} names no op")
        if v.get("initial_value_name") is not None:
            _tensor_ref(v["initial_value_name"], outputs, f"variables[{k}] initial_value_name")
        for key in ("trainable", "is_resource"):
            _need(isinstance(v.get(key, False), bool), f"variables[{k}] {key} must be a bool")
        op = v["variable_name"].rpartition(":")[0]
        _need(types[op] == "VariableV2", f"variables[{k}] variable_name names a {types[op]} op, not a variable")
        _need(op not in names, f"variables[{k}] names variable {op!r} twice")
        names.add(op)
    return names


def _check_item(item, key, outputs, variables):
    what = f"collection {key!r} item {item!r}"
    _need(isinstance(item, dict) and len(item) == 1 and next(iter(item)) in _ITEM_KEYS,
          f"{what} must be one of {{variable|tensor|op|value: ...}}")
    (kind, value), = item.items()
    if kind == "variable":
        _need(isinstance(value, str) and value in variables, f"{what} names no stored variable")
    elif kind == "tensor":
        _tensor_ref(value, outputs, what)
    elif kind == "op":
        _need(isinstance(value, str) and value in outputs, f"{what} names no op")


def _check_saver(saver, outputs):
    _need(isinstance(saver, dict), "field 'saver' must be an object")
    for key, value in saver.items():
        kind = _SAVER_FIELDS.get(key)
        _need(kind is not None, f"saver has an unknown field {key!r}")
        _need(isinstance(value, kind) and not (kind is int and isinstance(value, bool)),
              f"saver field {key!r} has the wrong type ({type(value).__name__})")
    for ckpt_key, op in saver.get("var_names", {}).items():
        _need(isinstance(op, str) and op in outputs, f"saver var_names[{ckpt_key!r}] names no op")
