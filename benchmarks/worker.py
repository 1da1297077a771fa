"""One framework's rows, in a process of its own: `python -m benchmarks.worker NAME DATA REFS OUT [--quick]`.

For each row: build the case (a missing op becomes "not yet supported: <error>"), run it once, check
the answer, and only then time it.  Writes a JSON document to OUT.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import time
import traceback

from .case import Case, NotApplicable
from .data import load
from .reference import load_references
from .timing import measure
from .workloads import CHECKS, ROW_BY_ID, WrongAnswer

UNSUPPORTED = (AttributeError, NotImplementedError)


def _unsupported(e):
    """A missing op, emitter or gradient (TF raises LookupError for the latter), not a wrong program."""
    if isinstance(e, LookupError) and "No gradient defined" in str(e):
        return True
    return isinstance(e, UNSUPPORTED) or type(e).__name__ == "UnimplementedError"


def _describe(e):
    text = f"{type(e).__name__}: {e}".strip().splitlines()[0]
    return text if len(text) <= 160 else text[:157] + "..."


def run_row(module, row_id, data, refs, quick):
    row = ROW_BY_ID[row_id]
    name = module.NAME
    if row.only and name not in row.only:
        return dict(status="n/a", detail=f"{'/'.join(row.only)} only")
    builder = module.CASES.get(row.keeps_result_of or row_id)
    if builder is None:
        return dict(status="n/a", detail=getattr(module, "NA_REASON", f"not a {name} workload"))
    phase = "build"
    try:
        case = builder(data)
        if row.keeps_result_of:
            case = _keeping_results(case)
        phase = "first run"
        start = time.perf_counter()
        case.step()
        first_s = time.perf_counter() - start
        phase = "answer"
        value = CHECKS[row_id](case.answer(), data, refs)
        phase = "timing"
        stats = measure(case.step, case.per_call, quick)
    except NotApplicable as e:
        return dict(status="n/a", detail=str(e))
    except WrongAnswer as e:
        return dict(status="wrong", detail=str(e))
    except Exception as e:  # noqa: BLE001 - every failure becomes a cell, never a crashed runner
        status = "unsupported" if _unsupported(e) and phase != "timing" else "error"
        tb = traceback.format_exc(limit=-3) if status == "error" else None
        return dict(status=status, detail=f"{phase}: {_describe(e)}", traceback=tb)
    return dict(status="ok", first_run_s=first_s, value=value, **stats.as_dict())


def _keeping_results(case):
    """The pattern `for ...: y = sess.run(...)`: the previous result is alive while the next one is made, so a
    framework cannot hand the same output buffer back."""
    held = {}

    def step():
        held["y"] = case.step()

    return Case(step, case.answer, case.per_call)


def blas_info():
    """Thread pools and the OpenBLAS core type this process actually uses (threadpoolctl, when present)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return [{k: p.get(k) for k in ("internal_api", "prefix", "version", "num_threads", "architecture",
                                   "threading_layer")} for p in threadpool_info()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("framework")
    parser.add_argument("data")
    parser.add_argument("refs")
    parser.add_argument("out")
    parser.add_argument("--rows", default="", help="comma-separated row ids (default: all but W8)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)

    module = importlib.import_module(f"benchmarks.fw_{args.framework}")
    data = load(args.data)
    refs = load_references(args.refs)
    row_ids = args.rows.split(",") if args.rows else [r for r in module.CASES]
    rows = {}
    for row_id in row_ids:
        rows[row_id] = run_row(module, row_id, data, refs, args.quick)
        print(f"  {args.framework:9s} {row_id:13s} {rows[row_id]['status']}", flush=True)
    info = dict(version=module.version(), blas=blas_info(), pid=os.getpid())
    extra = getattr(module, "runtime_info", None)
    if extra is not None:
        info.update(extra())
    result = dict(framework=args.framework, info=info, rows=rows)
    tmp = f"{args.out}.tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1, default=str)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
