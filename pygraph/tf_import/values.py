"""TensorFlow protobuf values -> Python: DataType enums, TensorShapeProtos and TensorProtos, decoded with
bounds (a crafted file may declare any shape; nothing here allocates more than the file holds, or than
_MAX_FILLED elements for TF's "repeat the last value" encoding)."""

from __future__ import annotations

import numpy as np

from .. import dtypes, errors

# tensorflow/core/framework/types.proto: the enums of the dtypes pygraph computes with
DTYPES = {1: dtypes.float32, 2: dtypes.float64, 3: dtypes.int32, 9: dtypes.int64, 10: dtypes.bool_}
_FIELDS = {1: "float_val", 2: "double_val", 3: "int_val", 9: "int64_val", 10: "bool_val"}
_MAX_FILLED = 1 << 24  # a Const whose few stored values TF repeats to fill it: 16M elements at most
_MAX_DIMS = 32


def malformed(node, what):
    return errors.DataLossError(None, None, f"Malformed TensorFlow graph: node '{node.name}' ({node.op}): {what}")


def dtype_of(node, key, required=True):
    """The pygraph DType of type attribute `key` of a NodeDef."""
    if key not in node.attr:
        if not required:
            return None
        raise malformed(node, f"has no '{key}' attribute")
    code = node.attr[key].type
    if code not in DTYPES:
        raise errors.UnimplementedError(None, None, f"node '{node.name}' ({node.op}) has dtype enum {code} "
                                        f"(attribute '{key}'); pygraph computes with "
                                        f"{', '.join(d.name for d in DTYPES.values())}")
    return DTYPES[code]


def shape_of(node, proto):
    """A TensorShapeProto as a list with None for unknown dims, or None for an unknown rank."""
    if proto.unknown_rank:
        return None
    if len(proto.dim) > _MAX_DIMS:
        raise malformed(node, f"a shape of rank {len(proto.dim)}")
    dims = []
    for d in proto.dim:
        if d.size < -1:
            raise malformed(node, f"a shape with dimension {d.size}")
        dims.append(None if d.size == -1 else int(d.size))
    return dims


def tensor_value(node, proto):
    """The ndarray of a TensorProto (a Const's `value`)."""
    if proto.dtype not in DTYPES:
        raise errors.UnimplementedError(None, None, f"node '{node.name}' ({node.op}) holds a constant of dtype "
                                        f"enum {proto.dtype}, which pygraph cannot compute with")
    dtype = DTYPES[proto.dtype]
    shape = shape_of(node, proto.tensor_shape)
    if shape is None or None in shape:
        raise malformed(node, "a constant without a fully known shape")
    count = 1
    for d in shape:
        count *= d
    np_dtype = np.dtype(dtype.np).newbyteorder("<")
    if proto.tensor_content:
        if len(proto.tensor_content) != count * np_dtype.itemsize:
            raise malformed(node, f"a constant of shape {shape} with {len(proto.tensor_content)} bytes of content")
        return np.frombuffer(proto.tensor_content, dtype=np_dtype).astype(dtype.np).reshape(shape)
    values = list(getattr(proto, _FIELDS[proto.dtype]))
    if len(values) > count:
        raise malformed(node, f"a constant of shape {shape} with {len(values)} values")
    if len(values) < count and count > _MAX_FILLED:
        raise malformed(node, f"a constant of {count} elements stored as {len(values)} repeated values")
    out = np.empty(count, dtype.np)
    if values:
        out[: len(values)] = values
        out[len(values):] = values[-1]  # TF repeats the last stored value
    else:
        out[:] = 0
    return out.reshape(shape)
