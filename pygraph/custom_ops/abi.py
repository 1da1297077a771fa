"""ctypes mirrors of abi.h's custom-op records (pg_attr, pg_shape_call, pg_op_def, pg_op_table): the
loader reads an op library's table and runs its shape functions through them, with no C++ in between."""

from __future__ import annotations

import ctypes as C

from .. import dtypes

MAX_RANK = 8  # PG_MAX_RANK
(PG_ATTR_INT, PG_ATTR_FLOAT, PG_ATTR_BOOL, PG_ATTR_TYPE, PG_ATTR_STRING, PG_ATTR_LIST_INT,
 PG_ATTR_LIST_TYPE) = range(1, 8)
ATTR_KINDS = {"int": PG_ATTR_INT, "float": PG_ATTR_FLOAT, "bool": PG_ATTR_BOOL, "type": PG_ATTR_TYPE,
              "string": PG_ATTR_STRING, "list(int)": PG_ATTR_LIST_INT, "list(type)": PG_ATTR_LIST_TYPE}
PG_CODES = {dtypes.float32: 1, dtypes.float64: 2, dtypes.int32: 3, dtypes.int64: 4, dtypes.bool_: 5}


class PgAttr(C.Structure):
    _fields_ = [("name", C.c_char_p), ("kind", C.c_int32), ("count", C.c_int32), ("i", C.c_int64),
                ("f", C.c_double), ("items", C.c_void_p)]


class PgShapeCall(C.Structure):
    _fields_ = [("op", C.c_void_p), ("num_inputs", C.c_int32), ("num_outputs", C.c_int32),
                ("num_attrs", C.c_int32), ("input_ranks", C.POINTER(C.c_int32)),
                ("input_dims", C.POINTER(C.c_int64)), ("attrs", C.POINTER(PgAttr)),
                ("output_ranks", C.POINTER(C.c_int32)), ("output_dims", C.POINTER(C.c_int64)),
                ("error", C.c_void_p), ("error_cap", C.c_int32)]


SHAPE_FN = C.CFUNCTYPE(C.c_int32, C.POINTER(PgShapeCall))


class PgKernelDef(C.Structure):
    _fields_ = [("type_attr", C.c_char_p), ("dtype", C.c_int32), ("compute", C.c_void_p)]


class PgOpDef(C.Structure):
    _fields_ = [("name", C.c_char_p), ("num_inputs", C.c_int32), ("num_outputs", C.c_int32),
                ("num_attrs", C.c_int32), ("num_kernels", C.c_int32), ("inputs", C.POINTER(C.c_char_p)),
                ("outputs", C.POINTER(C.c_char_p)), ("attrs", C.POINTER(C.c_char_p)), ("shape", C.c_void_p),
                ("kernels", C.POINTER(PgKernelDef)), ("impl", C.c_void_p),
                ("stateful", C.c_int32)]


class PgOpTable(C.Structure):
    _fields_ = [("abi_version", C.c_int32), ("num_ops", C.c_int32), ("ops", C.POINTER(C.POINTER(PgOpDef)))]


LIBRARY_FN = C.CFUNCTYPE(C.POINTER(PgOpTable))


def attr_records(spec, attrs):
    """A pg_attr array for the node's checked attrs (and the ctypes objects keeping its items alive)."""
    keep = []
    records = (PgAttr * max(len(spec.attrs), 1))()
    for k, (name, a) in enumerate(spec.attrs.items()):
        value = attrs[name]
        r = records[k]
        r.name = name.encode()
        r.kind = ATTR_KINDS[a.type]
        if a.type in ("int", "bool"):
            r.i = int(value)
        elif a.type == "float":
            r.f = float(value)
        elif a.type == "type":
            r.i = PG_CODES[value]
        elif a.type == "string":
            data = value.encode() if isinstance(value, str) else bytes(value)
            buf = C.create_string_buffer(data, len(data) or 1)
            keep.append(buf)
            r.items, r.count = C.cast(buf, C.c_void_p), len(data)
        else:
            items = [int(v) for v in value] if a.type == "list(int)" else [PG_CODES[v] for v in value]
            arr = ((C.c_int64 if a.type == "list(int)" else C.c_int32) * max(len(items), 1))(*items)
            keep.append(arr)
            r.items, r.count = C.cast(arr, C.c_void_p), len(items)
    return records, keep


def run_shape_fn(op_def_ptr, shape_fn_address, spec, attrs, input_shapes):
    """Output shapes (tuples with None for unknown dims, or None for an unknown rank) from the library's
    shape function, or (None, message) when it rejects the inputs."""
    n_in, n_out = len(spec.inputs), len(spec.outputs)
    ranks = (C.c_int32 * max(n_in, 1))()
    dims = (C.c_int64 * (max(n_in, 1) * MAX_RANK))()
    for i, shape in enumerate(input_shapes):
        if shape is None:
            ranks[i] = -1
            continue
        ranks[i] = len(shape)
        for k, d in enumerate(shape):
            dims[i * MAX_RANK + k] = -1 if d is None else d
    out_ranks = (C.c_int32 * max(n_out, 1))(*([-1] * max(n_out, 1)))
    out_dims = (C.c_int64 * (max(n_out, 1) * MAX_RANK))()
    records, keep = attr_records(spec, attrs)
    error = C.create_string_buffer(1024)
    call = PgShapeCall(op_def_ptr, n_in, n_out, len(spec.attrs), ranks, dims, records, out_ranks, out_dims,
                       C.cast(error, C.c_void_p), len(error))
    status = SHAPE_FN(shape_fn_address)(C.byref(call))
    del keep
    if status != 0:
        return None, error.value.decode(errors="replace")
    shapes = []
    for o in range(n_out):
        r = out_ranks[o]
        shapes.append(None if r < 0 else tuple(None if out_dims[o * MAX_RANK + k] < 0 else out_dims[o * MAX_RANK + k]
                                               for k in range(r)))
    return shapes, None
