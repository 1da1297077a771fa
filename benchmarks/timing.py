"""One timing rule for every framework: warm up, then the median of many samples, min and max beside it.

A sample times an inner loop long enough (>= MIN_SAMPLE_S) that timer resolution and scheduler noise on a
shared 2-core machine stay small against it; many samples make the median stable.
"""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass

MIN_SAMPLE_S = 0.005
WARMUP_S = 0.3
BUDGET_S = 2.0  # time spent on samples per cell, unless MIN_SAMPLES takes longer
MIN_SAMPLES = 7
MAX_SAMPLES = 101


@dataclass
class Stats:
    median: float  # seconds per unit of work
    min: float
    max: float
    samples: int
    inner: int  # calls per sample

    def as_dict(self):
        return dict(median=self.median, min=self.min, max=self.max, samples=self.samples, inner=self.inner)


def _sample(fn, inner, clock=time.perf_counter):
    start = clock()
    for _ in range(inner):
        fn()
    return clock() - start


def measure(fn, per_call=1, quick=False, clock=time.perf_counter):
    """Time fn(); `per_call` units of work happen in each call (e.g. 2070 steps for one W5 call). clock:
    time.thread_time counts only this thread's CPU time (steadier on a loaded machine, blind to other threads)."""
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()  # a collection inside a sample is noise no framework is responsible for
    try:
        first = _sample(fn, 1)  # warm-up: compiles, first-touch of buffers, caches
        if quick:
            return _stats([_sample(fn, 1)], 1, per_call)
        warm_until = time.perf_counter() + WARMUP_S
        while time.perf_counter() < warm_until:
            first = _sample(fn, 1, clock)
        inner = max(1, int(MIN_SAMPLE_S / max(first, 1e-9)))
        samples = int(min(MAX_SAMPLES, max(MIN_SAMPLES, BUDGET_S / (first * inner))))
        times = [_sample(fn, inner, clock) for _ in range(samples)]
        return _stats(times, inner, per_call)
    finally:
        if gc_was_enabled:
            gc.enable()


def measure_each(times_s, per_call=1):
    """Stats of separately measured runs (e.g. one fresh process each)."""
    return _stats(list(times_s), 1, per_call)


def _stats(times, inner, per_call):
    per_unit = [t / (inner * per_call) for t in times]
    return Stats(statistics.median(per_unit), min(per_unit), max(per_unit), len(per_unit), inner)
