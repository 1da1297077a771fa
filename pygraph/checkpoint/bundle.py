"""TF's V2 tensor bundle: `P.data-00000-of-00001` (tensor bytes back to back) and `P.index` (a table from
tensor name to BundleEntryProto), as written by tensorflow/core/util/tensor_bundle/tensor_bundle.cc.

Crash safety. The index marks a checkpoint as present and both files are renamed into place, data first,
so a writer killed at any point leaves checkpoints of other prefixes readable. Saving again to the SAME
prefix (a training loop saving `model.ckpt` every N epochs) replaces two files whose names TF fixes, and no
rename covers both; a kill between the two renames would leave new data beside the old index. So before
the renames an overwrite keeps the current pair as `P.data-00000-of-00001.prev` + `P.index.prev` (hard
links), and removes them once the new index is in place. A reader that finds `P.index.prev` knows a save
of P did not finish (or is running): it uses the current pair only if every tensor's bytes check out, and
otherwise the `.prev` pair, with a warning. Invariant: whenever the current pair may be inconsistent,
`P.index.prev` exists and names a whole pair (the writer never overwrites a whole `.prev` pair with an
inconsistent current one).
"""

from __future__ import annotations

import glob
import os
import sys
import warnings

import numpy as np

from .. import errors
from . import protos, table
from .files import remove_quietly, snapshot, temp_output

BUNDLE_VERSION = 1  # kTensorBundleVersion
_CHUNK = 1 << 18  # bytes per write: small enough to stay in cache between copy, CRC and write
MIN_PRODUCER = 0  # kTensorBundleMinProducer
PREVIOUS = ".prev"  # suffix of the pair kept while a save overwrites a checkpoint
_DATA_GLOB = ".data-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]"


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
    """Write the checkpoint `prefix` holding `tensors` ({name: ndarray}): both files under temporary names,
    then into place (see the module docstring for why an overwrite keeps a `.prev` pair meanwhile)."""
    messages = protos.messages()
    directory = os.path.dirname(prefix)
    if directory:
        os.makedirs(directory, exist_ok=True)
    entries = {}
    staging = np.empty(_CHUNK, np.uint8)
    with temp_output(data_filename(prefix)) as (f, data_tmp):
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
    try:
        header = messages.BundleHeaderProto(num_shards=1, endianness=0)
        header.version.producer = BUNDLE_VERSION
        items = [(b"", header.SerializeToString())] + sorted(entries.items())
        with temp_output(index_filename(prefix)) as (f, index_tmp):
            f.write(table.build_table(items))
        try:
            _install(prefix, data_tmp, index_tmp)
        except BaseException:
            remove_quietly(index_tmp)
            raise
    except BaseException:
        remove_quietly(data_tmp)
        raise


def _data_files(prefix, suffix=""):
    return sorted(glob.glob(glob.escape(prefix) + _DATA_GLOB + suffix))


def _install(prefix, data_tmp, index_tmp):
    """Rename the new files into place. Keep the current pair as `.prev` first unless it is not whole, in
    which case the `.prev` pair that an earlier, killed save kept is the one to keep. Without `P.index.prev`
    the current pair is whole (see the module docstring), so checking it is needed only with one."""
    index = index_filename(prefix)
    if os.path.exists(index) and (not os.path.exists(index + PREVIOUS) or _is_whole(prefix)):
        for path in _data_files(prefix) + [index]:
            snapshot(path, path + PREVIOUS)
    os.replace(data_tmp, data_filename(prefix))
    os.replace(index_tmp, index)
    remove_previous(prefix)


def _is_whole(prefix):
    """Whether the current pair of `prefix` is consistent (every tensor's bytes present, checksums right)."""
    try:
        with BundleReader(prefix, fallback=False) as reader:
            reader.verify()
    except errors.OpError:
        return False
    return True


def remove_previous(prefix):
    """Remove the `.prev` pair of `prefix`, the index first (it is what vouches for the pair)."""
    for path in [index_filename(prefix) + PREVIOUS] + _data_files(prefix, PREVIOUS):
        remove_quietly(path)


def _user_stacklevel():
    """The stacklevel that makes a warning raised by our caller name the innermost frame outside pygraph."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level


class BundleReader:
    """Reads tensors from a V2 checkpoint, checking every checksum. When a save of the prefix did not finish
    (`P.index.prev` exists) it checks the whole current pair first and, if that is inconsistent, reads the
    `.prev` pair instead, with a warning; `fallback=False` reads the current pair as it is."""

    def __init__(self, prefix, fallback=True):
        self.prefix = prefix
        self._suffix = ""
        self._files = {}
        index = index_filename(prefix)
        if not (fallback and os.path.exists(index + PREVIOUS) and os.path.exists(index)):
            self._load_index()
            return
        try:
            self._load_index()
            self.verify()
        except (errors.DataLossError, errors.NotFoundError) as current_error:
            self.close()
            self._suffix = PREVIOUS
            try:
                self._load_index()
                self.verify()
            except errors.OpError:
                self.close()
                raise current_error from None
            warnings.warn(f"The last save of checkpoint {prefix} was interrupted before it finished, so its files "
                          f"do not match ({current_error.message}). Using the previous checkpoint saved there, "
                          f"kept as {index}{PREVIOUS} and {data_filename(prefix)}{PREVIOUS}, instead.",
                          stacklevel=_user_stacklevel())

    def _load_index(self):
        prefix = self.prefix
        path = index_filename(prefix) + self._suffix
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

    def verify(self):
        """Read every tensor's bytes and check its checksum; DataLossError at the first that is missing or
        differs (the data file does not belong to the index)."""
        staging = np.empty(_CHUNK, np.uint8)
        for name, entry in self.entries.items():
            if entry.slices:  # the slices are entries of their own
                continue
            f = self._data_file(entry)
            if entry.dtype == protos.DT_STRING:
                self._read_strings(f, name, entry, self.shape_of(entry))
                continue
            f.seek(entry.offset)
            crc, left = 0, entry.size
            while left:
                got = f.readinto(staging[:min(_CHUNK, left)])
                if not got:
                    raise errors.DataLossError(None, None, f"TensorBundle at {self.prefix}: data file truncated "
                                               f"reading {name}")
                crc = table.crc32c(staging[:got], crc)
                left -= got
            self._check_crc(name, entry, crc)

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
            path = data_filename(self.prefix, entry.shard_id, self.num_shards) + self._suffix
            try:
                f = self._files[entry.shard_id] = open(path, "rb")
            except FileNotFoundError:
                raise errors.NotFoundError(None, None, f"{path}; No such file or directory") from None
        return f


def bundle_exists(prefix):
    return os.path.isfile(index_filename(prefix))


def delete_bundle(prefix):
    """Remove a checkpoint's files (index first, so that it stops being a checkpoint at once), the `.prev`
    pair of an unfinished overwrite, and temporary files that killed saves left."""
    remove_quietly(index_filename(prefix))
    for path in _data_files(prefix):
        remove_quietly(path)
    remove_previous(prefix)
    escaped = glob.escape(prefix)
    for pattern in (".index", _DATA_GLOB):
        for suffix in ("", PREVIOUS):
            for path in glob.glob(escaped + pattern + suffix + ".tempstate[0-9]*"):
                remove_quietly(path)
