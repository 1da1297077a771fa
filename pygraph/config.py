"""Every environment variable pygraph reads, in one place.

PYGRAPH_CACHE_DIR    compiled-module cache (default $XDG_CACHE_HOME/pygraph, else ~/.cache/pygraph)
PYGRAPH_DEBUG        0 quiet; 1 kernels per compiled program; 2 + generated source; 3 + compiler commands
PYGRAPH_CXX          C++ compiler (default $CXX, else c++)
PYGRAPH_CXXFLAGS     extra flags appended to the compile command
PYGRAPH_NUM_THREADS  threads for parallel loops (default: all cores)
PYGRAPH_SANITIZE     build generated kernels with sanitizers: "address", "undefined" or "address,undefined";
                     run under `python -m pygraph.sanitize` (it preloads the sanitizer runtime)
"""

from __future__ import annotations

import os


def cache_dir():
    explicit = os.environ.get("PYGRAPH_CACHE_DIR")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pygraph")


def debug_level():
    try:
        return int(os.environ.get("PYGRAPH_DEBUG", "0") or 0)
    except ValueError:
        return 1


def compiler():
    return os.environ.get("PYGRAPH_CXX") or os.environ.get("CXX") or "c++"


def extra_cxxflags():
    """Flags appended to every kernel compile (they are part of the cache keys)."""
    return os.environ.get("PYGRAPH_CXXFLAGS", "").split() + sanitizer_cxxflags()


SANITIZERS = ("address", "undefined")


def sanitizers():
    """The sanitizers named in PYGRAPH_SANITIZE, in a canonical order (so the cache key is stable)."""
    value = os.environ.get("PYGRAPH_SANITIZE", "")
    names = {n.strip() for n in value.split(",") if n.strip()}
    unknown = sorted(names - set(SANITIZERS))
    if unknown:
        raise ValueError(f"PYGRAPH_SANITIZE={value!r} names unknown sanitizer(s) {', '.join(unknown)}: use "
                         "'address', 'undefined' or 'address,undefined'.")
    return [n for n in SANITIZERS if n in names]


def sanitizer_cxxflags():
    names = sanitizers()
    if not names:
        return []
    return [f"-fsanitize={','.join(names)}", "-fno-omit-frame-pointer", "-g"]


def num_threads():
    value = os.environ.get("PYGRAPH_NUM_THREADS")
    if value:
        return max(1, int(value))
    return os.cpu_count() or 1
