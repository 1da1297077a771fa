"""tf.GraphDef and the messages inside it (NodeDef, AttrValue, TensorProto), without TensorFlow or TensorBoard.

Declared with protobuf's descriptor API (field numbers and types from tensorflow/core/framework/graph.proto,
node_def.proto, attr_value.proto, tensor.proto), in the private pool of pygraph/checkpoint/protos.py, which
already holds DataType, TensorShapeProto and VersionDef; so `tf.GraphDef` needs only `protobuf` (a required
dependency) and never clashes with the classes TensorBoard or TensorFlow register. The wire format is TF's:
a `.pb` either one writes, the other reads. Fields pygraph does not use (GraphDef.library, NodeDef's debug
info, resource and variant values) are left undeclared: protobuf keeps them as unknown fields, so they
survive a parse and re-serialize.
"""

from __future__ import annotations

import functools

from .checkpoint import protos as _ckpt

_T = {"int32": 5, "int64": 3, "uint32": 13, "uint64": 4, "bool": 8, "string": 9, "bytes": 12, "float": 2,
      "double": 1, "enum": 14, "message": 11}
_REPEATED = 3
_DT, _SHAPE = ".tensorflow.DataType", ".tensorflow.TensorShapeProto"
# (message, [(field, number, kind, repeated, type name, oneof)]); a "map" kind declares map<string, AttrValue>
_MESSAGES = [
    ("GraphDef", [("node", 1, "message", True, ".tensorflow.NodeDef", None),
                  ("versions", 4, "message", False, ".tensorflow.VersionDef", None),
                  ("version", 3, "int32", False, None, None)]),
    ("NodeDef", [("name", 1, "string", False, None, None), ("op", 2, "string", False, None, None),
                 ("input", 3, "string", True, None, None), ("device", 4, "string", False, None, None),
                 ("attr", 5, "map", True, None, None)]),
    ("AttrValue", [("list", 1, "message", False, ".tensorflow.AttrValue.ListValue", "value"),
                   ("s", 2, "bytes", False, None, "value"), ("i", 3, "int64", False, None, "value"),
                   ("f", 4, "float", False, None, "value"), ("b", 5, "bool", False, None, "value"),
                   ("type", 6, "enum", False, _DT, "value"), ("shape", 7, "message", False, _SHAPE, "value"),
                   ("tensor", 8, "message", False, ".tensorflow.TensorProto", "value"),
                   ("placeholder", 9, "string", False, None, "value"),
                   ("func", 10, "message", False, ".tensorflow.NameAttrList", "value")]),
    ("AttrValue.ListValue", [("s", 2, "bytes", True, None, None), ("i", 3, "int64", True, None, None),
                             ("f", 4, "float", True, None, None), ("b", 5, "bool", True, None, None),
                             ("type", 6, "enum", True, _DT, None), ("shape", 7, "message", True, _SHAPE, None),
                             ("tensor", 8, "message", True, ".tensorflow.TensorProto", None),
                             ("func", 9, "message", True, ".tensorflow.NameAttrList", None)]),
    ("NameAttrList", [("name", 1, "string", False, None, None), ("attr", 2, "map", True, None, None)]),
    ("TensorProto", [("dtype", 1, "enum", False, _DT, None), ("tensor_shape", 2, "message", False, _SHAPE, None),
                     ("version_number", 3, "int32", False, None, None),
                     ("tensor_content", 4, "bytes", False, None, None), ("half_val", 13, "int32", True, None, None),
                     ("float_val", 5, "float", True, None, None), ("double_val", 6, "double", True, None, None),
                     ("int_val", 7, "int32", True, None, None), ("string_val", 8, "bytes", True, None, None),
                     ("scomplex_val", 9, "float", True, None, None), ("int64_val", 10, "int64", True, None, None),
                     ("bool_val", 11, "bool", True, None, None), ("dcomplex_val", 12, "double", True, None, None),
                     ("uint32_val", 16, "uint32", True, None, None), ("uint64_val", 17, "uint64", True, None, None),
                     ("float8_val", 18, "bytes", False, None, None)]),
]


def _file_descriptor():
    from google.protobuf import descriptor_pb2

    fdp = descriptor_pb2.FileDescriptorProto(name="pygraph/graph.proto", package="tensorflow", syntax="proto3",
                                             dependency=[_ckpt.FILE_NAME])
    by_name = {}
    for full_name, fields in _MESSAGES:
        outer, _, inner = full_name.partition(".")
        msg = by_name[outer].nested_type.add(name=inner) if inner else fdp.message_type.add(name=outer)
        by_name.setdefault(outer, msg)
        oneofs = []
        for name, number, kind, repeated, type_name, oneof in fields:
            if kind == "map":  # map<string, AttrValue> is a repeated nested XxxEntry message
                entry = msg.nested_type.add(name="AttrEntry")
                entry.options.map_entry = True
                entry.field.add(name="key", number=1, type=_T["string"], label=1)
                entry.field.add(name="value", number=2, type=_T["message"], label=1, type_name=".tensorflow.AttrValue")
                kind, type_name = "message", f".tensorflow.{outer}.AttrEntry"
            field = msg.field.add(name=name, number=number, type=_T[kind], label=_REPEATED if repeated else 1)
            if type_name:
                field.type_name = type_name
            if oneof:
                if oneof not in oneofs:
                    oneofs.append(oneof)
                    msg.oneof_decl.add(name=oneof)
                field.oneof_index = oneofs.index(oneof)
    return fdp


@functools.cache
def messages():
    """A namespace of the classes: .GraphDef, .NodeDef, .AttrValue, .TensorProto, .TensorShapeProto, .VersionDef,
    and .DataType (the enum wrapper: DataType.Value("DT_FLOAT"))."""
    from google.protobuf import message_factory
    from google.protobuf.internal import enum_type_wrapper

    pool = _ckpt.pool()
    _ckpt.messages()
    try:
        pool.FindFileByName("pygraph/graph.proto")
    except KeyError:
        pool.Add(_file_descriptor())
    names = [n for n, _ in _MESSAGES if "." not in n] + ["TensorShapeProto", "VersionDef"]
    classes = {n: message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow." + n)) for n in names}
    classes["DataType"] = enum_type_wrapper.EnumTypeWrapper(pool.FindEnumTypeByName("tensorflow.DataType"))
    return type("GraphProtos", (), classes)


def is_graph_def(obj):
    """Whether `obj` is a GraphDef message of any origin (pygraph's, TensorBoard's or TensorFlow's class)."""
    return getattr(getattr(obj, "DESCRIPTOR", None), "full_name", None) == "tensorflow.GraphDef"


def as_graph_def(obj):
    """`obj` (a GraphDef of any origin) as pygraph's GraphDef class."""
    cls = messages().GraphDef
    return obj if isinstance(obj, cls) else cls.FromString(obj.SerializeToString())


def __getattr__(name):
    """tf.GraphDef, tf.NodeDef, tf.AttrValue (the classes are built on first use)."""
    if name in ("GraphDef", "NodeDef", "AttrValue", "TensorProto"):
        return getattr(messages(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
