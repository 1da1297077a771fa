"""results -> Markdown table (with pygraph's ratio to the best peer), JSON, and a log-scale ratio chart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .workloads import ROWS, UNIT_SECONDS

ANSWER_ROWS = dict(w3_fed="W3 MSE of theta (X fed)", w4_gd="W4 final MSE", w5_minibatch="W5 final MSE",
                   w6_mlp="W6 loss after 20 steps", w9_deep="W9 loss after 5 steps", w10_cnn="W10 loss after 5 steps")
UNIT_LABEL = {"us": "µs", "ms": "ms", "s": "s"}


def _num(x):
    if x >= 100:
        return f"{x:.0f}"
    return f"{x:.3g}" if x >= 0.01 else f"{x:.2g}"


def _cell(cell, unit):
    status = cell["status"]
    if status == "ok":
        scale = UNIT_SECONDS[unit]
        return f"{_num(cell['median'] / scale)} [{_num(cell['min'] / scale)}–{_num(cell['max'] / scale)}]"
    detail = (cell.get("detail") or "").replace("|", "\\|")
    label = {"unsupported": "not yet supported", "wrong": "WRONG ANSWER", "n/a": "n/a"}.get(status, status)
    return f"{label}: {detail}" if detail else label


def ratio_to_best_peer(row, cells, frameworks):
    mine = cells.get("pygraph")
    peers = [c["median"] for fw, c in cells.items()
             if fw != "pygraph" and fw in frameworks and fw not in row.not_a_peer and c["status"] == "ok"]
    if not mine or mine["status"] != "ok" or not peers:
        return None
    return mine["median"] / min(peers)


def _best_peer(row, results):
    cells = results["cells"][row.id]
    peers = [(c["median"], fw) for fw, c in cells.items()
             if fw != "pygraph" and fw not in row.not_a_peer and c["status"] == "ok"]
    return min(peers)[1] if peers else "—"


def _header_lines(results):
    h = results["header"]
    info = results["info"]
    versions = ", ".join(f"{fw} {info[fw].get('version', '?')}" for fw in results["frameworks"] if fw in info)
    pools = {}  # one line per distinct OpenBLAS build, naming the processes that loaded it
    for fw, i in info.items():
        for pool in i.get("blas") or []:
            if isinstance(pool, dict) and pool.get("internal_api") == "openblas":
                key = (f"{pool.get('prefix')} {pool.get('version')}: core {pool.get('architecture')}, "
                       f"{pool.get('num_threads')} threads")
                pools.setdefault(key, []).append(fw)
    blas = [f"{key} ({', '.join(fws)})" for key, fws in pools.items()]
    so = info.get("pygraph", {}).get("scipy_openblas32")
    if isinstance(so, dict):
        blas.append(f"pygraph's BLAS kernels call {so['library']}: core {so['corename']}, {so['num_threads']} threads")
    lines = [
        f"- Date: {h['date']}{' (quick mode: times are not meaningful)' if results['quick'] else ''}",
        f"- Machine: {h['cpu']}, {h['cores']} cores, {h['memory_gib']} GiB, {h['os']}; {h['compiler']}",
        f"- Load average (1 min) at start / end: {h.get('load_start', '?')} / {h.get('load_end', '?')}; after each "
        "framework's W1-W7: " + ", ".join(f"{fw} {i.get('load_after_w1_w7', '?')}" for fw, i in info.items())
        + " (other work on the 2 cores inflates max and, when large, the median: OpenBLAS's second thread waits "
        "for a busy core)",
        f"- Versions: {versions}; pygraph source {h.get('source', 'unknown')}",
        "- Python: " + ", ".join(f"{fw} {v['python']}" for fw, v in h["interpreters"].items()),
        f"- Threads: {h['threads']} for every framework (" + ", ".join(f"{k}={v}" for k, v in h["thread_env"].items())
        + f"; XLA_FLAGS=`{h['xla_flags']}`; TF intra_op={h['threads']}, inter_op=1)",
        f"- OpenBLAS: OPENBLAS_CORETYPE={h['openblas_coretype']}, OPENBLAS_L2_SIZE={h['openblas_l2_size']}; "
        + ("; ".join(blas) or "core type not reported"),
    ]
    pt = info.get("pytensor")
    if pt:
        lines.append(f"- PyTensor: mode {pt.get('mode')}, linker {pt.get('linker')}, BLAS {pt.get('blas__ldflags')}")
    return lines


def markdown(results):
    fws = results["frameworks"]
    lines = ["# pygraph benchmarks", ""] + _header_lines(results) + [
        "",
        "Each cell: median [min–max] over many repetitions after a warm-up, every framework in its own process, "
        "from the same inputs; every answer was checked against a float64 numpy reference before it was timed. "
        "Ratio: pygraph's median / the best other column's (below 1: pygraph is faster).",
        "",
        "| workload | unit | " + " | ".join(fws) + " | pygraph / best peer |",
        "|---|---|" + "---|" * len(fws) + "---|",
    ]
    for row in ROWS:
        cells = results["cells"][row.id]
        ratio = ratio_to_best_peer(row, cells, fws)
        ratio_text = f"{ratio:.2f}" if ratio is not None else "—"
        body = " | ".join(_cell(cells.get(fw, dict(status="n/a")), row.unit) for fw in fws)
        lines.append(f"| {row.title} | {UNIT_LABEL[row.unit]} | {body} | {ratio_text} |")
    behind = sorted(((ratio_to_best_peer(r, results["cells"][r.id], fws), r) for r in ROWS), key=lambda p: -(p[0] or 0))
    behind = [(ratio, row) for ratio, row in behind[:3] if ratio is not None and ratio > 1]
    if behind:
        lines += ["", "Furthest behind the best peer: " + "; ".join(
            f"{row.title} ({ratio:.2f}x, best: {_best_peer(row, results)})"
            for ratio, row in behind) + "."]
    lines += ["", "Checked answers (computed in float64 from each framework's result):", "",
              "| answer | " + " | ".join(fws) + " |", "|---|" + "---|" * len(fws)]
    for row_id, title in ANSWER_ROWS.items():
        cells = results["cells"][row_id]
        vals = [f"{cells[fw]['value']:.6f}" if cells.get(fw, {}).get("status") == "ok" else "—" for fw in fws]
        lines.append(f"| {title} | " + " | ".join(vals) + " |")
    lines += ["", "Notes: W3 with tf.constant inputs may be constant-folded once by a framework (pygraph, TF's "
              "grappler, XLA, PyTensor's rewrites), as the lecture's program allows. TF1 and numpy keep no compile "
              "cache, so their W8 cold and warm rows measure the same thing; numpy builds no graph, so its W8 "
              "first-result rows are left out of the ratio. W7's floor rows are the memory traffic "
              "of reading and writing 10M floats once, into a reused array and into a fresh one (whose page "
              "faults every framework that returns a new array also pays). pygraph hands back the previous output "
              "buffer when the caller has dropped the previous result, which the first W7 row allows and the second "
              "(`y = run(...)`, the usual loop) does not."]
    return "\n".join(lines) + "\n"


def chart(results, path):
    """Horizontal bars, log scale: each framework's median / numpy's, per timed row (numpy-only rows and
    W8's first-result rows, where numpy builds nothing, are left out)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fws = [fw for fw in results["frameworks"] if fw != "numpy"]
    rows = [r for r in ROWS if results["cells"][r.id].get("numpy", {}).get("status") == "ok"
            and not r.only and "numpy" not in r.not_a_peer]  # only rows where numpy is a fair yardstick
    fig, ax = plt.subplots(figsize=(9, 0.16 * len(rows) * max(1, len(fws)) + 1.5))
    height = 0.8 / max(1, len(fws))
    for k, fw in enumerate(fws):
        ys, xs = [], []
        for i, row in enumerate(rows):
            cell, base = results["cells"][row.id].get(fw, {}), results["cells"][row.id]["numpy"]
            if cell.get("status") == "ok" and base["median"] > 0:
                ys.append(i + k * height)
                xs.append(cell["median"] / base["median"])
        ax.barh(ys, xs, height=height, label=fw)
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(rows))], [r.title[:60] for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("time / numpy's time (log scale; < 1 is faster than numpy)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = f"{path}.tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return True


def _write_text(path, text):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _chart_anywhere(results, path, json_path, other_python):
    """matplotlib is optional: use it here if installed, else in the peers' interpreter if that has it."""
    if chart(results, path):
        return True
    if other_python and os.path.exists(other_python):
        cmd = [other_python, "-m", "benchmarks.report", str(json_path), str(path)]
        return subprocess.run(cmd, cwd=Path(__file__).resolve().parents[1], capture_output=True).returncode == 0
    return False


def write(results, out, results_md=None, other_python=None):
    """Write results.json, results.md and ratio.png under `out` (if given); return the Markdown table."""
    table = markdown(results)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        _write_text(out / "results.json", json.dumps(results, indent=1, default=str))
        _write_text(out / "results.md", table)
        if not _chart_anywhere(results, out / "ratio.png", out / "results.json", other_python):
            print("no chart: matplotlib is not installed", file=sys.stderr)
    if results_md is not None:
        _write_text(results_md, table.replace("# pygraph benchmarks", "## Performance", 1)
                    + "\nReproduce: `make bench-peers && make bench` (`make bench BENCH_ARGS=--quick`: smoke "
                    "test). Full data: `benchmarks/results/results.json`; chart: `benchmarks/results/ratio.png`.\n")
    return table


if __name__ == "__main__":  # python -m benchmarks.report results.json chart.png (from an env with matplotlib)
    with open(sys.argv[1]) as f:
        sys.exit(0 if chart(json.load(f), sys.argv[2]) else 1)
