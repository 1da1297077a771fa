"""Summary ops (tf.summary.scalar / histogram / merge / merge_all).

Each is a "host" op: the compiled kernel computes its numeric inputs and the op itself runs in Python
afterwards, returning a serialized `Summary` protobuf (a string scalar), as TF's summary kernels do.
Names follow TF1: `scalar("MSE", x)` inside `name_scope("loss")` is op `loss/MSE` with tag `loss/MSE`.
"""

from __future__ import annotations

import contextlib
import logging
import re

import numpy as np

from .. import dtypes, errors
from ..graph import GraphKeys, add_to_collection, get_collection, name_scope
from ..ops import registry
from ..ops.core import check_dtype, constant, convert_to_tensor, fmt_shape, make_op
from ._protos import proto
from .histogram import histogram_proto

_log = logging.getLogger("pygraph")
_INVALID_TAG_CHARACTERS = re.compile(r"[^-/\w.]")
_REAL = (dtypes.float32, dtypes.float64, dtypes.int32, dtypes.int64)


def clean_tag(name):
    """TF's summary_op_util.clean_tag: characters outside [-/\\w.] become '_', leading '/' go."""
    if name is not None:
        new_name = _INVALID_TAG_CHARACTERS.sub("_", name).lstrip("/")
        if new_name != name:
            _log.info("Summary name %s is illegal; using %s instead.", name, new_name)
            name = new_name
    return name


@contextlib.contextmanager
def summary_scope(name, family=None, default_name=None, values=None):
    """TF's summary_op_util.summary_scope: yields (tag, scope); the tag is the scope's name."""
    name = clean_tag(name)
    family = clean_tag(family)
    base = name if family is None else f"{family}/{name}"
    with name_scope(base, default_name, values=values) as scope:
        tag = scope.rstrip("/") if family is None else f"{family}/{scope.rstrip('/')}"
        yield tag, scope


def _collect(value, collections, default_collections):
    for key in default_collections if collections is None else collections:
        add_to_collection(key, value)


def _check_real(op_type, values):
    check_dtype("values", values.dtype, _REAL, op_type)


def _text(tag):
    return tag.decode("utf-8", "replace") if isinstance(tag, bytes) else str(tag)


def _debug_shape(shape):
    return "[" + ",".join(str(d) for d in shape) + "]"


# -- builders

def scalar(name, tensor, collections=None, family=None):
    """tf.summary.scalar: a Summary protobuf with one `simple_value` (float32) tagged by the scoped name."""
    with summary_scope(name, family, values=[tensor]) as (tag, scope):
        tags = constant(tag, dtype=dtypes.string, name="tags")
        values = convert_to_tensor(tensor, name="values")
        _check_real("ScalarSummary", values)
        if values.shape.ndims not in (None, 0):
            raise ValueError(f"tags and values are not the same shape: [] != {fmt_shape(values.shape)} (tag "
                             f"'{tag}') for op ScalarSummary '{scope[:-1]}': tf.summary.scalar needs a scalar; "
                             "reduce the tensor first (e.g. tf.reduce_mean).")
        val = make_op("ScalarSummary", [tags, values], [(dtypes.string, ())], scope,
                      {"T": values.dtype}).outputs[0]
    _collect(val, collections, [GraphKeys.SUMMARIES])
    return val


def histogram(name, values, collections=None, family=None):
    """tf.summary.histogram: a Summary protobuf holding a HistogramProto of `values` (any shape)."""
    with summary_scope(name, family, values=[values]) as (tag, scope):
        tags = constant(tag, dtype=dtypes.string, name="tag")
        values = convert_to_tensor(values, name="values")
        _check_real("HistogramSummary", values)
        val = make_op("HistogramSummary", [tags, values], [(dtypes.string, ())], scope,
                      {"T": values.dtype}).outputs[0]
    _collect(val, collections, [GraphKeys.SUMMARIES])
    return val


def merge(inputs, collections=None, name=None):
    """tf.summary.merge: one Summary holding every value of `inputs` (string tensors of Summary protos)."""
    if not isinstance(inputs, (list, tuple)):
        raise TypeError(f"Expected list for 'inputs' argument to 'MergeSummary' Op, not {inputs!r}.")
    if not inputs:
        raise ValueError("List argument 'inputs' to 'MergeSummary' Op with length 0 shorter than minimum "
                         "length 1.")
    with name_scope(name, "Merge", inputs):
        with name_scope(name, "MergeSummary", inputs) as scope:
            tensors = [convert_to_tensor(x, name="inputs") for x in inputs]
            wrong = [t.dtype.name for t in tensors if t.dtype is not dtypes.string]
            if wrong:
                raise TypeError(f"Tensors in list passed to 'inputs' of 'MergeSummary' Op have types "
                                f"[{', '.join(t.dtype.name for t in tensors)}] that do not match expected "
                                "type string.")
            val = make_op("MergeSummary", tensors, [(dtypes.string, ())], scope, {"N": len(tensors)}).outputs[0]
    _collect(val, collections, [])
    return val


def merge_all(key=GraphKeys.SUMMARIES, scope=None, name=None):
    """tf.summary.merge_all: merge every summary in collection `key` (None when there are none)."""
    summary_ops = get_collection(key, scope=scope)
    if not summary_ops:
        return None
    return merge(summary_ops, name=name)


# -- host kernels: (op, *input values) -> serialized Summary bytes

def _scalar_kernel(op, tags, values):
    tags, values = np.asarray(tags, dtype=object), np.asarray(values)
    if tags.shape != values.shape:
        single = f" (tag '{_text(tags.reshape(-1)[0])}')" if tags.size == 1 else ""
        errors.raise_for_op(errors.INVALID_ARGUMENT, op, f"tags and values are not the same shape: "
                            f"{_debug_shape(tags.shape)} != {_debug_shape(values.shape)}{single}")
    summary = proto("summary_pb2").Summary()
    for tag, value in zip(tags.reshape(-1), values.reshape(-1)):
        summary.value.add(tag=_text(tag), simple_value=float(value))
    return summary.SerializeToString()


def _histogram_kernel(op, tag, values):
    tag = np.asarray(tag, dtype=object)
    if tag.ndim != 0:
        errors.raise_for_op(errors.INVALID_ARGUMENT, op, f"tags must be scalar, got shape {_debug_shape(tag.shape)}")
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    bad = ~np.isfinite(flat)
    if bad.any():
        kind = "Nan" if np.isnan(flat[np.argmax(bad)]) else "Infinity"
        errors.raise_for_op(errors.INVALID_ARGUMENT, op, f"{kind} in summary histogram for: {op.name}")
    summary = proto("summary_pb2").Summary()
    summary.value.add(tag=_text(tag[()]), histo=histogram_proto(flat))
    return summary.SerializeToString()


def _merge_kernel(op, *inputs):
    summary_pb2 = proto("summary_pb2")
    merged, seen = summary_pb2.Summary(), set()
    for value in inputs:
        for item in np.asarray(value, dtype=object).reshape(-1):
            part = summary_pb2.Summary()
            try:
                part.ParseFromString(bytes(item))
            except Exception:  # noqa: BLE001 (protobuf's DecodeError and TypeError for non-bytes)
                errors.raise_for_op(errors.INVALID_ARGUMENT, op, "Could not parse one of the summary inputs")
            for v in part.value:
                if v.tag and v.tag in seen:
                    errors.raise_for_op(errors.INVALID_ARGUMENT, op,
                                        f"Duplicate tag {v.tag} found in summary inputs ")
                seen.add(v.tag)
                merged.value.append(v)
    return merged.SerializeToString()


registry.register("ScalarSummary", registry.HOST, numpy=_scalar_kernel, attrs={"T": "type"})
registry.register("HistogramSummary", registry.HOST, numpy=_histogram_kernel, attrs={"T": "type"})
registry.register("MergeSummary", registry.HOST, numpy=_merge_kernel, attrs={"N": "int"})
registry.NotDifferentiable("ScalarSummary")
registry.NotDifferentiable("HistogramSummary")
registry.NotDifferentiable("MergeSummary")

__all__ = ["scalar", "histogram", "merge", "merge_all"]
