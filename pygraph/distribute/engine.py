"""The MPI engine behind the runtime's collective host service (abi.h, pg_collectives), on mpi4py.

Choice: compiled programs call these functions through ctypes callbacks, which take the GIL for the
call's duration, and the data moves by mpi4py's nonblocking Iallreduce/Ibcast/Iallgather on a view of the
program's own fusion buffer (no copy). The GIL cost is a few microseconds per bucket (benchmarks/
distribute_bench.py measures it against raw mpi4py); in exchange the engine gets mpi4py's portability
(MPICH and Open MPI ABIs alike), a deadline on every wait (a nonblocking request polled against
PYGRAPH_COLLECTIVE_TIMEOUT) and the cross-rank graph check below, all in Python. docs/distribute.md says
how a direct C engine, gloo or Ray would take this place.
"""

from __future__ import annotations

import ctypes
import sys
import time

import numpy as np

from .. import config
from .ops import DESCRIPTIONS

# pg_status codes (TF's error codes)
OK, INVALID_ARGUMENT, DEADLINE_EXCEEDED, FAILED_PRECONDITION, INTERNAL, UNAVAILABLE = 0, 3, 4, 9, 13, 14
AVERAGE, FP16 = 1, 2  # pg_reduce_op bits
NUMPY = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.int64}

_ALLREDUCE = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p,
                              ctypes.c_int64, ctypes.c_int32, ctypes.c_int32, ctypes.c_void_p, ctypes.c_size_t)
_BROADCAST = _ALLREDUCE  # same layout: root in place of op
_EXCHANGE = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p,
                             ctypes.c_int64, ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_size_t)
_ALLGATHER = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p,
                              ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_void_p,
                              ctypes.c_size_t)


class CollectiveFailure(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _view(address, count, dtype):
    np_dtype = NUMPY.get(dtype)
    if np_dtype is None:
        raise CollectiveFailure(INVALID_ARGUMENT, f"pygraph.distribute cannot reduce dtype code {dtype}")
    nbytes = count * np.dtype(np_dtype).itemsize
    return np.frombuffer((ctypes.c_char * nbytes).from_address(address), dtype=np_dtype)


class MPIEngine:
    """Collectives over an mpi4py communicator, with a deadline and a graph check on every new call site."""

    def __init__(self, comm, mpi):
        self.comm, self.MPI = comm, mpi
        self.comm.Set_errhandler(mpi.ERRORS_RETURN)  # a failed peer raises here instead of aborting the job
        self.checked = set()  # (kind, key) whose signature all ranks agreed on
        self.broken = None  # the first failure: later collectives fail at once instead of waiting again
        self.stats = {"calls": 0, "bytes": 0}
        self._half_op = None
        self.direct_table = None  # the pg_collectives* of the direct MPI engine (direct.py), when installed
        self._callbacks = (_ALLREDUCE(self._guard(self._allreduce)), _BROADCAST(self._guard(self._broadcast)),
                           _EXCHANGE(self._guard(self._exchange)), _ALLGATHER(self._guard(self._allgather)))

    def addresses(self):
        return tuple(ctypes.cast(cb, ctypes.c_void_p).value for cb in self._callbacks)

    # -- the C entry points (called by compiled programs, with the GIL taken by ctypes)
    def _guard(self, fn):
        def entry(engine, key, signature, *rest):
            err, errlen = rest[-2], rest[-1]
            try:
                if self.broken:
                    raise CollectiveFailure(UNAVAILABLE, f"an earlier collective failed: {self.broken}")
                fn(key, signature, *rest[:-2])
                return OK
            except CollectiveFailure as e:
                message, code = str(e), e.code
            except self.MPI.Exception as e:
                message, code = f"MPI error in a collective (a rank has failed?): {e}", UNAVAILABLE
            except BaseException as e:  # never unwind through C
                message, code = f"pygraph.distribute engine error: {type(e).__name__}: {e}", INTERNAL
            if code in (UNAVAILABLE, DEADLINE_EXCEEDED):
                self.broken = message
            data = message.encode(errors="replace")[: max(errlen - 1, 0)] + b"\0"
            ctypes.memmove(err, data, len(data))
            return code
        return entry

    def _allreduce(self, key, signature, data, count, dtype, op):
        self._check("allreduce", key, signature)
        if count:
            buf = _view(data, count, dtype)
            if op & FP16:  # on the wire as half floats, summed as half floats (Horovod's Compression.fp16)
                half = buf.astype(np.float16)
                request = self.comm.Iallreduce(self.MPI.IN_PLACE, [half.view(np.uint16), self.MPI.UINT16_T],
                                               op=self._half_sum())
                self._wait(request, "allreduce", key)
                buf[:] = half
            else:
                self._wait(self.comm.Iallreduce(self.MPI.IN_PLACE, buf, op=self.MPI.SUM), "allreduce", key)
            if op & AVERAGE:
                np.divide(buf, self.comm.Get_size(), out=buf)
            self._count(buf.nbytes)

    def _half_sum(self):
        if self._half_op is None:
            def add(inbuf, inoutbuf, datatype):
                out = np.frombuffer(inoutbuf, np.float16)
                out += np.frombuffer(inbuf, np.float16)
            self._half_op = self.MPI.Op.Create(add, commute=True)
        return self._half_op

    def _broadcast(self, key, signature, data, count, dtype, root):
        self._check("broadcast", key, signature)
        if not 0 <= root < self.comm.Get_size():
            raise CollectiveFailure(INVALID_ARGUMENT, f"broadcast from root rank {root}, but there are only "
                                                      f"{self.comm.Get_size()} ranks")
        if count:
            buf = _view(data, count, dtype)
            self._wait(self.comm.Ibcast(buf, root=root), "broadcast", key)
            self._count(buf.nbytes)

    def _exchange(self, key, signature, mine, n, out, size):
        """Every rank's n int64 (the dims before an allgather): the first half of an allgather."""
        self._check("allgather", key, signature)
        if size != self.comm.Get_size():
            raise CollectiveFailure(FAILED_PRECONDITION, f"pygraph.distribute: the program was built for {size} "
                                                         f"ranks, but the job has {self.comm.Get_size()}")
        src, dst = _view(mine, n, 4), _view(out, n * size, 4)
        self._wait(self.comm.Iallgather(src, dst), "allgather", key)

    def _allgather(self, key, signature, data, out, counts, size, dtype):
        counts = [int(c) for c in _view(counts, size, 4)]
        total = sum(counts)
        if total:  # every rank has the same counts: all skip an empty gather alike
            src, dst = _view(data, counts[self.comm.Get_rank()], dtype), _view(out, total, dtype)
            displacements = np.concatenate([[0], np.cumsum(counts)[:-1]]).tolist()
            self._wait(self.comm.Iallgatherv(src, [dst, counts, displacements, self.MPI._typedict[dst.dtype.char]]),
                       "allgather", key)
            self._count(dst.nbytes)

    def _count(self, nbytes):
        self.stats["calls"] += 1
        self.stats["bytes"] += nbytes

    # -- deadline and graph check
    def _wait(self, request, what, key):
        timeout = config.collective_timeout()
        start = time.monotonic()
        deadline = start + timeout
        while not request.Test():
            now = time.monotonic()
            # poll like MPI's blocking calls for the first milliseconds (latency), then without burning the
            # core the peers may need
            if now - start > 0.005:
                if now > deadline:
                    raise CollectiveFailure(
                        DEADLINE_EXCEEDED,
                        f"pygraph.distribute: {what} (call site {key:#x}) on rank {self.comm.Get_rank()} waited "
                        f"{timeout:g} s (PYGRAPH_COLLECTIVE_TIMEOUT) for the other ranks: a rank has died, hangs "
                        "or runs a different program")
                time.sleep(0.0002 if now - start < 1 else 0.002)

    def _check(self, kind, key, signature):
        """The first time a call site runs, all ranks must be at the same one with the same tensors."""
        if (kind, key) in self.checked:
            return
        mine = np.array([key, signature], dtype=np.int64)
        everyone = np.empty(2 * self.comm.Get_size(), dtype=np.int64)
        self._wait(self.comm.Iallgather(mine, everyone), f"the graph check before the first {kind}", key)
        pairs = everyone.reshape(-1, 2)
        if (pairs == mine).all():
            self.checked.add((kind, key))
            return
        described = self.comm.allgather(DESCRIPTIONS.get(signature, f"{kind} with signature {signature:#x}"))
        lines = [f"  rank {r}: {d}" for r, d in enumerate(described)]
        raise CollectiveFailure(FAILED_PRECONDITION, "pygraph.distribute: the ranks built different graphs; at "
                                "the same collective they carry:\n" + "\n".join(lines))


def abort_on_uncaught(comm):
    """A rank whose script dies of an exception aborts the job, so that its peers do not wait for it."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        sys.stderr.flush()
        comm.Abort(1)
    sys.excepthook = hook
