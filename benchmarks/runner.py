"""`python -m benchmarks`: every framework in its own process, one after another, from the same inputs;
then one table (Markdown), one JSON file and one chart."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import data as data_mod
from . import latency, machine, reference, report
from .timing import measure_each
from .workloads import ROWS

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = ("pygraph", "numpy", "tf1", "pytensor", "jax", "numexpr")
IMPORT_NAME = dict(pygraph="pygraph", numpy="numpy", tf1="tensorflow", pytensor="pytensor", jax="jax",
                   numexpr="numexpr")
PEERS_VENV = ROOT / ".venv-peers"
W8_ROWS = ("w8_import", "w8_cold", "w8_warm")


def _interpreter(framework, peers_python):
    return sys.executable if framework in ("pygraph", "numpy") else peers_python


def _installed(python, framework):
    if python is None or not os.path.exists(python):
        return "not installed (run `make bench-peers`)"
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({IMPORT_NAME[framework]!r}) is None)"
    if subprocess.run([python, "-c", probe], capture_output=True).returncode != 0:
        return f"not installed in {python}"
    return None


def _run_worker(python, framework, paths, env, quick, work):
    out = os.path.join(work, f"{framework}.json")
    rows = [r.id for r in ROWS if r.id not in W8_ROWS]
    cmd = [python, "-m", "benchmarks.worker", framework, paths["data"], paths["refs"], out, "--rows", ",".join(rows)]
    proc = subprocess.run(cmd + (["--quick"] if quick else []), cwd=ROOT, env=env, text=True,
                          stdout=sys.stderr, stderr=subprocess.PIPE)
    if proc.returncode != 0 or not os.path.exists(out):
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        detail = f"worker exited {proc.returncode}: {tail}"
        return dict(info={}, rows={r: dict(status="error", detail=detail) for r in rows})
    with open(out) as f:
        return json.load(f)


def _latency_cells(python, framework, env, quick):
    reps_cold, reps_warm = (1, 1) if quick else (3, 5)
    try:
        samples, values = latency.measure(python, framework, env, ROOT, reps_cold, reps_warm, prime=not quick)
    except Exception as e:  # noqa: BLE001 - a failed child becomes a cell
        return {row: dict(status="error", detail=str(e)[:160]) for row in W8_ROWS}
    cells = {}
    for row in W8_ROWS:
        wrong = [v for v in values.get(row, []) if v != 42.0]
        if wrong:
            cells[row] = dict(status="wrong", detail=f"first result {wrong[0]}, expected 42")
        else:
            cells[row] = dict(status="ok", value=42.0 if row != "w8_import" else None,
                              **measure_each(samples[row]).as_dict())
    return cells


def run(frameworks, peers_python, threads, quick, work):
    paths = dict(data=os.path.join(work, "data.npz"), refs=os.path.join(work, "refs.npz"))
    print("preparing data and float64 references ...", file=sys.stderr, flush=True)
    data_mod.prepare(paths["data"])
    reference.save_references(paths["refs"], reference.references(data_mod.load(paths["data"])))
    env = machine.worker_env(threads)
    interpreters = {fw: _interpreter(fw, peers_python) for fw in frameworks}
    results = dict(header=machine.header(threads, {fw: p for fw, p in interpreters.items() if p}, ROOT), quick=quick,
                   frameworks=list(frameworks), info={}, cells={r.id: {} for r in ROWS})
    for fw in frameworks:
        python = interpreters[fw]
        missing = _installed(python, fw)
        if missing:
            for row in ROWS:
                results["cells"][row.id][fw] = dict(status="not installed", detail=missing)
            continue
        started = time.perf_counter()
        print(f"{fw}: workloads W1-W7 ({python})", file=sys.stderr, flush=True)
        result = _run_worker(python, fw, paths, env, quick, work)
        results["info"][fw] = dict(result["info"], load_after_w1_w7=machine.load_average())
        for row_id, cell in result["rows"].items():
            results["cells"][row_id][fw] = cell
        if fw in latency.PROGRAMS:
            print(f"{fw}: W8 fresh processes", file=sys.stderr, flush=True)
            cells = _latency_cells(python, fw, env, quick)
        else:
            cells = {row: dict(status="n/a", detail="W7 only") for row in W8_ROWS}
        for row_id, cell in cells.items():
            results["cells"][row_id][fw] = cell
        print(f"{fw}: done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    results["header"]["load_end"] = machine.load_average()
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: every workload runs once or twice and its answer is checked; "
                             "times are not meaningful")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS), help="comma-separated subset of "
                        + ", ".join(FRAMEWORKS))
    parser.add_argument("--peers-python", default=str(PEERS_VENV / "bin" / "python"),
                        help="interpreter with the peers installed (default: .venv-peers from `make bench-peers`)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads for every framework")
    parser.add_argument("--out", default=None,
                        help="folder for results.md/json/png (default benchmarks/results, which also rewrites "
                             "benchmarks/RESULTS.md; with --out or --quick RESULTS.md is left alone)")
    args = parser.parse_args(argv)
    frameworks = [f for f in args.frameworks.split(",") if f]
    unknown = sorted(set(frameworks) - set(FRAMEWORKS))
    if unknown:
        parser.error(f"unknown framework(s) {unknown}; choose from {list(FRAMEWORKS)}")

    with tempfile.TemporaryDirectory(prefix="pgbench-") as work:
        results = run(frameworks, args.peers_python, args.threads, args.quick, work)
        out = Path(args.out) if args.out else (None if args.quick else ROOT / "benchmarks" / "results")
        # An exploratory run (--out, --quick) must not rewrite the committed RESULTS.md behind the user's back.
        results_md = None if (args.quick or args.out) else ROOT / "benchmarks" / "RESULTS.md"
        table = report.write(results, out, results_md=results_md,
                             other_python=args.peers_python)
        print(table)
        if out is not None:
            print(f"written: {out}/results.json, results.md, ratio.png", file=sys.stderr)
    bad = [(row, fw, c["status"]) for row, cells in results["cells"].items() for fw, c in cells.items()
           if c["status"] in ("wrong", "error")]
    for row, fw, status in bad:
        print(f"FAILED: {row} / {fw}: {status}: {results['cells'][row][fw].get('detail')}", file=sys.stderr)
    return 1 if bad else 0
