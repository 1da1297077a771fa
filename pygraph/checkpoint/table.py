"""TF's copy of the LevelDB table (SSTable) format: the `.index` file of a checkpoint.

Layout (tensorflow/core/lib/io/{table_builder.cc, block_builder.cc, format.cc}): data blocks of
prefix-compressed entries (`varint shared | varint non_shared | varint value_len | key suffix | value`,
then fixed32 restart offsets and their count), an empty metaindex block, an index block (one entry per
data block: a separator key -> `varint64 offset | varint64 size`), every block followed by a 5-byte
trailer (compression type 0 | masked CRC32C of block+type), and a 48-byte footer (both handles, zero
padding to 40 bytes, fixed64 magic). The writer mirrors TF's builder decisions (block size, restart
interval, shortest separators) so that our bytes equal TF's for the same entries.
"""

from __future__ import annotations

import struct

from .. import errors
from ..checksums import crc32c, mask, unmask  # noqa: F401 (bundle.py uses them through this module)

MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
_HANDLES_SIZE = 40  # two BlockHandles at their maximum varint length (10 bytes each)
BLOCK_SIZE = 262144
RESTART_INTERVAL = 16
_NO_COMPRESSION = 0


def put_varint(out: bytearray, value: int):
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def get_varint(data, pos, limit, what):
    """(value, next position) of the varint64 at data[pos:limit]."""
    result = shift = 0
    while pos < limit and shift <= 63:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
    raise errors.DataLossError(None, None, f"bad varint in {what}")


class _BlockBuilder:
    def __init__(self, restart_interval):
        self.restart_interval = restart_interval
        self.buffer = bytearray()
        self.restarts = [0]
        self.counter = 0
        self.last_key = b""

    def empty(self):
        return not self.buffer

    def size_estimate(self):
        return len(self.buffer) + 4 * len(self.restarts) + 4

    def add(self, key: bytes, value: bytes):
        shared = 0
        if self.counter < self.restart_interval:
            limit = min(len(key), len(self.last_key))
            while shared < limit and key[shared] == self.last_key[shared]:
                shared += 1
        else:
            self.restarts.append(len(self.buffer))
            self.counter = 0
        for n in (shared, len(key) - shared, len(value)):
            put_varint(self.buffer, n)
        self.buffer += key[shared:]
        self.buffer += value
        self.last_key = key
        self.counter += 1

    def finish(self):
        out = self.buffer + struct.pack(f"<{len(self.restarts) + 1}I", *self.restarts, len(self.restarts))
        self.buffer, self.restarts, self.counter, self.last_key = bytearray(), [0], 0, b""
        return bytes(out)


def _shortest_separator(start: bytes, limit: bytes) -> bytes:
    n = min(len(start), len(limit))
    i = 0
    while i < n and start[i] == limit[i]:
        i += 1
    if i < n and start[i] < 0xFF and start[i] + 1 < limit[i]:
        return start[:i] + bytes([start[i] + 1])
    return start


def _short_successor(key: bytes) -> bytes:
    for i, byte in enumerate(key):
        if byte != 0xFF:
            return key[:i] + bytes([byte + 1])
    return key


def build_table(items) -> bytes:
    """The table bytes for (key, value) pairs given in strictly increasing bytewise key order."""
    out = bytearray()
    data = _BlockBuilder(RESTART_INTERVAL)
    index = _BlockBuilder(1)
    pending = None  # handle of the last flushed data block, indexed once the next key is known
    last_key = None

    def write_block(block):
        contents = block.finish()
        handle = bytearray()
        put_varint(handle, len(out))
        put_varint(handle, len(contents))
        trailer = bytes([_NO_COMPRESSION])
        out.extend(contents)
        out.extend(trailer + struct.pack("<I", mask(crc32c(trailer, crc32c(contents)))))
        return bytes(handle)

    for key, value in items:
        if last_key is not None:
            if key <= last_key:
                raise ValueError(f"table keys must be strictly increasing: {key!r} after {last_key!r}")
            if len(key) + len(value) >= 2 * BLOCK_SIZE and not data.empty():
                pending = write_block(data)
        if pending is not None:
            index.add(_shortest_separator(last_key, key), pending)
            pending = None
        last_key = key
        data.add(key, value)
        if data.size_estimate() >= BLOCK_SIZE:
            pending = write_block(data)
    if not data.empty():
        pending = write_block(data)
    metaindex_handle = write_block(_BlockBuilder(RESTART_INTERVAL))
    if pending is not None:
        index.add(_short_successor(last_key), pending)
    index_handle = write_block(index)
    footer = (metaindex_handle + index_handle).ljust(_HANDLES_SIZE, b"\0") + struct.pack("<Q", MAGIC)
    out.extend(footer)
    return bytes(out)


def _corrupt(path, detail):
    return errors.DataLossError(None, None, f"Unable to read file ({path}). Perhaps the file is corrupt or was "
                                f"produced by a newer version of TensorFlow with format changes ({detail})")


def _read_handle(data, pos, limit, path):
    offset, pos = get_varint(data, pos, limit, f"block handle of {path}")
    size, pos = get_varint(data, pos, limit, f"block handle of {path}")
    return offset, size, pos


def _read_block(data, offset, size, path, what):
    end = offset + size
    if end + 5 > len(data) - FOOTER_SIZE:
        raise _corrupt(path, f"truncated {what} block read")
    if data[end] != _NO_COMPRESSION:
        raise _corrupt(path, f"{what} block: unsupported block type {data[end]}")
    stored = struct.unpack_from("<I", data, end + 1)[0]
    if unmask(stored) != crc32c(memoryview(data)[offset:end + 1]):
        raise _corrupt(path, f"{what} block checksum mismatch")
    return _parse_block(memoryview(data)[offset:end], path, what)


def _parse_block(block, path, what):
    """All (key, value) entries of one block, checked against its restart array."""
    n = len(block)
    if n < 4:
        raise _corrupt(path, f"bad {what} block contents")
    num_restarts = struct.unpack_from("<I", block, n - 4)[0]
    limit = n - 4 - 4 * num_restarts
    if num_restarts == 0 or limit < 0:
        raise _corrupt(path, f"bad {what} block contents")
    restarts = struct.unpack_from(f"<{num_restarts}I", block, limit)
    entries, pos, key, starts = [], 0, b"", []
    while pos < limit:
        starts.append(pos)
        shared, pos = get_varint(block, pos, limit, f"{what} block of {path}")
        non_shared, pos = get_varint(block, pos, limit, f"{what} block of {path}")
        value_len, pos = get_varint(block, pos, limit, f"{what} block of {path}")
        if shared > len(key) or pos + non_shared + value_len > limit:
            raise _corrupt(path, f"bad entry in {what} block")
        key = key[:shared] + bytes(block[pos:pos + non_shared])
        pos += non_shared
        entries.append((key, bytes(block[pos:pos + value_len])))
        pos += value_len
    starts = set(starts) if entries else {0}  # an empty block still has its restart at 0
    if restarts[0] != 0 or any(r not in starts for r in restarts):
        raise _corrupt(path, f"bad restart array in {what} block")
    return entries


def read_table(data: bytes, path="<table>"):
    """All (key, value) pairs of a table file's bytes, verifying every checksum; DataLossError if not."""
    if len(data) < FOOTER_SIZE:
        raise _corrupt(path, "file is too short to be an sstable")
    footer = len(data) - FOOTER_SIZE
    if struct.unpack_from("<Q", data, footer + _HANDLES_SIZE)[0] != MAGIC:
        raise _corrupt(path, "not an sstable (bad magic number)")
    meta_off, meta_size, pos = _read_handle(data, footer, footer + _HANDLES_SIZE, path)
    index_off, index_size, pos = _read_handle(data, pos, footer + _HANDLES_SIZE, path)
    if any(data[pos:footer + _HANDLES_SIZE]):  # TF always writes zero padding
        raise _corrupt(path, "bad footer padding")
    if _read_block(data, meta_off, meta_size, path, "metaindex"):
        raise _corrupt(path, "unexpected metaindex entries")
    entries, previous = [], None
    for separator, handle in _read_block(data, index_off, index_size, path, "index"):
        offset, size, end = _read_handle(handle, 0, len(handle), path)
        if end != len(handle):
            raise _corrupt(path, "bad block handle")
        for key, value in _read_block(data, offset, size, path, "data"):
            if (previous is not None and key <= previous) or key > separator:
                raise _corrupt(path, "keys out of order")
            entries.append((key, value))
            previous = key
    return entries
