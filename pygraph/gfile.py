"""tf.gfile (TF1 names) and tf.io.gfile (TF2 names) on local files (tensorflow/python/platform/gfile.py,
lib/io/file_io.py). GFile in "w"/"wb" mode writes under a temporary name and renames it into place on close,
so a reader never sees half a file; if the `with` block raises, the old file is left as it was."""

from __future__ import annotations

import glob as _glob
import os
import shutil

from . import errors
from .checkpoint.files import temp_output

_MODES = ("r", "rb", "w", "wb")


def _not_found(path, e):
    return errors.NotFoundError(None, None, f"{path}; {e.strerror or 'No such file or directory'}")


class GFile:
    """A local file opened with mode "r", "rb" (read) or "w", "wb" (write, atomically on close)."""

    def __init__(self, name, mode="r"):
        if mode not in _MODES:
            raise errors.InvalidArgumentError(None, None, f"mode {mode!r} not supported by GFile: use one of "
                                              f"{', '.join(_MODES)}")
        self.name, self.mode = os.fspath(name), mode
        self._ctx = None
        if mode.startswith("r"):
            try:
                self._f = open(self.name, mode)  # noqa: SIM115
            except FileNotFoundError as e:
                raise _not_found(self.name, e) from None
        else:
            self._ctx = temp_output(self.name, "wb" if mode == "wb" else "w")
            self._f, self._tmp = self._ctx.__enter__()

    def read(self, n=-1):
        return self._f.read(n)

    def readline(self):
        return self._f.readline()

    def readlines(self):
        return self._f.readlines()

    def __iter__(self):
        return iter(self._f)

    def write(self, data):
        self._f.write(data)

    def flush(self):
        self._f.flush()

    def close(self, _error=None):
        if self._ctx is None:
            self._f.close()
            return
        ctx, self._ctx = self._ctx, None
        if _error is not None:
            ctx.__exit__(type(_error), _error, None)  # removes the temporary file
            return
        ctx.__exit__(None, None, None)
        os.replace(self._tmp, self.name)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(exc)


Open = GFile


def Exists(path):  # noqa: N802
    return os.path.exists(path)


def IsDirectory(path):  # noqa: N802
    return os.path.isdir(path)


def MakeDirs(path):  # noqa: N802
    os.makedirs(path, exist_ok=True)


def Mkdir(path):  # noqa: N802
    os.mkdir(path)


def ListDirectory(path):  # noqa: N802
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError as e:
        raise _not_found(path, e) from None


def Glob(pattern):  # noqa: N802
    return sorted(_glob.glob(os.fspath(pattern)))


def Remove(path):  # noqa: N802
    try:
        os.remove(path)
    except FileNotFoundError as e:
        raise _not_found(path, e) from None


def DeleteRecursively(path):  # noqa: N802
    try:
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    except FileNotFoundError as e:
        raise _not_found(path, e) from None


def Copy(oldpath, newpath, overwrite=False):  # noqa: N802
    if not overwrite and os.path.exists(newpath):
        raise errors.AlreadyExistsError(None, None, f"file already exists: {newpath}")
    with GFile(oldpath, "rb") as src, GFile(newpath, "wb") as dst:
        shutil.copyfileobj(src._f, dst._f)


def Rename(oldname, newname, overwrite=False):  # noqa: N802
    if not overwrite and os.path.exists(newname):
        raise errors.AlreadyExistsError(None, None, f"file already exists: {newname}")
    try:
        os.replace(oldname, newname)
    except FileNotFoundError as e:
        raise _not_found(oldname, e) from None


def Stat(path):  # noqa: N802
    return os.stat(path)


class io:  # noqa: N801 (tf.io.gfile: TF2's names)
    class gfile:  # noqa: N801
        GFile = GFile
        exists, isdir, makedirs, mkdir, listdir = Exists, IsDirectory, MakeDirs, Mkdir, ListDirectory
        glob, remove, rmtree, copy, rename, stat = Glob, Remove, DeleteRecursively, Copy, Rename, Stat
