"""Atomic file writes: write under a temporary name in the same directory, then rename into place.

A reader (or a process restarted after a crash) sees either the old file or the whole new one, never a
partial write. Temporary names follow TF's BundleWriter (`<path>.tempstate<random64>`).
"""

from __future__ import annotations

import contextlib
import os
import secrets


def temp_name(path):
    return f"{path}.tempstate{secrets.randbits(64)}"


@contextlib.contextmanager
def atomic_output(path, mode="wb"):
    """`with atomic_output(path) as f:` writes f under a temporary name and renames it to `path` when the
    block succeeds; on any error the temporary file is removed and `path` is untouched."""
    tmp = temp_name(path)
    try:
        with open(tmp, mode) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def write_atomic(path, data):
    with atomic_output(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
