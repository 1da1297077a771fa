"""Jinja's compiled templates, kept in the private cache directory with the module cache's safeguards."""

from __future__ import annotations

import io
import os

import jinja2

from .. import safe_files
from . import toolchain

_LIMIT = 64 << 20  # far above any compiled template; a larger file is damage


class PrivateBytecodeCache(jinja2.FileSystemBytecodeCache):
    """Reads only trusted files (regular, ours, not writable by others, no symlink, never blocking on a
    FIFO) and writes through toolchain.write_atomic: temporary names that a later sweep can attribute."""

    def __init__(self, path):
        self.path = path
        super().__init__(str(path))

    def load_bytecode(self, bucket):
        data = safe_files.read_private(self._get_cache_filename(bucket), _LIMIT)
        if data is not None:
            bucket.load_bytecode(io.BytesIO(data))

    def dump_bytecode(self, bucket):
        out = io.BytesIO()
        bucket.write_bytecode(out)
        toolchain.write_atomic(self.path / os.path.basename(self._get_cache_filename(bucket)), out.getvalue())
