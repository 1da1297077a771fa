"""TF's V2 tensor bundle: `P.data-00000-of-00001` (tensor bytes back to back) and `P.index` (a table from
tensor name to BundleEntryProto), as written by tensorflow/core/util/tensor_bundle/tensor_bundle.cc.

The data file is renamed into place before the index, and the index is what marks a checkpoint as
present, so a writer killed at any point leaves older checkpoints readable.
"""

from __future__ import annotations

import contextlib
import glob
import os
import sys

import numpy as np

from .. import errors
from . import protos, table
from .files import atomic_output

BUNDLE_VERSION = 1  # kTensorBundleVersion
_CHUNK = 1 << 18  # bytes per write: small enough to stay in cache between copy, CRC and write
MIN_PRODUCER = 0  # kTensorBundleMinProducer


def data_filename(prefix, shard=0, num_shards=1):
    return "%s.data-%05d-of-%05d" % (prefix, shard, num_shards)


def index_filename(prefix):
    return f"{prefix}.index"


def _little_endian(arr):
    if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and sys.byteorder == "big"):
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return np.ascontiguousarray(arr).reshape(-1).view(np.uint8)


def _dt_of(arr):
    if arr.dtype.kind in "OUS":
        return protos.DT_STRING
    for dt, npd in protos.NUMPY_OF_DT.items():
        if npd == arr.dtype.newbyteorder("<") or npd == arr.dtype:
            return dt
    raise TypeError(f"Cannot save an array of dtype {arr.dtype} in a checkpoint.")


def _string_payload(arr):
    """(bytes to write, crc) of a string tensor: varint64 lengths, masked CRC of the lengths, the bytes."""
    items = [v.encode() if isinstance(v, str) else bytes(v) for v in arr.reshape(-1)]
    lengths = bytearray()
    crc = 0
    for item in items:
        table.put_varint(lengths, len(item))
        crc = table.crc32c(len(item).to_bytes(4 if len(item) <= 0xFFFFFFFF else 8, "little"), crc)
    length_crc = table.mask(crc).to_bytes(4, "little")
    crc = table.crc32c(length_crc, crc)
    body = b"".join(items)
    return bytes(lengths) + length_crc + body, table.crc32c(body, crc)


def _write_chunked(f, raw, staging):
    """Write `raw` through a small staging buffer; returns the CRC of exactly the bytes written (the
    source may be a variable that another thread updates meanwhile, as TF's FileOutputBuffer notes),
    computed while each chunk is still in cache."""
    crc = 0
    for start in range(0, raw.size, _CHUNK):
        chunk = staging[:min(_CHUNK, raw.size - start)]
        np.copyto(chunk, raw[start:start + chunk.size])
        crc = table.crc32c(chunk, crc)
        f.write(chunk)
    return crc


def write_bundle(prefix, tensors):
    """Write the checkpoint `prefix` holding `tensors` ({name: ndarray}). Files appear atomically: data
    first, then the index."""
    messages = protos.messages()
    directory = os.path.dirname(prefix)
    if directory:
        os.makedirs(directory, exist_ok=True)
    entries = {}
    staging = np.empty(_CHUNK, np.uint8)
    with atomic_output(data_filename(prefix)) as f:
        offset = 0
        for name in sorted(tensors, key=lambda n: n.encode()):
            arr = np.asarray(tensors[name])
            entry = messages.BundleEntryProto(dtype=_dt_of(arr), shard_id=0, offset=offset)
            entry.shape.SetInParent()  # TF writes an (empty) shape even for scalars
            for d in arr.shape:
                entry.shape.dim.add(size=d)
            if entry.dtype == protos.DT_STRING:
                payload, crc = _string_payload(arr)
                f.write(payload)
            else:
                payload = _little_endian(arr)
                crc = _write_chunked(f, payload, staging)
            entry.size = len(payload)
            entry.crc32c = table.mask(crc)
            offset += len(payload)
            entries[name.encode()] = entry.SerializeToString()
    header = messages.BundleHeaderProto(num_shards=1, endianness=0)
    header.version.producer = BUNDLE_VERSION
    items = [(b"", header.SerializeToString())] + sorted(entries.items())
    with atomic_output(index_filename(prefix)) as f:
        f.write(table.build_table(items))


class BundleReader:
    """Reads tensors from a V2 checkpoint, checking every checksum."""

    def __init__(self, prefix):
        self.prefix = prefix
        path = index_filename(prefix)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise errors.NotFoundError(None, None, f"Unsuccessful TensorSliceReader constructor: Failed to find "
                                       f"any matching files for {prefix}") from None
        items = table.read_table(data, path)
        messages = protos.messages()
        if not items or items[0][0] != b"":
            raise table._corrupt(path, "failed to seek to header entry")
        header = self._parse(messages.BundleHeaderProto, items[0], path)
        if header.endianness != 0:
            raise errors.UnimplementedError(None, None, f"Checkpoint {prefix} is big-endian; only little-endian "
                                            "checkpoints can be read.")
        version = header.version
        if version.producer < MIN_PRODUCER or version.min_consumer > BUNDLE_VERSION or \
                BUNDLE_VERSION in version.bad_consumers:
            raise errors.InvalidArgumentError(
                None, None, f"Checkpoint {prefix} has format version {version.producer} (min consumer "
                f"{version.min_consumer}); this reader supports version {BUNDLE_VERSION}.")
        self.num_shards = header.num_shards
        self.entries = {}
        for item in items[1:]:
            try:
                name = item[0].decode()
            except UnicodeDecodeError:
                raise table._corrupt(path, f"tensor name {item[0]!r} is not UTF-8") from None
            self.entries[name] = self._parse(messages.BundleEntryProto, item, path)
        self._files = {}

    @staticmethod
    def _parse(cls, item, path):
        msg = cls()
        try:
            msg.ParseFromString(item[1])
        except Exception:  # protobuf's DecodeError
            raise errors.DataLossError(None, None, f"Entry for key {item[0].decode(errors='replace')} not "
                                       f"parseable in {path}.") from None
        return msg

    def close(self):
        for f in self._files.values():
            f.close()
        self._files.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def entry(self, name):
        entry = self.entries.get(name)
        if entry is None:
            raise errors.NotFoundError(None, None, f"Key {name} not found in checkpoint {self.prefix}")
        return entry

    @staticmethod
    def shape_of(entry):
        return tuple(d.size for d in entry.shape.dim)

    def read(self, name, out=None):
        """The tensor `name` as a new ndarray (strings as an object array of bytes), or read into `out`
        (a C-contiguous array of its dtype and size), whose contents are undefined if this raises."""
        entry = self.entry(name)
        if entry.slices:
            raise errors.UnimplementedError(None, None, f"Tensor {name} in {self.prefix} is saved as slices of "
                                            "a partitioned variable, which pygraph cannot read.")
        shape = self.shape_of(entry)
        if any(d < 0 for d in shape):
            raise errors.DataLossError(None, None, f"Invalid tensor shape: {name} {shape}")
        f = self._data_file(entry)
        if entry.dtype == protos.DT_STRING:
            return self._read_strings(f, name, entry, shape)
        npd = protos.NUMPY_OF_DT.get(entry.dtype)
        if npd is None:
            raise errors.UnimplementedError(None, None, f"Tensor {name} in {self.prefix} has type "
                                            f"{protos.DT_NAMES.get(entry.dtype, entry.dtype)}, which pygraph "
                                            "cannot read.")
        if out is None:
            out = np.empty(shape, npd.newbyteorder("="))
        elif out.dtype != npd or not out.flags.c_contiguous or out.size != int(np.prod(shape)):
            raise ValueError(f"cannot read {name} ({npd}, {shape}) into an array of {out.dtype}, {out.shape}")
        raw = out.reshape(-1).view(np.uint8)
        if entry.size != raw.nbytes:
            raise errors.DataLossError(None, None, f"Invalid size in bundle entry: key {name}; stored size "
                                       f"{entry.size}; expected size {raw.nbytes}")
        f.seek(entry.offset)
        crc = 0
        for start in range(0, raw.size, _CHUNK):  # CRC each chunk while it is in cache
            chunk = raw[start:start + _CHUNK]
            if f.readinto(chunk) != chunk.size:
                raise errors.DataLossError(None, None, f"TensorBundle at {self.prefix}: data file truncated "
                                           f"reading {name}")
            crc = table.crc32c(chunk, crc)
        self._check_crc(name, entry, crc)
        return out

    def _check_crc(self, name, entry, actual):
        if table.unmask(entry.crc32c) != actual:
            raise errors.DataLossError(
                None, None, f"TensorBundle at {self.prefix} shard {entry.shard_id} ({entry.size} bytes): "
                f"Checksum does not match: stored {table.unmask(entry.crc32c):08d} vs. calculated on the "
                f"restored bytes {actual} (tensor {name})")

    def _read_strings(self, f, name, entry, shape):
        count = int(np.prod(shape))
        f.seek(entry.offset)
        data = f.read(entry.size)
        if len(data) != entry.size:
            raise errors.DataLossError(None, None, f"TensorBundle at {self.prefix}: data file truncated "
                                       f"reading {name}")
        pos, crc, lengths = 0, 0, []
        for _ in range(count):
            n, pos = table.get_varint(data, pos, len(data), f"string lengths of {name}")
            lengths.append(n)
            crc = table.crc32c(n.to_bytes(4 if n <= 0xFFFFFFFF else 8, "little"), crc)
        stored = data[pos:pos + 4]
        if len(stored) != 4 or table.unmask(int.from_bytes(stored, "little")) != crc:
            raise errors.DataLossError(None, None, f"The length checksum of string tensor {name} in "
                                       f"{self.prefix} does not match.")
        crc = table.crc32c(stored, crc)
        pos += 4
        if pos + sum(lengths) != entry.size:
            raise errors.DataLossError(None, None, f"Invalid size in bundle entry: key {name}")
        self._check_crc(name, entry, table.crc32c(data[pos:], crc))
        out = np.empty(count, dtype=object)
        for i, n in enumerate(lengths):
            out[i] = data[pos:pos + n]
            pos += n
        return out.reshape(shape)

    def _data_file(self, entry):
        f = self._files.get(entry.shard_id)
        if f is None:
            path = data_filename(self.prefix, entry.shard_id, self.num_shards)
            try:
                f = self._files[entry.shard_id] = open(path, "rb")
            except FileNotFoundError:
                raise errors.NotFoundError(None, None, f"{path}; No such file or directory") from None
        return f


def bundle_exists(prefix):
    return os.path.isfile(index_filename(prefix))


def delete_bundle(prefix):
    """Remove a checkpoint's files (index first, so that it stops being a checkpoint at once)."""
    data_files = glob.glob(glob.escape(prefix) + ".data-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]")
    for path in [index_filename(prefix)] + sorted(data_files):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
