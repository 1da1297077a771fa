"""Gradient accumulation: Horovod's `backward_passes_per_step` (its LocalGradientAggregationHelper, TF1 graph
mode) on tf.cond.

Every step adds the local gradients into accumulators (local variables, as in Horovod: initialize them with
tf.local_variables_initializer()) and counts; the N-th step reduces the accumulated sums over the ranks in
a cond branch, so the collective runs only then, divides them by N when `average_aggregated_gradients` (off
by default, as in Horovod), resets the count and the sums, and applies them. The other steps apply nothing
and only advance `global_step`. Averaged over N, N steps of b rows on each of R ranks make the same update
as one step on the N*R*b rows of all of them.
"""

from __future__ import annotations

import numpy as np

from ..graph import GraphKeys
from ..ops.control_flow import _in_context, cond
from ..ops.math import equal, identity
from ..ops.state import Variable, assign_add


class LocalAggregation:
    """The accumulators and the two conds of one DistributedOptimizer, per graph."""

    def __init__(self, passes, average, name):
        if not isinstance(passes, int) or passes < 1:
            raise ValueError(f"backward_passes_per_step must be an int >= 1, got {passes!r}")
        self.passes, self.average, self.name = passes, bool(average), name
        self._ready = {}  # graph -> the bool tensor "this step reduces and applies"

    def compute_gradients(self, pairs, reduce):
        """`pairs` (grad, var) accumulated; returns pairs whose gradients are reduce(accumulated sums) / N on
        the N-th step (the plain local gradients otherwise, which apply_gradients then ignores)."""
        present = [(g, v) for g, v in pairs if g is not None]
        if not present:
            return pairs
        graph = present[0][0].graph
        with graph.as_default(), graph.name_scope(f"{self.name}_aggregation"):
            with _in_context(graph, None), graph.control_dependencies(None):  # like TF's init_scope
                counter = Variable(np.int32(0), trainable=False, collections=[GraphKeys.LOCAL_VARIABLES],
                                   name="aggregation_counter")
                sums = [Variable(np.zeros(v.shape.as_list(), g.dtype.np), trainable=False,
                                 collections=[GraphKeys.LOCAL_VARIABLES], name=f"aggregated_{k}")
                        for k, (g, v) in enumerate(present)]
            added = [s.assign_add(g).op for s, (g, _) in zip(sums, present)]
            with graph.control_dependencies(added):
                count = assign_add(counter, np.int32(1))
            ready = equal(count, np.int32(self.passes), name="reduce_now")

            def communicate():
                totals = reduce([s.read_value() for s in sums])
                with graph.control_dependencies([t.op for t in totals]):  # the sums are read: start again
                    resets = [s.assign(np.zeros(s.shape.as_list(), s.dtype.np)).op for s in sums]
                    resets.append(counter.assign(np.int32(0)).op)
                with graph.control_dependencies(resets):
                    if self.average:
                        return [t / np.array(self.passes, t.dtype.np) for t in totals]
                    return [identity(t) for t in totals]

            out = cond(ready, communicate, lambda: [identity(g) for g, _ in present], strict=True)
        self._ready[graph] = ready
        reduced = iter(out)
        return [(next(reduced) if g is not None else None, v) for g, v in pairs]

    def apply_gradients(self, optimizer, grads_and_vars, global_step, name):
        """optimizer.apply_gradients on the N-th step only; global_step advances on every step (Horovod)."""
        grads_and_vars = tuple(grads_and_vars)
        graph = next((g.graph for g, _ in grads_and_vars if g is not None), None)
        ready = self._ready.get(graph)
        if ready is None:
            raise ValueError("DistributedOptimizer(backward_passes_per_step > 1).apply_gradients needs the "
                             "gradients of its own compute_gradients (or use minimize)")
        var_list = [v for g, v in grads_and_vars if g is not None]
        with graph.as_default(), _in_context(graph, None), graph.control_dependencies(None):
            optimizer._create_slots(var_list)  # slot variables are made outside the cond (TF's init_scope)

        def apply():
            op = optimizer.apply_gradients(grads_and_vars, global_step=global_step, name=name)
            with graph.control_dependencies([op]):
                return identity(ready)

        def skip():
            if global_step is None:
                return identity(ready)
            with graph.control_dependencies([assign_add(global_step, np.array(1, global_step.dtype.np)).op]):
                return identity(ready)

        with graph.as_default():
            done = cond(ready, apply, skip, name=f"{self.name}_apply")
        return done.op

