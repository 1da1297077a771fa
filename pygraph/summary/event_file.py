"""One TensorBoard event file, appended to by a background thread (TF's EventFileWriter + EventsWriter).

File name `events.out.tfevents.<10-digit unix time>.<hostname><suffix>` as TF's C++ EventsWriter; if that
file exists already (two writers in one second) the name gets `.<pid>.<n>` before the suffix, as the
tensorboard package's writer names its files, instead of truncating the other file as TF would.
Records are TFRecord-framed: uint64 length, masked CRC32C of it, the serialized Event, masked CRC32C of it.
"""

from __future__ import annotations

import atexit
import itertools
import os
import socket
import struct
import threading
import time
import weakref

from ..checksums import masked_crc32c
from ._protos import proto

_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")
_file_counter = itertools.count(1)
# producers block only when this many events wait (memory bound); `max_queue` only sets when to write
_BACKLOG_LIMIT = 65536
_open_files = weakref.WeakSet()


@atexit.register
def _close_open_files():
    """Events still queued at interpreter exit reach the disk (the writer threads are daemons)."""
    for events in list(_open_files):
        try:
            events.close()
        except OSError:
            pass


def frame(data):
    """One TFRecord: the bytes to append for the serialized record `data`."""
    header = _LENGTH.pack(len(data))
    return header + _CRC.pack(masked_crc32c(header)) + data + _CRC.pack(masked_crc32c(data))


def _create(logdir, suffix):
    base = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}"
    path = os.path.join(logdir, base + suffix)
    for _ in range(100):
        try:
            return path, open(path, "xb")  # noqa: SIM115 (closed by the writer thread)
        except FileExistsError:
            path = os.path.join(logdir, f"{base}.{os.getpid()}.{next(_file_counter)}{suffix}")
    raise FileExistsError(f"Could not create a new event file in {logdir} (last tried {path}).")


class EventFile:
    """An open event file and the thread that writes to it.

    `put(item)` queues an `Event` (or its serialized bytes) and returns at once. The thread passes Events
    through `prepare` (if given), serializes, frames and appends the queued events once `max_queue` are
    waiting, every `flush_secs`, and on flush()/close(), which return when everything queued before them
    is on disk.
    """

    def __init__(self, logdir, max_queue=10, flush_secs=120, filename_suffix="", prepare=None):
        event_pb2 = proto("event_pb2")
        os.makedirs(logdir, exist_ok=True)
        self.path, self._file = _create(logdir, filename_suffix)
        first = event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2")
        self._file.write(frame(first.SerializeToString()))
        self._file.flush()
        self._prepare = prepare
        self._max_queue = max(1, int(max_queue))
        self._flush_secs = float(flush_secs)
        self._cond = threading.Condition(threading.Lock())
        self._pending = []
        self._queued = 0  # events ever put
        self._flushed = 0  # events on disk
        self._flush_target = 0  # a flush() waits for the events up to this count
        self._closing = False
        self._error = None
        self._thread = threading.Thread(target=self._run, name="pygraph-event-writer", daemon=True)
        self._thread.start()
        _open_files.add(self)

    # -- caller side
    def put(self, item):
        with self._cond:
            if self._error is not None:
                raise self._error
            self._pending.append(item)
            self._queued += 1
            n = len(self._pending)
            if n >= self._max_queue:
                self._cond.notify_all()
                while len(self._pending) >= _BACKLOG_LIMIT and self._error is None:
                    self._cond.wait()

    def flush(self):
        with self._cond:
            self._flush_target = self._queued
            self._cond.notify_all()
            while self._flushed < self._flush_target and self._error is None and self._thread.is_alive():
                self._cond.wait()
            if self._error is not None:
                raise self._error

    def close(self, wait=True):
        with self._cond:
            self._closing = True
            self._flush_target = self._queued
            self._cond.notify_all()
        _open_files.discard(self)
        if not wait:
            return
        self._thread.join()
        if self._error is not None:
            raise self._error

    # -- writer thread
    def _serialize(self, event):
        if self._prepare is not None:
            event = self._prepare(event)
        return event.SerializeToString()

    def _run(self):
        next_flush = time.monotonic() + self._flush_secs
        dirty = False
        try:
            while True:
                with self._cond:
                    while True:
                        now = time.monotonic()
                        flush = self._closing or self._flush_target > self._flushed or now >= next_flush
                        if flush or len(self._pending) >= self._max_queue:
                            break
                        self._cond.wait(next_flush - now)
                    batch, self._pending = self._pending, []
                    upto, closing = self._queued, self._closing
                    self._cond.notify_all()  # producers waiting for room
                out = [frame(item if isinstance(item, bytes) else self._serialize(item)) for item in batch]
                if out:
                    self._file.write(b"".join(out))
                    dirty = True
                if flush:
                    if dirty:
                        self._file.flush()
                        os.fsync(self._file.fileno())
                        dirty = False
                    next_flush = time.monotonic() + self._flush_secs
                    with self._cond:
                        self._flushed = upto
                        self._cond.notify_all()
                if closing:
                    break
        except BaseException as e:  # disk full, permissions...: surfaced by the next put/flush/close
            with self._cond:
                self._error = OSError(f"Writing event file {self.path} failed: {e}")
                self._error.__cause__ = e
                self._cond.notify_all()
        finally:
            self._file.close()
