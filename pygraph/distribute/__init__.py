"""Data-parallel training with Horovod's TF1 API: `import pygraph.distribute as hvd`.

    hvd.init()
    opt = hvd.DistributedOptimizer(tf.train.AdamOptimizer(0.001 * hvd.size()))
    train_op = opt.minimize(loss)
    bcast = hvd.broadcast_global_variables(0)

Start N processes with `mpiexec -n N python train.py` or `python -m pygraph.distribute.run -np N train.py`.
The collectives run inside the compiled step (one call per sess.run) through the runtime's collective host
service, on MPI through mpi4py (`pip install 'pygraph[mpi]'`). Without MPI, or in one process, size() is 1
and every collective is the identity.
"""

from __future__ import annotations

import os

from .. import _runtime
from ..ops.core import convert_to_tensor
from . import ops as _ops
from .optimizer import (
    Average,
    BroadcastGlobalVariablesHook,
    Compression,
    DistributedOptimizer,
    Sum,
    broadcast_global_variables,
    broadcast_variables,
)

__all__ = ["init", "shutdown", "is_initialized", "size", "rank", "local_size", "local_rank", "allreduce",
           "grouped_allreduce", "allgather", "broadcast", "broadcast_global_variables", "broadcast_variables",
           "BroadcastGlobalVariablesHook", "DistributedOptimizer", "Compression", "Average", "Sum", "mpi_enabled"]

_LAUNCHER_VARS = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK")  # set by mpiexec (hydra, Open MPI)


class _State:
    initialized = False
    comm = None
    engine = None
    direct_problem = None  # why compiled programs do not call MPI directly (direct.py), or None
    rank, size, local_rank, local_size = 0, 1, 0, 1


_state = _State()


def _launched_by_mpiexec():
    return any(v in os.environ for v in _LAUNCHER_VARS)


def init(comm=None):
    """Start (or join) the job: MPI's world communicator, or `comm` (an mpi4py communicator). Without mpi4py
    and outside mpiexec this is a one-process job."""
    if _state.initialized:
        return
    try:
        from mpi4py import MPI
    except ImportError:
        if _launched_by_mpiexec():
            raise RuntimeError("pygraph.distribute.init(): this process was started by mpiexec, but mpi4py is "
                               "not installed; pip install 'pygraph[mpi]'") from None
        MPI = None
    if MPI is not None:
        from . import direct
        from .engine import MPIEngine, abort_on_uncaught

        world = (comm or MPI.COMM_WORLD).Dup()  # our own context: user messages never mix with ours
        local = world.Split_type(MPI.COMM_TYPE_SHARED)
        _state.comm = world
        _state.rank, _state.size = world.Get_rank(), world.Get_size()
        _state.local_rank, _state.local_size = local.Get_rank(), local.Get_size()
        local.Free()
        if _state.size > 1:  # one rank keeps the runtime's built-in identity collectives: no callback cost
            _state.engine = MPIEngine(world, MPI)
            _state.direct_problem = direct.install(_state.engine, world, MPI)
            if _state.direct_problem:  # another MPI: every call through the mpi4py engine
                _runtime.set_collectives(0, *_state.engine.addresses())
            abort_on_uncaught(world)
    _state.initialized = True


def shutdown():
    """Leave the job: compiled programs go back to one-process collectives."""
    _runtime.set_collectives(0, 0, 0, 0, 0)
    if _state.comm is not None:
        _state.comm.Free()
    _state.comm = _state.engine = None
    _state.rank, _state.size, _state.local_rank, _state.local_size = 0, 1, 0, 1
    _state.initialized = False


def is_initialized():
    return _state.initialized


def mpi_enabled():
    return _state.comm is not None


def _require_init():
    if not _state.initialized:
        raise ValueError("Horovod has not been initialized; use hvd.init().")


def size():
    _require_init()
    return _state.size


def rank():
    _require_init()
    return _state.rank


def local_size():
    _require_init()
    return _state.local_size


def local_rank():
    _require_init()
    return _state.local_rank


def allreduce(tensor, average=None, name=None, op=None, compression=None):
    """The tensor summed (op=Sum) or averaged (the default; average=False means sum) over all ranks."""
    _require_init()
    fp16 = Compression.check(compression)
    if op is None:
        op = Sum if average is False else Average
    return _ops.grouped_allreduce([convert_to_tensor(tensor)], op is Average, name or "HorovodAllreduce",
                                  fp16=fp16)[0]


def grouped_allreduce(tensors, average=None, name=None, op=None):
    """Several tensors of one dtype reduced in one bucket (one engine call)."""
    _require_init()
    if op is None:
        op = Sum if average is False else Average
    return _ops.grouped_allreduce(list(tensors), op is Average, name or "HorovodGroupedAllreduce")


def allgather(tensor, name=None):
    """Every rank's tensor concatenated along the first dimension, rank 0's first (equal shapes on all
    ranks: a rank with another shape fails the first call with the shapes named)."""
    _require_init()
    return _ops.allgather_op(tensor, _state.size, name or "HorovodAllgather")


def broadcast(tensor, root_rank, name=None):
    """root_rank's value of the tensor, on every rank."""
    _require_init()
    return _ops.grouped_broadcast([convert_to_tensor(tensor)], root_rank, name or "HorovodBroadcast")[0]
