"""tf.summary: summary ops and the FileWriter that puts them in TensorBoard event files.

The ops build without the `tensorboard` package; running them or writing files needs it
(pip install pygraph[tensorboard]). The protobuf classes TF1 exposes here (Summary, Event, SessionLog,
...) are tensorboard's and load on first use.
"""

from __future__ import annotations

from ._protos import proto as _proto
from .ops import histogram, merge, merge_all, scalar
from .writer import FileWriter, FileWriterCache

_PROTO_CLASSES = {
    "Summary": ("summary_pb2", "Summary"),
    "SummaryDescription": ("summary_pb2", "SummaryDescription"),
    "HistogramProto": ("histogram_pb2", "HistogramProto"),
    "Event": ("event_pb2", "Event"),
    "SessionLog": ("event_pb2", "SessionLog"),
    "TaggedRunMetadata": ("event_pb2", "TaggedRunMetadata"),
}


def __getattr__(name):
    if name in _PROTO_CLASSES:
        module, cls = _PROTO_CLASSES[name]
        return getattr(_proto(module), cls)
    raise AttributeError(f"module 'pygraph.summary' has no attribute {name!r}")


__all__ = ["scalar", "histogram", "merge", "merge_all", "FileWriter", "FileWriterCache", *_PROTO_CLASSES]
