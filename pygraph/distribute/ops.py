"""The collective ops: PgAllreduce (a bucket of tensors summed or averaged over ranks), PgBroadcast and
PgAllgather. They compile into the step like any op (codegen/structured/collective.py) and call the host's
collective engine there.

Each op carries `key` (a hash of its name: ranks that built the same graph agree on it) and `signature` (a
hash of its kind, tensor names, dtypes and shapes). The engine compares both across ranks the first time
a key runs; DESCRIPTIONS maps a signature back to text, so a mismatch error names what differs."""

from __future__ import annotations

import hashlib

from .. import dtypes
from ..ops import registry
from ..ops.attr_schema import AttrError
from ..ops.core import convert_to_tensor, make_op
from ..ops.registry import RegisterGradient

SUPPORTED = (dtypes.float32, dtypes.float64, dtypes.int32, dtypes.int64)
DESCRIPTIONS: dict[int, str] = {}  # signature -> "allreduce of [w:0 float32 (3, 1)], ..."



def _check_bucket(attrs, inputs, outputs):
    if attrs["N"] != len(inputs) or not inputs:
        raise AttrError(f"N = {attrs['N']} but the bucket has {len(inputs)} input(s)")
    for t, (dtype, shape) in zip(inputs, outputs):
        if t.dtype is not attrs["T"] or dtype is not attrs["T"] or not shape.is_compatible_with(t.shape):
            raise AttrError(f"input {t.name} ({t.dtype.name}) and its output must have dtype T = {attrs['T'].name} "
                            "and the same shape")


def _check_gather(attrs, inputs, outputs):
    if len(inputs) != 1 or inputs[0].dtype is not attrs["T"] or attrs["size"] < 1:
        raise AttrError("PgAllgather takes one tensor of dtype T and size >= 1")


registry.register("PgAllreduce", registry.STRUCTURED, stateful=True, check=_check_bucket,
                  attrs={"key": "int", "signature": "int", "average": "bool", "fp16": "?bool", "N": "int",
                         "T": "type"})
registry.register("PgBroadcast", registry.STRUCTURED, stateful=True, check=_check_bucket,
                  attrs={"key": "int", "signature": "int", "root": "int", "N": "int", "T": "type"})
registry.register("PgAllgather", registry.STRUCTURED, stateful=True, check=_check_gather,
                  attrs={"key": "int", "signature": "int", "size": "int", "T": "type"})


def _hash63(text):
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def _describe(kind, tensors, any_rows=False):
    """Text naming the tensors; any_rows: their first dimension may differ across ranks (not compared)."""
    def shape(t):
        if t.shape.ndims is None:
            return "?"
        dims = t.shape.as_list()
        return str(["rows", *dims[1:]] if any_rows else dims).replace("'", "")
    parts = [f"{t.name} {t.dtype.name} {shape(t)}" for t in tensors]
    return f"{kind} of [" + ", ".join(parts) + "]"


def _check(tensors, what):
    if not tensors:
        raise ValueError(f"{what} needs at least one tensor")
    dtype = tensors[0].dtype
    for t in tensors:
        if t.dtype not in SUPPORTED:
            raise TypeError(f"{what}: tensor {t.name} has dtype {t.dtype.name}; pygraph.distribute reduces "
                            f"{', '.join(d.name for d in SUPPORTED)}")
        if t.dtype is not dtype:
            raise TypeError(f"{what}: one bucket holds one dtype, got {dtype.name} ({tensors[0].name}) and "
                            f"{t.dtype.name} ({t.name})")
    return dtype


def _collective(op_type, kind, tensors, name, attrs, output_specs=None, any_rows=False):
    tensors = [convert_to_tensor(t) for t in tensors]
    dtype = _check(tensors, kind)
    description = _describe(kind, tensors, any_rows) + "".join(f" {k}={v}" for k, v in sorted(attrs.items()))
    signature = _hash63(description)
    specs = output_specs or [(t.dtype, t.shape) for t in tensors]
    op = make_op(op_type, tensors, specs, name, {"key": 0, "signature": signature, "T": dtype, **attrs})
    op.attrs["key"] = _hash63(op.name)  # the unique name is known only now; an int, as declared
    DESCRIPTIONS[signature] = description
    return op.outputs


def grouped_allreduce(tensors, average, name="HorovodAllreduce", fp16=False):
    """One PgAllreduce over `tensors` (one dtype): every rank's values summed, or averaged. The engine
    divides by the number of ranks at run time, so the compiled program is the same at every size."""
    if average and any(t.dtype.is_integer for t in map(convert_to_tensor, tensors)):
        raise TypeError("pygraph.distribute averages floating-point tensors only; use op=Sum for integers")
    if fp16 and any(not t.dtype.is_floating for t in map(convert_to_tensor, tensors)):
        raise TypeError("Compression.fp16 compresses floating-point tensors only")
    return _collective("PgAllreduce", "allreduce", tensors, name,
                       {"average": bool(average), "fp16": bool(fp16), "N": len(tensors)})


def grouped_broadcast(tensors, root_rank, name="HorovodBroadcast"):
    return _collective("PgBroadcast", "broadcast", tensors, name, {"root": int(root_rank), "N": len(tensors)})


def allgather_op(tensor, size, name="HorovodAllgather"):
    t = convert_to_tensor(tensor)
    if t.shape.ndims == 0:
        raise ValueError(f"allgather needs a tensor of rank >= 1, got scalar {t.name}")
    shape = t.shape.as_list() if t.shape.ndims is not None else None
    out_shape = None if shape is None else [None] + shape[1:]  # the other ranks' first dimensions are unknown
    return _collective("PgAllgather", "allgather", [t], name, {"size": int(size)},
                       output_specs=[(t.dtype, out_shape)], any_rows=True)[0]


@RegisterGradient("PgAllreduce")
def _allreduce_grad(op, *grads):
    # d(sum_r x_r)/dx_r is the identity on every rank: the gradient is the same reduction of the gradients
    return grouped_allreduce(list(grads), op.attrs["average"], name=op.name + "_grad",
                             fp16=bool(op.attrs.get("fp16")))


registry.NotDifferentiable("PgBroadcast")
registry.NotDifferentiable("PgAllgather")
