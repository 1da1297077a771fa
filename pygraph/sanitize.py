"""Sanitizer mode: generated kernels built with AddressSanitizer and/or UndefinedBehaviorSanitizer.

`PYGRAPH_SANITIZE=address,undefined` adds the compile flags (config.sanitizer_cxxflags); ASan must also be
the first library in the process, which Python is not built for, so run the program through this launcher:

    python -m pygraph.sanitize python my_program.py      (or: python -m pytest tests/...)

It preloads the compiler's libasan (and libstdc++, whose exception entry points ASan must see at start-up),
turns leak checking off (CPython frees little at exit by design) and makes UBSan reports fatal. With a
runtime that is itself built with ASan (`make test-sanitize`'s .venv-asan), start the launcher from an
ordinary environment, since importing that runtime unpreloaded aborts:
`.venv/bin/python -m pygraph.sanitize .venv-asan/bin/python -m pytest tests/...`.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

from . import config, errors


def _library(name):
    """The compiler's own copy of a runtime library, e.g. libasan.so, or None when it has none."""
    try:
        out = subprocess.run([config.compiler(), f"-print-file-name={name}"], capture_output=True, text=True,
                             check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return out if os.path.isabs(out) and os.path.exists(out) else None


def preload_libraries(names):
    """Libraries to LD_PRELOAD for the sanitizers `names` (UBSan alone needs none)."""
    if "address" not in names:
        return []
    libs = [_library("libasan.so"), _library("libstdc++.so")]
    if libs[0] is None:
        raise errors.NotFoundError(None, None, f"PYGRAPH_SANITIZE=address: the compiler {config.compiler()} "
                                   "has no libasan.so (install its AddressSanitizer runtime, e.g. libasan8).")
    return [lib for lib in libs if lib]


def asan_loaded():
    return hasattr(ctypes.CDLL(None), "__asan_init")


def check_process():
    """Before the first kernel loads: fail clearly instead of letting ASan abort the process."""
    if "address" in config.sanitizers() and not asan_loaded():
        raise errors.FailedPreconditionError(
            None, None, "PYGRAPH_SANITIZE=address needs the AddressSanitizer runtime loaded before Python "
            "starts. Run the program through `python -m pygraph.sanitize python PROGRAM.py` (it sets "
            "LD_PRELOAD), or drop 'address' from PYGRAPH_SANITIZE.")


def sanitizer_environment(base, names):
    """`base` (an environment mapping) with what a sanitized run of pygraph needs."""
    env = dict(base)
    env["PYGRAPH_SANITIZE"] = ",".join(names)
    preload = preload_libraries(names)
    if preload:
        env["LD_PRELOAD"] = " ".join(preload + ([env["LD_PRELOAD"]] if env.get("LD_PRELOAD") else []))
    env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    return env


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    names = config.sanitizers() or list(config.SANITIZERS)
    env = sanitizer_environment(os.environ, names)
    os.execvpe(argv[0], argv, env)


if __name__ == "__main__":
    sys.exit(main())
