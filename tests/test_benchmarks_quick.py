"""benchmarks/: the answer checks reject wrong answers, and the quick mode runs every workload for numpy
and pygraph with checked answers (times are never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import data as bench_data
from benchmarks import reference
from benchmarks.workloads import CHECKS, ROWS, WrongAnswer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "data.npz"
    bench_data.prepare(str(path))
    d = bench_data.load(str(path))
    return d, reference.references(d)


def test_references_match_known_facts(prepared):
    d, ref = prepared
    assert d.housing_X.shape == (20640, 9) and d.housing_X.dtype == np.float32
    # Least squares on the full California housing set: the training MSE is 0.5243 (LinearRegression's fit).
    assert abs(ref["ne_mse"] - 0.5243) < 5e-4
    # Gradient descent from theta0 approaches that optimum from above.
    assert ref["ne_mse"] < ref["gd_mse"] < reference.mse(d.theta0.astype(float), d.scaled_X.astype(float),
                                                          d.housing_y.astype(float))
    # The MLP's softmax cross-entropy starts near log(10) for random labels.
    assert abs(ref["mlp_loss"] - np.log(10)) < 0.5


def test_float32_numpy_baseline_passes_every_check(prepared):
    d, ref = prepared
    params = d.mlp_params()
    answers = {
        "w1_run": np.float32(42), "w2_feed": d.feed_A + np.float32(5),
        "w3_fed": reference.normal_equation(d.housing_X, d.housing_y),
        "w4_gd": reference.gd(d.theta0, d.scaled_X, d.housing_y),
        "w5_minibatch": reference.minibatch(d.theta0, d.batch_X, d.batch_y),
        "w6_mlp": reference.mlp_train(params, d),
    }
    for row_id, answer in answers.items():
        CHECKS[row_id](answer, d, ref)


def _w10_loss(d):
    from benchmarks import nets

    return nets.w10_loss_and_grads(nets.w10_params(d), d.w10_x, d.w10_y)[0]


@pytest.mark.parametrize("row_id, corrupt", [
    ("w1_run", lambda d: 41.0),
    ("w2_feed", lambda d: np.where(np.arange(300).reshape(100, 3) == 7, 0, d.feed_A + 5).astype(np.float32)),
    ("w2_feed", lambda d: (d.feed_A + 5).astype(np.float64)),
    ("w3_fed", lambda d: reference.normal_equation(d.housing_X, d.housing_y) * 1.1),
    ("w4_gd", lambda d: d.theta0),  # untrained
    ("w4_gd", lambda d: reference.gd(d.theta0, d.scaled_X, d.housing_y, steps=900)),  # stopped early
    ("w5_minibatch", lambda d: reference.minibatch(d.theta0, d.batch_X[:-50], d.batch_y[:-50])),
    ("w6_mlp", lambda d: reference.mlp_train(d.mlp_params(), d, steps=19)),
    ("w7_fused", lambda d: np.maximum(d.w7_x * 1.5 + 0.5, 0) * 2.0),
    ("w9_deep", lambda d: (2.0, 1.0)),  # a loss before training the forward pass does not give
    ("w10_cnn", lambda d: (_w10_loss(d),) * 2),  # untrained
])
def test_checks_reject_wrong_answers(prepared, row_id, corrupt):
    d, ref = prepared
    with pytest.raises(WrongAnswer):
        CHECKS[row_id](corrupt(d), d, ref)


def test_quick_mode_runs_every_workload_with_checked_answers(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--frameworks", "numpy,pygraph",
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert "| W1 tiny graph" in proc.stdout
    for row in ROWS:
        cells = results["cells"][row.id]
        for fw in ("numpy", "pygraph"):
            status = cells[fw]["status"]
            if row.only and fw not in row.only:
                assert status == "n/a"
            elif fw == "numpy" and row.id == "w1_callable":
                assert status == "n/a"
            else:  # every op the lecture needs exists: "not yet supported" would be a regression
                assert status == "ok", (row.id, cells[fw])
    assert results["cells"]["w1_run"]["pygraph"]["status"] == "ok"
    assert results["cells"]["w8_warm"]["pygraph"]["value"] == 42.0
