"""tf.summary.FileWriter: summaries, graphs and session logs into a TensorBoard event file."""

from __future__ import annotations

import os
import threading
import time
import warnings

from ..graph import Graph
from ._protos import proto
from .event_file import EventFile


class FileWriter:
    """TF1's tf.summary.FileWriter: writes TensorBoard event files into `logdir` (created if needed).

    `FileWriter(logdir, graph)` also records the graph for TensorBoard's Graphs tab (with name scopes);
    `add_summary(sess.run(summary_op), step)` adds scalars and histograms. Events are queued and written by
    a background thread (add_summary returns at once; `max_queue` events or `flush_secs` seconds trigger a
    write); `flush()` and `close()` return when everything added before them is on disk. Needs the
    `tensorboard` extra (`pip install 'pygraph[tensorboard]'`) for its protobuf messages. View the logs with
    `tensorboard --logdir <logdir>`.
    """

    def __init__(self, logdir, graph=None, max_queue=10, flush_secs=120, graph_def=None, filename_suffix=None,
                 session=None):
        # `session` picks TF's summary-writer-resource implementation; the files are the same, so it is unused
        self._event_pb2 = proto("event_pb2")
        self._summary_pb2 = proto("summary_pb2")
        self._logdir = os.fspath(logdir)
        self._max_queue, self._flush_secs = max_queue, flush_secs
        self._suffix = filename_suffix or ""
        self._seen_summary_tags = set()
        self._lock = threading.Lock()
        self._events = EventFile(self._logdir, max_queue, flush_secs, self._suffix, self._strip_repeated_metadata)
        self._closed = False
        if graph is not None or graph_def is not None:
            self.add_graph(graph=graph, graph_def=graph_def)
            graph_proto = graph_def if graph_def is not None else (
                graph if not isinstance(graph, Graph) else None)
            if graph_proto is None:
                from ..graph_def import graph_to_graph_def

                graph_proto = graph_to_graph_def(graph, add_shapes=True, elide=True)
            # TF also writes the graph inside a MetaGraphDef (tensorboard's class: graph_proto may be pygraph's)
            meta = proto("meta_graph_pb2").MetaGraphDef()
            meta.graph_def.ParseFromString(graph_proto.SerializeToString())
            self.add_meta_graph(meta)

    # -- adding
    def add_summary(self, summary, global_step=None):
        """Add a Summary (its serialized bytes, as Session.run returns them, or the proto) at `global_step`."""
        if self._closed:
            return self._warn_closed()
        event = self._event_pb2.Event(wall_time=time.time())
        if isinstance(summary, (bytes, bytearray, memoryview)):
            event.summary.ParseFromString(bytes(summary))  # parsing here reports bad bytes to the caller
        elif isinstance(summary, self._summary_pb2.Summary):
            event.summary.CopyFrom(summary)
        else:
            raise TypeError(f"add_summary expects a Summary protobuf or its serialized bytes (what running a "
                            f"summary op returns), got {type(summary).__name__}.")
        if global_step is not None:
            event.step = int(global_step)
        self._events.put(event)  # the writer thread strips repeated metadata, serializes and writes

    def _strip_repeated_metadata(self, event):
        """Like TF, keep plugin metadata only on the first value of each tag (runs on the writer thread)."""
        for value in event.summary.value:
            if value.HasField("metadata"):
                if value.tag in self._seen_summary_tags:
                    value.ClearField("metadata")
                else:
                    self._seen_summary_tags.add(value.tag)
        return event

    def add_graph(self, graph, global_step=None, graph_def=None):
        """Add a Graph (exported with shapes) or a GraphDef proto for TensorBoard's Graphs tab."""
        if graph is not None and graph_def is not None:
            raise ValueError("Please pass only graph, or graph_def (deprecated), but not both.")
        from ..graph_def import graph_to_graph_def
        from ..graph_protos import is_graph_def

        if isinstance(graph, Graph) or isinstance(graph_def, Graph):
            true_graph_def = graph_to_graph_def(graph if isinstance(graph, Graph) else graph_def, add_shapes=True,
                                                elide=True)  # TensorBoard needs no large constants' contents
        elif is_graph_def(graph) or is_graph_def(graph_def):
            true_graph_def = graph if is_graph_def(graph) else graph_def
        else:
            raise TypeError("The passed graph must be an instance of `Graph` or the deprecated `GraphDef`")
        self._add_event(self._event_pb2.Event(graph_def=true_graph_def.SerializeToString()), global_step)

    def add_meta_graph(self, meta_graph_def, global_step=None):
        if not isinstance(meta_graph_def, proto("meta_graph_pb2").MetaGraphDef):
            raise TypeError(f"meta_graph_def must be type MetaGraphDef, saw type: {type(meta_graph_def)}")
        self._add_event(self._event_pb2.Event(meta_graph_def=meta_graph_def.SerializeToString()), global_step)

    def add_session_log(self, session_log, global_step=None):
        """Add a SessionLog proto (e.g. SessionLog(status=SessionLog.START) after a restart)."""
        self._add_event(self._event_pb2.Event(session_log=session_log), global_step)

    def add_event(self, event):
        """Add an Event proto as it is (its wall_time and step are not touched)."""
        if not isinstance(event, self._event_pb2.Event):
            raise TypeError(f"Expected an event_pb2.Event proto, but got {type(event)}")
        if self._closed:
            return self._warn_closed()
        self._events.put(event.SerializeToString())

    def _add_event(self, event, step):
        if self._closed:
            return self._warn_closed()
        event.wall_time = time.time()
        if step is not None:
            event.step = int(step)
        self._events.put(event.SerializeToString())

    # -- lifecycle
    def get_logdir(self):
        return self._logdir

    @property
    def event_file_path(self):
        """The file events currently go to."""
        return self._events.path

    def flush(self):
        """Write every event added so far to disk."""
        if not self._closed:
            self._events.flush()

    def close(self):
        """Flush and close the event file; later adds are ignored (with a warning) until reopen()."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._events.close()

    def reopen(self):
        """After close(): continue in a new event file in the same directory. Does nothing if open."""
        with self._lock:
            if self._closed:
                self._events = EventFile(self._logdir, self._max_queue, self._flush_secs, self._suffix,
                                         self._strip_repeated_metadata)
                self._closed = False

    def _warn_closed(self):
        warnings.warn("Attempting to use a closed FileWriter. The operation will be a noop unless the "
                      "FileWriter is explicitly reopened.", stacklevel=3)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        events = getattr(self, "_events", None)
        if events is not None and not getattr(self, "_closed", True):
            events.close(wait=False)  # the writer thread flushes and closes the file by itself


class FileWriterCache:
    """tf.summary.FileWriterCache: one FileWriter per logdir."""

    _cache = {}
    _lock = threading.RLock()

    @staticmethod
    def get(logdir):
        with FileWriterCache._lock:
            writer = FileWriterCache._cache.get(logdir)
            if writer is None:
                from ..graph import get_default_graph

                writer = FileWriterCache._cache[logdir] = FileWriter(logdir, graph=get_default_graph())
            return writer

    @staticmethod
    def clear():
        with FileWriterCache._lock:
            for writer in FileWriterCache._cache.values():
                writer.close()
            FileWriterCache._cache.clear()
