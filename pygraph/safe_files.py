"""Files pygraph keeps for itself: opened only when they are what they claim to be, written under temporary
names that say which process writes them, and swept once that process is gone.

A cache entry is trusted only as a regular file owned by this user that no one else may write, opened
without following a symlink and without blocking (a FIFO planted in its place would hang a plain open).
Anything else found under an entry's name is removed, so the caller rebuilds the entry.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import os
import re
import secrets
import shutil
import socket
import stat
import time

# A temporary file untouched this long is stale even when its writer cannot be checked (another host, or a
# pid reused since); compiles stop long before (PYGRAPH_COMPILE_TIMEOUT).
STALE_AFTER_S = 3600

_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_TAG = re.compile(r"\d+\.([0-9a-f]{8})\.(\d+)$")


def temp_name(prefix):
    """`prefix` + a unique tag naming this host and process: `<prefix><random>.<host>.<pid>`."""
    return f"{prefix}{secrets.randbits(64)}.{_HOST}.{os.getpid()}"


def is_stale(name, st):
    """Whether the temporary file `name` (its lstat `st`) can go: its writer on this host has exited, or no
    one has written it for STALE_AFTER_S (names without a tag, from older versions, go by age only)."""
    if time.time() - st.st_mtime > STALE_AFTER_S:
        return True
    tag = _TAG.search(name)
    if tag is None or tag.group(1) != _HOST:
        return False
    pid = int(tag.group(2))
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


def sweep(paths):
    """Remove the stale temporary files among `paths`; returns the bytes freed."""
    freed = 0
    for path in paths:
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if is_stale(os.path.basename(path), st):
            freed += st.st_size
            discard(path)
    return freed


def sweep_prefix(prefix, marker):
    """Sweep the temporary files `<prefix><marker><digits>...` beside `prefix` (and no other file)."""
    return sweep(glob.glob(glob.escape(prefix) + marker + "[0-9]*"))


def trusted(st):
    """Whether `st` is a regular file of this user's that others cannot write."""
    return (stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid()
            and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


# open() errors that say the name holds something other than a readable regular file: a symlink (O_NOFOLLOW),
# a socket, a file this user may not read
_NOT_A_FILE_OF_OURS = {errno.ELOOP, errno.ENXIO, errno.EACCES, errno.EPERM}


def open_private(path, mode=None):
    """A binary file object for `path` if it is trusted (see `trusted`), else None: when missing, or after
    removing whatever untrusted thing was there (a symlink, directory, FIFO, another user's file...).
    `mode`: first set this file mode (for a file this process just had a compiler write)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        if e.errno in _NOT_A_FILE_OF_OURS:  # not for EMFILE or EIO: a healthy entry must survive those
            discard(path)
        return None
    try:
        if mode is not None and stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, mode)
        ok = trusted(os.fstat(fd))
    except OSError:
        ok = False
    if not ok:
        os.close(fd)
        discard(path)
        return None
    return os.fdopen(fd, "rb")


def read_private(path, limit):
    """The bytes of a trusted file `path` (None when missing or untrusted); a file larger than `limit` bytes
    is damaged: removed, None."""
    f = open_private(path)
    if f is None:
        return None
    with f:
        data = f.read(limit + 1)
    if len(data) > limit:
        discard(path)
        return None
    return data


def discard(path):
    """Remove whatever `path` names, never following a symlink. A directory is first renamed aside under a
    temporary name (so the name is free at once, and a sweep finishes the job if this process dies)."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    with contextlib.suppress(OSError):
        if stat.S_ISDIR(st.st_mode):
            head, tail = os.path.split(os.fspath(path))
            aside = os.path.join(head, temp_name(f".{tail}.tmp"))
            os.rename(path, aside)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.unlink(path)


def private_dir(path):
    """Make `path` a directory of this user's that others cannot write (0700), replacing anything else
    found there: a symlink, a file, a FIFO, a directory others could write into or another user's."""
    for _ in range(3):
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            with contextlib.suppress(FileExistsError):
                os.mkdir(path, 0o700)
            continue
        if (stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid()
                and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
            return path
        discard(path)
    raise PermissionError(f"cannot make {path} a private directory: something else keeps replacing it")
