"""The direct MPI engine (runtime/src/mpi_direct.cc): compiled programs call MPI_Iallreduce/MPI_Ibcast (and
MPI_Allreduce on a helper thread for large buffers) of the library that mpi4py loaded, without a Python
callback (~5 us with the GIL per bucket, half of a 1 KB allreduce). It speaks MPICH's ABI only (MPICH,
Intel MPI, MVAPICH: int handles, MPI_IN_PLACE == -1), found by asking mpi4py the size of its handles;
elsewhere (Open MPI, the standard MPI ABI, a platform without /proc/self/maps) the mpi4py engine keeps
serving every call, as it still serves each call site's first call (the graph check), fp16 compression and
allgather."""

from __future__ import annotations

import ctypes
import os
import re

from .. import _runtime, config

FUNCTIONS = ("MPI_Iallreduce", "MPI_Ibcast", "MPI_Test", "MPI_Error_string", "MPI_Allreduce")
# Allreduces of at least this many bytes run MPICH's blocking MPI_Allreduce on a helper thread (the caller
# waits with the deadline): from 16 MB on MPICH's Iallreduce is up to ~40% slower than Allreduce. Below, it is
# as fast or faster (4 MB, loaded machine: Iallreduce 1.0-1.4x of mpi4py's Allreduce, the helper thread
# 0.3-0.8x). Needs MPI_THREAD_MULTIPLE (mpi4py's default): after a deadline the helper stays inside MPI while
# other threads go on.
BLOCKING_MIN_BYTES = 16 << 20


def _loaded_mpi_library():
    """The path of the MPI library in this process (mpi4py loaded it), or None."""
    try:
        with open("/proc/self/maps") as maps:
            text = maps.read()
    except OSError:
        return None
    found = re.findall(r"(/\S*/libmpi(?:ch)?\.so(?:\.\d+)*)$", text, re.M)
    return found[0] if found else None


def mpich_abi_problem(MPI):
    """Why this MPI cannot be called directly (a sentence), or None when it speaks MPICH's ABI."""
    handles = (MPI.Comm, MPI.Datatype, MPI.Op, MPI.Request)
    if not all(MPI._sizeof(h) == 4 for h in handles) or int(MPI.IN_PLACE) != -1:
        return f"{MPI.Get_library_version().splitlines()[0].strip()} does not use MPICH's ABI"
    return None


def _int_handle(obj, MPI):
    """An MPICH handle (a C int; mpi4py gives its bits unsigned, sign-extended to 64)."""
    return ctypes.c_int32(MPI._handleof(obj) & 0xFFFFFFFF).value


def install(engine, comm, MPI):
    """Make compiled programs call MPI directly, the mpi4py `engine` serving first calls; returns None, or
    why the mpi4py engine keeps serving every call."""
    problem = mpich_abi_problem(MPI)
    if problem:
        return problem
    path = _loaded_mpi_library()
    if path is None:
        return "the MPI library mpi4py loaded was not found in /proc/self/maps"
    try:
        library = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)  # the loaded one, not a second copy
        functions = [ctypes.cast(getattr(library, name), ctypes.c_void_p).value for name in FUNCTIONS]
    except (OSError, AttributeError) as e:
        return f"{path}: {e}"
    blocking = BLOCKING_MIN_BYTES if MPI.Query_thread() == MPI.THREAD_MULTIPLE else 0
    types = [MPI.FLOAT, MPI.DOUBLE, MPI.INT32_T, MPI.INT64_T]  # pg_dtype 1..4; bool (5) not direct
    engine.direct_table = _runtime.set_direct_mpi(functions, _int_handle(comm, MPI), _int_handle(MPI.SUM, MPI),
                            [0, *(_int_handle(t, MPI) for t in types), 0], comm.Get_size(), comm.Get_rank(),
                            config.collective_timeout(), [0, *engine.addresses()], blocking)
    return None
