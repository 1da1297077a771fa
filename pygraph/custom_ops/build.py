"""build_op_library: compile an op library's sources through pygraph's toolchain into the content-addressed
cache (as torch.utils.cpp_extension.load_inline does). The key covers the sources' text, pygraph's
TF-compatible headers and abi.h, the compiler's identity, the flags and the ABI version, so a library is
rebuilt exactly when one of them changes. Files the sources include from elsewhere are not tracked: pass
them in `sources` or change a flag to force a rebuild."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .. import config, errors, safe_files, sysconfig

stats = {"builds": 0, "hits": 0}
SOURCES = {}  # library path -> [(file name, text)]: what an AOT artifact compiles in its place

# as pygraph's own kernels (DESIGN.md): vectorised comparisons need -fno-trapping-math; NaN and Inf still behave
_OPT_FLAGS = ["-O3", "-fno-trapping-math", "-fno-math-errno", "-Wno-unused-function"]


def _read_sources(sources):
    """[(display name, text, path or None)]: paths are read; other strings are inline source text."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    out = []
    for k, s in enumerate(sources):
        if isinstance(s, os.PathLike) or (isinstance(s, str) and "\n" not in s):
            path = os.path.realpath(os.fspath(s))
            if not os.path.isfile(path):
                raise errors.NotFoundError(None, None, f"op library source {s} not found")
            with open(path, encoding="utf-8", errors="replace") as f:
                out.append((path, f.read(), path))
        elif isinstance(s, str):
            out.append((f"inline_{k}.cc", s, None))
        else:
            raise TypeError(f"sources[{k}] must be a path or C++ source text, not {type(s).__name__}")
    if not out:
        raise ValueError("build_op_library needs at least one source")
    return out


def _headers_digest():
    h = hashlib.sha256()
    root = Path(sysconfig.get_include())
    for p in sorted(list(root.rglob("*.h"))):
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def build_op_library(sources, name="op_library", extra_cflags=(), extra_ldflags=()):
    """Path of the op library compiled from `sources` (file paths or C++ source text), built once per
    distinct (sources, headers, compiler, flags, ABI version). CompileError carries the compiler's
    messages, with the file and line of each error."""
    from .. import _runtime
    from ..codegen import invoke, toolchain

    srcs = _read_sources(sources)
    cxx, ident = toolchain.compiler_identity(config.compiler())
    flags = sysconfig.get_compile_flags() + _OPT_FLAGS + [str(f) for f in extra_cflags]
    lflags = sysconfig.get_link_flags() + [str(f) for f in extra_ldflags]
    parts = [str(_runtime.ABI_VERSION), ident, _headers_digest(), *flags, "\0", *lflags]
    for shown, text, _ in srcs:
        parts += [os.path.basename(shown), text]
    key = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    d = toolchain.private_subdir("ops")
    safe_name = "".join(c if c.isalnum() or c == "_" else "_" for c in name)[:40] or "op_library"
    so = d / f"{safe_name}-{key[:32]}.so"
    SOURCES[os.path.realpath(so)] = [(os.path.basename(shown), text) for shown, text, _ in srcs]
    if safe_files.open_private(so) is not None and toolchain.module_digest(so) is not None:
        stats["hits"] += 1
        return str(so)
    files = []
    for k, (_shown, text, path) in enumerate(srcs):
        if path is None:  # inline text: a kept file, so that compiler messages name a real file and line
            path = d / f"{key[:32]}-{k}.cc"
            toolchain.write_atomic(path, text.encode())
        files.append(str(path))
    tmp = d / safe_files.temp_name(f".{so.name}.tmp")
    cmd = [cxx, *flags, *files, "-o", str(tmp), *lflags]
    try:
        invoke.run_compiler(cmd, ", ".join(files))
        f = safe_files.open_private(tmp, mode=0o700)
        if f is None:
            raise errors.CompileError(f"{cxx} wrote no library for {', '.join(files)}")
        with f:
            digest = toolchain._digest(f)
        os.replace(tmp, so)
    except BaseException:
        safe_files.discard(tmp)
        raise
    toolchain.write_atomic(so.with_suffix(".sha256"), (digest + "\n").encode())
    stats["builds"] += 1
    return str(so)
