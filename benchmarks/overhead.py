"""Per-call overhead rows (W1, W2, W5) for pygraph and numpy in one process, interleaved, so their ratios
come from the same sitting: `python -m benchmarks.overhead [--rounds N] [--rows w1_run,...]`.

Each round times every (row, framework) cell with the table's rule (benchmarks/timing.py) after checking its
answer; the medians over rounds are printed in microseconds, with pygraph/numpy beside them. `--slow` also
times pygraph with its C fast path turned off (the Python path every call took before it existed).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time

from . import data as data_mod
from . import fw_numpy, fw_pygraph, reference
from .case import NotApplicable
from .timing import measure
from .workloads import CHECKS

ROWS = ("w1_run", "w1_callable", "w2_feed", "w5_minibatch")


def _cases(module, rows, d, refs):
    cases = {}
    for row in rows:
        builder = module.CASES[row]
        try:
            case = builder(d)
        except NotApplicable:
            continue
        case.step()
        CHECKS[row](case.answer(), d, refs)  # raises WrongAnswer: never time a wrong program
        cases[row] = case
    return cases


@contextlib.contextmanager
def _python_path_only(on):
    if not on:
        yield
        return
    from pygraph import session

    with session.fast_path_disabled():
        yield


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--slow", action="store_true", help="also time pygraph with the fast path off")
    parser.add_argument("--clock", choices=("wall", "thread"), default="wall",
                        help="thread: this thread's CPU time, steadier on a shared machine")
    args = parser.parse_args(argv)
    clock = time.thread_time if args.clock == "thread" else time.perf_counter
    rows = args.rows.split(",")
    with tempfile.TemporaryDirectory(prefix="pg-overhead-") as tmp:
        path = os.path.join(tmp, "data.npz")
        data_mod.prepare(path)
        d = data_mod.load(path)
        refs = reference.references(d)
    columns = {"pygraph": _cases(fw_pygraph, rows, d, refs), "numpy": _cases(fw_numpy, rows, d, refs)}
    if args.slow:
        columns["pygraph-slow"] = _cases(fw_pygraph, rows, d, refs)
    times = {(r, fw): [] for fw, cases in columns.items() for r in cases}
    for _ in range(args.rounds):
        for (row, fw) in times:
            case = columns[fw][row]
            with _python_path_only(fw == "pygraph-slow"):
                times[(row, fw)].append(measure(case.step, case.per_call, clock=clock).median * 1e6)
    names = list(columns)
    print(f"{'row':14s}" + "".join(f"{n + ' us':>17s}" for n in names) + f"{'pygraph/numpy':>15s}")
    for row in rows:
        med = {fw: statistics.median(times[(row, fw)]) for fw in names if (row, fw) in times}
        cells = "".join(f"{med[n]:17.3f}" if n in med else f"{'-':>17s}" for n in names)
        ratio = f"{med['pygraph'] / med['numpy']:15.2f}" if "numpy" in med and "pygraph" in med else f"{'-':>15s}"
        print(f"{row:14s}{cells}{ratio}")


if __name__ == "__main__":
    main()
