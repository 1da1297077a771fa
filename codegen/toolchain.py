"""The system C++ compiler and the content-addressed disk cache of compiled modules.

An entry is `<sha256>.so` with `<sha256>.sha256` (the .so's own digest) and the kept `<sha256>.cc`.
The key covers the source, the compiler's identity, the flags and the ABI version. Every file is
written under a temporary name and renamed into place, so concurrent processes never see a partial
entry and need no lock; an entry whose digest does not match is rebuilt. Entries are read through
pygraph.safe_files (regular files of ours only), and a module is loaded once before it is published.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import shutil
import stat
import sys
import threading
from pathlib import Path

from .. import config, errors, safe_files
from . import invoke

ABI_VERSION = 2  # PG_ABI_VERSION of runtime/include/pygraph/abi.h
# 2: modules are loaded and checked before they are published (entries older versions published unchecked
# are not trusted); index entries name their request key and module digest.
CACHE_FORMAT = 2
# -fwrapv: signed integer overflow wraps, as in numpy and TF, instead of being undefined behaviour.
# -ffp-contract=off: TF runs Mul and Add as two kernels, each rounding; a fused multiply-add in our fused
# loops would round once and differ from TF in the last bit (random_normal(mean, stddev), initializers).
# It costs nothing measurable: a 16-layer 256-wide Momentum step and W6 took the same CPU time with
# -ffp-contract=fast (11.4-12.3 vs 12.9-15.1 ms, 2.39 vs 2.44-2.50 ms; one thread, PYGRAPH_CXXFLAGS), so it
# stays global rather than scoped to the random kernels.
BASE_FLAGS = ["-std=c++17", "-O3", "-march=native", "-fno-trapping-math", "-fno-math-errno", "-fwrapv",
              "-ffp-contract=off", "-fPIC", "-shared", "-fvisibility=hidden", "-Wno-unused-function",
              "-Wno-unused-variable"]

stats = {"compiles": 0, "disk_hits": 0, "memory_hits": 0}
_memory = {}
_lock = threading.Lock()


def include_dir():
    """runtime/include as installed beside pygraph._runtime (or in a source checkout)."""
    from .. import _runtime

    candidates = [Path(_runtime.__file__).parent / "include",
                  Path(__file__).resolve().parent.parent / "runtime" / "include"]
    for c in candidates:
        if (c / "pygraph" / "abi.h").is_file():
            return str(c)
    raise FileNotFoundError("pygraph's ABI header (pygraph/abi.h) is missing from the installation; "
                            f"looked in {', '.join(map(str, candidates))}. Reinstall pygraph.")


_identity_cache = {}


def compiler_identity(cxx):
    """Resolved compiler path plus its size and mtime: changes when the compiler does, costs a stat."""
    if cxx in _identity_cache:
        return _identity_cache[cxx]
    path = shutil.which(cxx)
    if path is None:
        raise errors.CompileError(f"C++ compiler {cxx!r} not found. Install g++ or clang++, or point "
                                  "PYGRAPH_CXX at one.")
    real = os.path.realpath(path)
    st = os.stat(real)
    ident = f"{real}:{st.st_size}:{int(st.st_mtime)}:{platform.machine()}:{_cpu_model()}"
    _identity_cache[cxx] = (path, ident)
    return path, ident


def _cpu_model():
    # -march=native code is only valid on the CPU that built it; a shared home directory may differ
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") or line.startswith("flags"):
                    return hashlib.sha256(line.encode()).hexdigest()[:16]
    except OSError:
        pass
    return platform.processor()


def link_flags(libs):
    flags = []
    for lib in libs:
        if lib == "openblas":
            import scipy_openblas32

            libdir = scipy_openblas32.get_lib_dir()
            flags += [f"-L{libdir}", f"-l{scipy_openblas32.get_library()}", f"-Wl,-rpath,{libdir}"]
        else:
            flags.append(f"-l{lib}")
    return flags


def cache_dir():
    """The cache directory, created private (0700); refuses one that others could write into."""
    d = Path(config.cache_dir())
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    _check_private(d)
    return d


def private_subdir(name):
    """`cache_dir()/name` as a private directory; whatever else was there (a symlink, a file, a directory
    others could write) is removed first. Everything pygraph keeps under the cache dir lives in one."""
    return Path(safe_files.private_dir(cache_dir() / name))


def _check_private(path):
    st = path.stat()
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise PermissionError(f"pygraph cache {path} belongs to another user; loading modules from it would "
                              "run their code in this process. Set PYGRAPH_CACHE_DIR to a directory of yours.")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise PermissionError(f"pygraph cache {path} is writable by other users, who could plant code that "
                              f"runs in this process. Run `chmod go-w {path}` or set PYGRAPH_CACHE_DIR.")


def _digest(f):
    h = hashlib.sha256()
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
    return h.hexdigest()


def module_digest(so):
    """The digest of module entry `so` if the entry is intact (a trusted file whose content matches the
    digest recorded beside it), else None; anything untrusted found at either name is removed."""
    so = Path(so)
    f = safe_files.open_private(so)
    if f is None:
        return None
    with f:
        actual = _digest(f)
    recorded = safe_files.read_private(so.with_suffix(".sha256"), 256)
    if recorded is None or recorded.decode("ascii", "replace").strip() != actual:
        return None
    return actual


def write_atomic(path, data):
    """Write `data` to `path` under a temporary name, then rename it into place."""
    _sweep_once(path.parent)
    tmp = path.parent / safe_files.temp_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        _replace(tmp, path)
    except BaseException:
        safe_files.discard(tmp)
        raise


def _replace(tmp, path):
    try:
        os.replace(tmp, path)
    except IsADirectoryError:  # a directory squats the entry's name: nothing of ours, remove it
        safe_files.discard(path)
        os.replace(tmp, path)


_swept = set()


def _sweep_once(directory):
    """Remove the temporary files that killed writers left in `directory`, once per process, on its first
    write there (a warm process that only reads pays nothing; a crash loop that compiles cleans up)."""
    with _lock:
        if directory in _swept:
            return
        _swept.add(directory)
    with contextlib.suppress(OSError):
        safe_files.sweep([directory / n for n in os.listdir(directory) if ".tmp" in n])


# The quick tier: first calls run this build of the same source while the -O3 one compiles in the
# background (codegen/tiers.py). It compiles ~3x faster than -O3 (16-layer Adam step: 2.4-3.9 vs 14-16 s
# on a loaded 2-core machine). -fexpensive-optimizations turns on the pass that fuses a*b+c into FMAs,
# as -O3 does: without it the two tiers round differently (1 ulp) and a swap would show. -O0 compiles
# 2x faster still but could only match with -ffp-contract=off in -O3 too (~15% slower steps).
QUICK_OPT = "-O1 -fexpensive-optimizations"


def _entry(source, libs, opt):
    cxx, ident = compiler_identity(config.compiler())
    flags = [g for f in BASE_FLAGS for g in (opt.split() if f == "-O3" else [f])]
    flags += [f"-I{include_dir()}"] + config.extra_cxxflags()
    lflags = link_flags(libs)
    key = hashlib.sha256("\0".join([str(ABI_VERSION), str(CACHE_FORMAT), ident, *flags, *lflags,
                                     source]).encode()).hexdigest()
    return cxx, flags, lflags, key


def entry_key(source, libs=(), opt="-O3"):
    """The cache key of `source` built at `opt`: equal in every process that builds the same module."""
    return _entry(source, libs, opt)[3]


def cached(source, libs=(), opt="-O3"):
    """Path of the module built from `source` at `opt` if memory or the disk cache has it, else None."""
    _, _, _, key = _entry(source, libs, opt)
    with _lock:
        if key in _memory:
            stats["memory_hits"] += 1
            return _memory[key]
    so = cache_dir() / f"{key}.so"
    if module_digest(so) is None:
        return None
    stats["disk_hits"] += 1
    with _lock:
        _memory[key] = str(so)
    return str(so)


def build(source, libs=(), debug=0, opt="-O3", cancel=None):
    """Path of a shared object compiled from `source` at optimization level `opt`, from memory, disk or
    the compiler. `cancel` (a tiers.Cancel) lets another thread stop the compiler."""
    path = cached(source, libs, opt)
    if path is not None:
        return path
    cxx, flags, lflags, key = _entry(source, libs, opt)
    d = cache_dir()
    so, meta, src = d / f"{key}.so", d / f"{key}.sha256", d / f"{key}.cc"
    _compile(cxx, flags, lflags, source, so, meta, src, debug, cancel)
    stats["compiles"] += 1
    with _lock:
        _memory[key] = str(so)
    return str(so)


def _compile(cxx, flags, lflags, source, so, meta, src, debug, cancel=None):
    write_atomic(src, source.encode())
    tmp_so = so.parent / safe_files.temp_name(f".{so.name}.tmp")
    cmd = [cxx, *flags, str(src), "-o", str(tmp_so), *lflags]
    if debug >= 3:
        print("[pygraph] " + " ".join(cmd), file=sys.stderr)
    try:
        invoke.run_compiler(cmd, src, cancel)
        f = safe_files.open_private(tmp_so, mode=0o700)
        if f is None:
            raise errors.CompileError(f"C++ compiler {cxx} exited successfully but wrote no module file "
                                      f"for generated source {src}\ncommand: {' '.join(cmd)}")
        with f:
            digest = _digest(f)
        invoke.check_module(tmp_so, cxx, src, keep_loaded=bool(lflags))
        _replace(tmp_so, so)
    except BaseException:
        safe_files.discard(tmp_so)
        raise
    write_atomic(meta, (digest + "\n").encode())


def clear_memory_cache():
    """Forget modules found in this process (tests use it to exercise the disk cache)."""
    from . import request_cache

    with _lock:
        _memory.clear()
    request_cache.clear_memory()
