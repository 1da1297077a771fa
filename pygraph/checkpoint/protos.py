"""The protobuf messages of TF's checkpoint files, built at run time from descriptors.

TensorBoard ships compiled copies of some TF protos, but not tensor_bundle.proto, and we do not want
checkpoints to need it; so the few messages we need are declared here with protobuf's descriptor API
(field numbers and types copied from tensorflow/core/protobuf/tensor_bundle.proto, framework/
tensor_shape.proto, tensor_slice.proto, versions.proto, types.proto and python/training/
checkpoint_state.proto). They live in a private descriptor pool, so they never clash with the same
names registered by TensorBoard or TensorFlow in the default pool.
"""

from __future__ import annotations

import functools

import numpy as np

# tensorflow/core/framework/types.proto: DataType -> numpy dtype, for the types numpy can hold
DT_FLOAT, DT_DOUBLE, DT_INT32, DT_STRING, DT_INT64, DT_BOOL = 1, 2, 3, 7, 9, 10
NUMPY_OF_DT = {
    1: np.dtype("<f4"), 2: np.dtype("<f8"), 3: np.dtype("<i4"), 4: np.dtype("u1"), 5: np.dtype("<i2"),
    6: np.dtype("i1"), 8: np.dtype("<c8"), 9: np.dtype("<i8"), 10: np.dtype("?"), 17: np.dtype("<u2"),
    18: np.dtype("<c16"), 19: np.dtype("<f2"), 22: np.dtype("<u4"), 23: np.dtype("<u8"),
}
DT_NAMES = {1: "DT_FLOAT", 2: "DT_DOUBLE", 3: "DT_INT32", 4: "DT_UINT8", 5: "DT_INT16", 6: "DT_INT8",
            7: "DT_STRING", 8: "DT_COMPLEX64", 9: "DT_INT64", 10: "DT_BOOL", 11: "DT_QINT8", 12: "DT_QUINT8",
            13: "DT_QINT32", 14: "DT_BFLOAT16", 15: "DT_QINT16", 16: "DT_QUINT16", 17: "DT_UINT16",
            18: "DT_COMPLEX128", 19: "DT_HALF", 20: "DT_RESOURCE", 21: "DT_VARIANT", 22: "DT_UINT32",
            23: "DT_UINT64"}
DT_OF_NAME = {"float32": DT_FLOAT, "float64": DT_DOUBLE, "int32": DT_INT32, "int64": DT_INT64,
              "bool": DT_BOOL, "string": DT_STRING}

# (message name, [(field name, number, type, label, type_name or None)]); nested names use dots and follow
# their outer message
_T = {"int32": 5, "int64": 3, "bool": 8, "string": 9, "double": 1, "fixed32": 7, "enum": 14, "message": 11}
_OPTIONAL, _REPEATED = 1, 3
_MESSAGES = [
    ("VersionDef", [("producer", 1, "int32", _OPTIONAL, None), ("min_consumer", 2, "int32", _OPTIONAL, None),
                    ("bad_consumers", 3, "int32", _REPEATED, None)]),
    ("TensorShapeProto", [("dim", 2, "message", _REPEATED, ".tensorflow.TensorShapeProto.Dim"),
                          ("unknown_rank", 3, "bool", _OPTIONAL, None)]),
    ("TensorShapeProto.Dim", [("size", 1, "int64", _OPTIONAL, None), ("name", 2, "string", _OPTIONAL, None)]),
    ("TensorSliceProto", [("extent", 1, "message", _REPEATED, ".tensorflow.TensorSliceProto.Extent")]),
    ("TensorSliceProto.Extent", [("start", 1, "int64", _OPTIONAL, None), ("length", 2, "int64", _OPTIONAL, None)]),
    ("BundleHeaderProto", [("num_shards", 1, "int32", _OPTIONAL, None),
                           ("endianness", 2, "enum", _OPTIONAL, ".tensorflow.BundleHeaderProto.Endianness"),
                           ("version", 3, "message", _OPTIONAL, ".tensorflow.VersionDef")]),
    ("BundleEntryProto", [("dtype", 1, "enum", _OPTIONAL, ".tensorflow.DataType"),
                          ("shape", 2, "message", _OPTIONAL, ".tensorflow.TensorShapeProto"),
                          ("shard_id", 3, "int32", _OPTIONAL, None), ("offset", 4, "int64", _OPTIONAL, None),
                          ("size", 5, "int64", _OPTIONAL, None), ("crc32c", 6, "fixed32", _OPTIONAL, None),
                          ("slices", 7, "message", _REPEATED, ".tensorflow.TensorSliceProto")]),
    ("CheckpointState", [("model_checkpoint_path", 1, "string", _OPTIONAL, None),
                         ("all_model_checkpoint_paths", 2, "string", _REPEATED, None),
                         ("all_model_checkpoint_timestamps", 3, "double", _REPEATED, None),
                         ("last_preserved_timestamp", 4, "double", _OPTIONAL, None)]),
]


def _file_descriptor():
    from google.protobuf import descriptor_pb2

    fdp = descriptor_pb2.FileDescriptorProto(name=FILE_NAME,
                                             package="tensorflow", syntax="proto3")
    dt = fdp.enum_type.add(name="DataType")
    dt.value.add(name="DT_INVALID", number=0)
    for number, name in sorted(DT_NAMES.items()):
        dt.value.add(name=name, number=number)
    by_name = {}
    for full_name, fields in _MESSAGES:
        outer, _, inner = full_name.partition(".")
        if inner:
            msg = by_name[outer].nested_type.add(name=inner)
        else:
            msg = by_name[outer] = fdp.message_type.add(name=outer)
        for name, number, kind, label, type_name in fields:
            field = msg.field.add(name=name, number=number, type=_T[kind], label=label)
            if type_name:
                field.type_name = type_name
    endian = by_name["BundleHeaderProto"].enum_type.add(name="Endianness")
    endian.value.add(name="LITTLE", number=0)
    endian.value.add(name="BIG", number=1)
    return fdp


FILE_NAME = "pygraph/checkpoint/tf_checkpoint.proto"


@functools.cache
def pool():
    """The private descriptor pool holding these messages (pygraph/graph_protos.py adds GraphDef's to it)."""
    from google.protobuf import descriptor_pool

    p = descriptor_pool.DescriptorPool()
    p.Add(_file_descriptor())
    return p


@functools.cache
def messages():
    """A namespace of message classes: .BundleHeaderProto, .BundleEntryProto, .CheckpointState, ..."""
    from google.protobuf import message_factory

    classes = {name: message_factory.GetMessageClass(pool().FindMessageTypeByName("tensorflow." + name))
               for name, _ in _MESSAGES if "." not in name}
    return type("CheckpointProtos", (), classes)
