"""numexpr: a compiled, multithreaded evaluator of one array expression; it has W7 only.  Its
`maximum` computes in float64 (and Python literals are float64), so the expression uses `where` with
float32 scalars: the same values, float32 throughout, as the workload asks."""

from __future__ import annotations

import numexpr as ne
import numpy as np

from .case import Case

NAME = "numexpr"
NA_REASON = "W7 only (evaluates one array expression)"


def version():
    return ne.__version__


def runtime_info():
    return dict(numexpr_threads=ne.get_num_threads())


def w7_fused(d):
    env = dict(x=d.w7_x, a=np.float32(1.5), b=np.float32(0.5), c=np.float32(2.0), z=np.float32(0))
    run = lambda: ne.evaluate("where(x*a + b > z, x*a + b, z)*c - x", local_dict=env)
    return Case(run, run)


CASES = dict(w7_fused=w7_fused)
