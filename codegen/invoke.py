"""Running the C++ compiler (under a time limit) and checking the module it wrote before it is published."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess

from .. import config, errors

_kept = []  # modules that link libraries stay loaded (see check_module)


def run_compiler(cmd, src, cancel=None):
    """Run `cmd`; CompileError when it fails or outlives PYGRAPH_COMPILE_TIMEOUT (then it is killed with
    every process it started: it runs in its own process group). `cancel` (codegen.tiers.Cancel) may
    kill it from another thread; that raises tiers.Cancelled here."""
    timeout = config.compile_timeout()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            encoding="utf-8", errors="replace", start_new_session=True)
    if cancel is not None:
        cancel.attach(proc)  # kills it at once when the job was cancelled before it started
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise errors.CompileError(
            f"C++ compiler {cmd[0]} did not finish compiling generated source {src} within {timeout:g} s and "
            "was stopped. If the compiler is just slow on a program this large, raise the limit with "
            "PYGRAPH_COMPILE_TIMEOUT=<seconds>.") from None
    except BaseException:  # KeyboardInterrupt: the compiler must not outlive the request
        _kill(proc)
        raise
    finally:
        if cancel is not None:
            cancel.detach()
    if proc.returncode != 0:
        if cancel is not None and cancel.cancelled:
            from .tiers import Cancelled

            raise Cancelled(src)
        raise errors.CompileError(f"C++ compilation failed (exit {proc.returncode}) for generated source "
                                  f"{src}:\n{err.strip()}\ncommand: {' '.join(cmd)}")


def _kill(proc):
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        pipe.close()


def check_module(path, cxx, src, keep_loaded):
    """Load a freshly compiled module as the runtime will (dlopen, pg_abi_version, pg_run) so that a
    compiler which exits 0 but writes something else leaves nothing in the cache. A module that links
    libraries (BLAS starts threads when loaded) stays loaded rather than being unloaded under them: the
    runtime loads the same file next, so this costs nothing extra."""
    from .. import _runtime

    def bad(why):
        return errors.CompileError(f"C++ compiler {cxx} exited successfully but its output for generated "
                                   f"source {src} is not a usable pygraph module: {why}")

    try:
        lib = ctypes.CDLL(str(path), mode=os.RTLD_NOW | os.RTLD_LOCAL)
    except OSError as e:
        raise bad(e) from None
    try:
        try:
            version_fn, _ = lib.pg_abi_version, lib.pg_run
        except AttributeError:
            raise bad("it exports no pg_abi_version or pg_run") from None
        version_fn.restype = ctypes.c_int32
        version = version_fn()
        if version != _runtime.ABI_VERSION:
            raise bad(f"ABI version {version}, runtime expects {_runtime.ABI_VERSION}")
    finally:
        if keep_loaded:
            _kept.append(lib)
        else:
            import _ctypes

            _ctypes.dlclose(lib._handle)
