"""DistributedOptimizer, broadcast_global_variables and the broadcast hook: Horovod's TF1 training API."""

from __future__ import annotations

import sys

from ..graph import get_default_graph
from ..ops.state import global_variables, group
from ..train.optimizer import Optimizer
from . import ops as _ops
from .accumulate import LocalAggregation

DEFAULT_FUSION_BYTES = 64 << 20  # Horovod's HOROVOD_FUSION_THRESHOLD default


class Average:
    """op=Average: the sum over ranks divided by size()."""


class Sum:
    """op=Sum: the sum over ranks."""


class Compression:
    """Horovod's gradient compression: `none`, or `fp16` (values travel and are summed as IEEE half floats,
    halving the bytes on the wire at half precision; on one rank nothing travels and nothing is rounded)."""

    none = None
    fp16 = "fp16"

    @staticmethod
    def check(compression):
        if compression not in (None, "fp16"):
            raise ValueError(f"compression must be hvd.Compression.none or hvd.Compression.fp16, not {compression!r}")
        return compression == "fp16"


def _hvd():
    return sys.modules["pygraph.distribute"]


def buckets(tensors, fusion_bytes):
    """Consecutive runs of one dtype, each at most fusion_bytes (a larger tensor is a bucket alone)."""
    out, current, current_bytes = [], [], 0
    for t in tensors:
        numel = t.shape.num_elements() if t.shape.is_fully_defined() else 0
        nbytes = numel * t.dtype.np.itemsize
        if current and (t.dtype is not current[0].dtype or current_bytes + nbytes > fusion_bytes):
            out.append(current)
            current, current_bytes = [], 0
        current.append(t)
        current_bytes += nbytes
    if current:
        out.append(current)
    return out


class DistributedOptimizer(Optimizer):
    """Wraps any pygraph optimizer: compute_gradients averages (op=Average) or sums the gradients over all
    ranks (with one rank it adds nothing), fused into buckets of at most `fusion_bytes` (one engine call
    each), inside the compiled step; apply_gradients is the wrapped optimizer's. backward_passes_per_step=N
    accumulates N steps' gradients and reduces and applies them every N-th step (accumulate.py)."""

    def __init__(self, optimizer, name=None, use_locking=False, device_dense="", device_sparse="",
                 compression=Compression.none, sparse_as_dense=False, backward_passes_per_step=1, op=Average,
                 average_aggregated_gradients=False, fusion_bytes=DEFAULT_FUSION_BYTES):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"DistributedOptimizer wraps a tf.train.Optimizer, got {type(optimizer).__name__}")
        self._fp16 = Compression.check(compression)
        if op not in (Average, Sum):
            raise ValueError("op must be hvd.Average or hvd.Sum")
        super().__init__(use_locking, name or f"Distributed{type(optimizer).__name__}")
        self._optimizer = optimizer
        self._op = op
        self._fusion_bytes = int(fusion_bytes)
        self._aggregation = LocalAggregation(backward_passes_per_step, average_aggregated_gradients, self._name)
        if backward_passes_per_step == 1:
            self._aggregation = None

    def compute_gradients(self, *args, **kwargs):
        pairs = self._optimizer.compute_gradients(*args, **kwargs)
        _hvd()._require_init()
        if self._aggregation is not None:
            return self._aggregation.compute_gradients(pairs, self._reduce)
        reduced = iter(self._reduce([g for g, _ in pairs if g is not None]))
        return [(next(reduced) if g is not None else None, v) for g, v in pairs]

    def _reduce(self, grads):
        """The gradients reduced over the ranks, in buckets."""
        if _hvd().size() == 1 or not grads:  # nothing to reduce (as Horovod): the plain optimizer's step
            return grads
        reduced = {}
        graph = grads[0].graph
        with graph.as_default(), graph.name_scope(self._name):
            for bucket in buckets(grads, self._fusion_bytes):
                outs = _ops.grouped_allreduce(bucket, self._op is Average, name="allreduce_bucket", fp16=self._fp16)
                reduced.update({id(g): r for g, r in zip(bucket, outs)})
        return [reduced[id(g)] for g in grads]

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        if self._aggregation is not None:
            return self._aggregation.apply_gradients(self._optimizer, grads_and_vars, global_step, name)
        return self._optimizer.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def get_slot(self, var, name):
        return self._optimizer.get_slot(var, name)

    def get_slot_names(self):
        return self._optimizer.get_slot_names()

    def variables(self):
        return self._optimizer.variables()


def broadcast_variables(variables, root_rank):
    """One op that sets every variable to root_rank's value (one broadcast per dtype bucket)."""
    variables = list(variables)
    if not variables:
        return group(name="broadcast_variables")
    updates = []
    for bucket in buckets(variables, DEFAULT_FUSION_BYTES):
        values = _ops.grouped_broadcast([v.value() if hasattr(v, "value") else v for v in bucket], root_rank)
        updates.extend(v.assign(x).op for v, x in zip(bucket, values))
    return group(*updates, name="broadcast_variables")


def broadcast_global_variables(root_rank):
    """Horovod's broadcast_global_variables: run it once after initialization so all ranks start equal."""
    _hvd()._require_init()
    return broadcast_variables(global_variables(), root_rank)


class BroadcastGlobalVariablesHook:
    """Horovod's hook, for code without MonitoredTrainingSession: call begin() after building the graph and
    after_create_session(sess) once the variables are initialized."""

    def __init__(self, root_rank, device=""):
        self.root_rank = root_rank
        self.bcast_op = None

    def begin(self):
        if self.bcast_op is None or self.bcast_op.graph is not get_default_graph():
            self.bcast_op = broadcast_global_variables(self.root_rank)

    def after_create_session(self, session, coord=None):
        if self.bcast_op is None:
            self.begin()
        session.run(self.bcast_op)
