"""Graph -> GraphDef protobuf (pygraph/graph_protos.py's messages): Graph.as_graph_def, sess.graph_def, frozen
graphs (tf.graph_util) and TensorBoard's Graphs tab.

Nodes keep their scoped names (the graph view folds `loss/...` into a `loss` box), inputs are written
`name`, `name:1` and `^control`, and attributes follow TF's conventions: `dtype`/`shape`/`value` on
sources, `T` for the input type of ops that have no type attribute of their own, `_output_shapes` when
asked. Constants keep their contents (tf.import_graph_def rebuilds them), except in the summary writer's
copy (elide=True): there, constants over _MAX_INLINE_ELEMENTS elements keep dtype and shape only.
"""

from __future__ import annotations

import numpy as np

from .dtypes import DType, string
from .graph_protos import messages
from .shape import TensorShape

_MAX_INLINE_ELEMENTS = 1000  # TF's own cut-off for embedding tf.zeros as a constant
_ENUM = {"float32": "DT_FLOAT", "float64": "DT_DOUBLE", "int32": "DT_INT32", "int64": "DT_INT64",
         "bool": "DT_BOOL", "string": "DT_STRING"}


def _dtype_enum(dtype):
    return messages().DataType.Value(_ENUM[dtype.name])


def _shape_proto(shape):
    shape = TensorShape(shape)
    pb = messages().TensorShapeProto()
    if shape.ndims is None:
        pb.unknown_rank = True
    else:
        for d in shape.as_list():
            pb.dim.add(size=-1 if d is None else int(d))
    return pb


def tensor_proto(array, dtype, elide=False):
    """A TensorProto of `array`; with `elide`, contents left out above _MAX_INLINE_ELEMENTS elements."""
    pb = messages().TensorProto(dtype=_dtype_enum(dtype), tensor_shape=_shape_proto(array.shape))
    if elide and array.size > _MAX_INLINE_ELEMENTS:
        return pb
    if dtype is string:
        pb.string_val.extend(v if isinstance(v, bytes) else str(v).encode("utf-8") for v in array.reshape(-1))
    else:
        pb.tensor_content = np.ascontiguousarray(array, dtype=dtype.np.newbyteorder("<")).tobytes()
    return pb


def _attr_value(value):
    """An AttrValue for a Python attribute value, or None when it has no GraphDef form (e.g. a callable)."""
    AttrValue = messages().AttrValue
    if value is None:
        return None
    if isinstance(value, DType):
        return AttrValue(type=_dtype_enum(value))
    if isinstance(value, TensorShape):
        return AttrValue(shape=_shape_proto(value))
    if isinstance(value, (bool, np.bool_)):
        return AttrValue(b=bool(value))
    if isinstance(value, (int, np.integer)):
        return AttrValue(i=int(value))
    if isinstance(value, (float, np.floating)):
        return AttrValue(f=float(value))
    if isinstance(value, str):
        return AttrValue(s=value.encode("utf-8"))
    if isinstance(value, bytes):
        return AttrValue(s=value)
    if isinstance(value, (list, tuple)):
        items = list(value)
        lv = AttrValue.ListValue()
        if all(isinstance(v, (bool, np.bool_)) for v in items):
            lv.b.extend(bool(v) for v in items)
        elif all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items):
            lv.i.extend(int(v) for v in items)
        elif all(isinstance(v, (int, float, np.integer, np.floating)) for v in items):
            lv.f.extend(float(v) for v in items)
        elif all(isinstance(v, DType) for v in items):
            lv.type.extend(_dtype_enum(v) for v in items)
        elif all(isinstance(v, TensorShape) for v in items):
            lv.shape.extend(_shape_proto(v) for v in items)
        elif all(isinstance(v, (str, bytes)) for v in items):
            lv.s.extend(v if isinstance(v, bytes) else v.encode("utf-8") for v in items)
        else:
            return None
        return AttrValue(list=lv)
    return None


def _input_name(tensor):
    return tensor.op.name if tensor.value_index == 0 else f"{tensor.op.name}:{tensor.value_index}"


def node_def(op, add_shapes=False, elide=False):
    """The NodeDef of one Operation."""
    AttrValue = messages().AttrValue
    node = messages().NodeDef(name=op.name, op=op.type)
    node.input.extend(_input_name(t) for t in op.inputs)
    node.input.extend("^" + c.name for c in op.control_inputs)
    has_type_attr = False
    for key, value in op.attrs.items():
        if key == "value" and isinstance(value, np.ndarray):
            dtype = op.attrs.get("dtype") or op.outputs[0].dtype
            node.attr[key].CopyFrom(AttrValue(tensor=tensor_proto(value, dtype, elide)))
            continue
        has_type_attr |= isinstance(value, DType)
        converted = _attr_value(value)
        if converted is not None:
            node.attr[key].CopyFrom(converted)
    if op.inputs and not has_type_attr:
        node.attr["T"].CopyFrom(AttrValue(type=_dtype_enum(op.inputs[0].dtype)))
    if add_shapes:
        lv = AttrValue.ListValue(shape=[_shape_proto(t.shape) for t in op.outputs])
        node.attr["_output_shapes"].CopyFrom(AttrValue(list=lv))
    return node


def graph_to_graph_def(graph, from_version=None, add_shapes=False, elide=False):
    """The GraphDef of `graph` (ops created at or after `from_version` only, if given)."""
    graph_def = messages().GraphDef()
    with graph._lock:
        ops = list(graph._ops)
    for op in ops:
        if from_version is None or op._id >= from_version:
            graph_def.node.append(node_def(op, add_shapes, elide))
    return graph_def
