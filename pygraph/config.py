"""Every environment variable pygraph reads, in one place.

PYGRAPH_CACHE_DIR    compiled-module cache (default $XDG_CACHE_HOME/pygraph, else ~/.cache/pygraph)
PYGRAPH_COMPILE_TIMEOUT  seconds one compile may take before it is stopped (default 600)
PYGRAPH_DEBUG        0 quiet; 1 kernels per compiled program; 2 + generated source; 3 + compiler commands
PYGRAPH_COLLECTIVE_TIMEOUT  seconds a pygraph.distribute collective may wait for the other ranks before it
                     fails with DeadlineExceededError (default 120; a dead rank must not hang the others)
PYGRAPH_CXX          C++ compiler (default $CXX, else c++)
PYGRAPH_CXXFLAGS     extra flags appended to the compile command
PYGRAPH_OPTIMIZED_ONLY  1: every program runs its -O3 build from its first call (benchmarks); default 0:
                     first calls run a quick -O1 build while the -O3 one compiles in the background
PYGRAPH_NUM_THREADS  threads for parallel loops (default: all cores)
PYGRAPH_SGEMM        float32 matrix products: auto (default: pygraph's GEMM on AVX-512 CPUs for products of 1-16M
                     multiply-adds, or larger on one thread, with an untransposed B; OpenBLAS otherwise),
                     avx512, avx2, scalar (every product on that
                     path, or the best below it the CPU has: tests, benchmarks) or openblas (OpenBLAS only)
PYGRAPH_SANITIZE     build generated kernels with sanitizers: "address", "undefined" or "address,undefined";
                     run under `python -m pygraph.sanitize` (it preloads the sanitizer runtime)

Read by the repository's demo, tests and benchmarks (not by the library itself):
PYGRAPH_HOUSING_DIR  folder holding california_housing.csv.gz (default: data/california_housing in the checkout)
PYGRAPH_DEMO_DIR     where `make demo` writes checkpoints and TensorBoard logs (default: a fixed folder under
                     the system temp directory, emptied at the start of each run)
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


def _positive_seconds(name, default):
    """A duration setting: unset or empty gives `default`; anything but a positive number is an error."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return seconds


def compile_timeout():
    """Seconds a compile may take before it is stopped (a hung compiler must not hang pygraph)."""
    return _positive_seconds("PYGRAPH_COMPILE_TIMEOUT", 600.0)


def collective_timeout():
    """Seconds one collective (allreduce, broadcast, ...) waits for the other ranks before it fails."""
    return _positive_seconds("PYGRAPH_COLLECTIVE_TIMEOUT", 120.0)


def optimized_only():
    """True when programs must run optimized code from their first call (no quick tier)."""
    value = os.environ.get("PYGRAPH_OPTIMIZED_ONLY", "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ValueError(f"PYGRAPH_OPTIMIZED_ONLY must be 0 or 1, got {value!r}")


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


SGEMM_PATHS = ("auto", "avx512", "avx2", "scalar", "openblas")  # the order of PG_SG_* in sgemm.h.j2


def sgemm_path():
    """PYGRAPH_SGEMM as its index in SGEMM_PATHS (baked into the generated source as PG_SGEMM_FORCE)."""
    value = os.environ.get("PYGRAPH_SGEMM", "").strip().lower() or "auto"
    if value not in SGEMM_PATHS:
        raise ValueError(f"PYGRAPH_SGEMM must be one of {', '.join(SGEMM_PATHS)}, got {value!r}")
    return SGEMM_PATHS.index(value)


def housing_dir(default):
    """The California-housing folder: $PYGRAPH_HOUSING_DIR, else `default` (the checkout's data/ copy)."""
    from pathlib import Path

    return Path(os.environ.get("PYGRAPH_HOUSING_DIR") or default)


def demo_dir(default):
    """Where the demo writes its outputs: $PYGRAPH_DEMO_DIR, else `default`."""
    from pathlib import Path

    return Path(os.environ.get("PYGRAPH_DEMO_DIR") or default)
