"""Atomic file writes: write under a temporary name in the same directory, then rename into place.

A reader (or a process restarted after a crash) sees either the old file or the whole new one, never a
partial write. Temporary names follow TF's BundleWriter (`<path>.tempstate<random64>`) and add this host and
process (`.<host>.<pid>`), so that a save can remove the ones a killed save of the same file left behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil

from .. import safe_files

_MARKER = ".tempstate"


def temp_name(path):
    return safe_files.temp_name(f"{path}{_MARKER}")


def sweep_temps(path):
    """Remove the temporary files of `path` (and only those) whose writer has exited or that no one has
    written for an hour: without this, every killed save would leave its bytes on disk for good."""
    return safe_files.sweep_prefix(os.fspath(path), _MARKER)


def remove_quietly(path):
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


@contextlib.contextmanager
def temp_output(path, mode="wb"):
    """`with temp_output(path) as (f, tmp):` writes f under the temporary name `tmp`, which the caller
    renames into place later; on any error in the block the temporary file is removed."""
    sweep_temps(path)
    tmp = temp_name(path)
    try:
        with open(tmp, mode) as f:
            yield f, tmp
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def atomic_output(path, mode="wb"):
    """`with atomic_output(path) as f:` writes f under a temporary name and renames it to `path` when the
    block succeeds; on any error the temporary file is removed and `path` is untouched."""
    with temp_output(path, mode) as (f, tmp):
        yield f
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def write_atomic(path, data):
    with atomic_output(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def snapshot(src, dst):
    """Make `dst` (replaced atomically) hold what `src` holds now: a hard link, which costs nothing and stays
    valid because every writer here replaces files instead of rewriting them, or a copy where the filesystem
    has no hard links."""
    sweep_temps(dst)
    tmp = temp_name(dst)
    try:
        try:
            os.link(src, tmp)
        except FileNotFoundError:
            raise
        except OSError:  # EPERM, ENOTSUP, EMLINK...: no hard link here
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
