"""The table's rows: what each measures, its unit, and the check its answer must pass.

A check gets the framework's answer, the shared inputs and the float64 references; it returns the value
worth printing (e.g. the final MSE) or raises WrongAnswer, so a fast wrong answer can never win.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import reference


class WrongAnswer(Exception):
    pass


@dataclass(frozen=True)
class Row:
    id: str
    title: str
    unit: str  # "us", "ms" or "s": the unit the table prints
    only: tuple = ()  # frameworks that can run it (empty: all)
    not_a_peer: tuple = ()  # columns left out of "best peer" (numpy builds no graph, so W8 is trivial for it)
    keeps_result_of: str = ""  # time this row's case with each result held until the next one is made


ROWS = [
    Row("w1_run", "W1 tiny graph `f = x*x*y + y + 2`: run(f)", "us"),
    Row("w1_callable", "W1 tiny graph: make_callable(f)()", "us"),
    Row("w2_feed", "W2 feed: `B = A + 5`, A (100, 3)", "us"),
    Row("w3_const", "W3 normal equation, tf.constant inputs", "ms"),
    Row("w3_fed", "W3 normal equation, X fed per run", "ms"),
    Row("w4_gd", "W4 1000 full-batch GD steps (autodiff + optimizer), in all", "s"),
    Row("w5_minibatch", "W5 mini-batch GD (batch 100, 10 epochs), per step", "us"),
    Row("w6_mlp", "W6 MLP 784-300-100-10 SGD step, batch 256", "ms"),
    Row("w9_deep", "W9 deep net 5x100 ELU + batch norm, He init, Adam step, batch 50", "ms"),
    Row("w10_cnn", "W10 CNN conv 3x3x32 + relu, max-pool 2x2, dense 10, SGD step, batch 64", "ms"),
    Row("w7_fused", "W7 fused `maximum(x*1.5 + 0.5, 0)*2.0 - x`, 10M floats", "ms"),
    Row("w7_kept", "W7 again, each result kept until the next exists (`y = run(...)` in a loop)", "ms",
        keeps_result_of="w7_fused"),
    Row("w7_floor", "W7 floor: `np.copyto` of the same 10M floats", "ms", only=("numpy",)),
    Row("w7_floor_new", "W7 floor with a fresh output: `x.copy()`", "ms", only=("numpy",)),
    Row("w8_import", "W8 `import` time, fresh process", "ms"),
    Row("w8_cold", "W8 fresh process: W1 graph to first result, cold cache", "ms", not_a_peer=("numpy",)),
    Row("w8_warm", "W8 fresh process: W1 graph to first result, warm cache", "ms", not_a_peer=("numpy",)),
]
ROW_BY_ID = {row.id: row for row in ROWS}
UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def _close(name, got, want, rtol, atol=0.0):
    got = np.asarray(got, dtype=np.float64)
    if got.shape != np.shape(want):
        raise WrongAnswer(f"{name} has shape {got.shape}, expected {np.shape(want)}")
    if not np.allclose(got, want, rtol=rtol, atol=atol):
        worst = np.max(np.abs(got - want))
        raise WrongAnswer(f"{name} differs from the reference by up to {worst:.3g} (rtol {rtol}, atol {atol})")


def _moved_like(name, got, start, want, tol):
    """After training, the parameters must have moved as the reference did: |got - want| <= tol |want - start|."""
    got = np.asarray(got, dtype=np.float64)
    if got.shape != want.shape:
        raise WrongAnswer(f"{name} has shape {got.shape}, expected {want.shape}")
    err, moved = np.linalg.norm(got - want), np.linalg.norm(want - start)
    if not err <= tol * moved:
        raise WrongAnswer(f"{name} is {err:.3g} from the reference, which moved {moved:.3g} from the start")


def _float32(name, answer):
    if np.asarray(answer).dtype != np.float32:
        raise WrongAnswer(f"{name} has dtype {np.asarray(answer).dtype}, expected float32 (the workload's dtype)")


def check_f(answer, data, ref):
    if float(np.asarray(answer)) != 42.0:
        raise WrongAnswer(f"f = {answer!r}, expected 42")
    return 42.0


def check_feed(answer, data, ref):
    answer = np.asarray(answer)
    _float32("B", answer)
    if answer.shape != (100, 3) or not np.array_equal(answer, data.feed_A + np.float32(5)):
        raise WrongAnswer(f"B (shape {answer.shape}) is not A + 5")
    return None


def check_normal_equation(answer, data, ref):
    """float32 inverts a badly conditioned X^T X (unscaled data), so theta may drift a few percent from the
    float64 least squares; the fit it gives must still be within 1% of the optimum MSE."""
    X, y = data.housing_X.astype(np.float64), data.housing_y.astype(np.float64)
    theta = np.asarray(answer, dtype=np.float64)
    if theta.shape != ref["ne_theta"].shape:
        raise WrongAnswer(f"theta has shape {theta.shape}, expected {ref['ne_theta'].shape}")
    scale = np.max(np.abs(ref["ne_theta"]))
    if np.max(np.abs(theta - ref["ne_theta"])) > 0.05 * scale:
        raise WrongAnswer(f"theta {theta.ravel()} is far from numpy's {ref['ne_theta'].ravel()}")
    fit = reference.mse(theta, X, y)
    if not fit <= 1.01 * ref["ne_mse"]:
        raise WrongAnswer(f"MSE of theta {fit:.6f} > 1.01 x the least-squares optimum {ref['ne_mse']:.6f}")
    return float(fit)


def _check_trained_theta(key):
    def check(answer, data, ref):
        X, y = data.scaled_X.astype(np.float64), data.housing_y.astype(np.float64)
        theta = np.asarray(answer, dtype=np.float64)
        _moved_like("theta", theta, data.theta0.astype(np.float64), ref[f"{key}_theta"], 1e-2)
        fit = reference.mse(theta, X, y)
        _close("final MSE", fit, ref[f"{key}_mse"], rtol=1e-3)
        return float(fit)
    return check


def check_mlp(answer, data, ref):
    loss, params = answer
    _close("loss after training", float(loss), ref["mlp_loss"], rtol=1e-3)
    for i, (got, start, want) in enumerate(zip(params, data.mlp_params(), ref["mlp_params"])):
        _moved_like(f"parameter {i}", got, start.astype(np.float64), want, 2e-2)
    return float(loss)


def check_fused(answer, data, ref):
    _float32("result", answer)
    x = data.w7_x
    want = np.maximum(x * np.float32(1.5) + np.float32(0.5), np.float32(0)) * np.float32(2.0) - x
    _close("result", answer, want, rtol=1e-6, atol=1e-6)
    return None


def check_copy(answer, data, ref):
    if not np.array_equal(answer, data.w7_x):
        raise WrongAnswer("copy differs from the source")
    return None


def _check_trained_net(key):
    """(loss before, loss after nets.CHECK_STEPS steps on the batch): the first is the float64 forward
    pass's, the second lower (the step trains)."""

    def check(answer, data, ref):
        before, after = (float(v) for v in answer)
        _close("loss before training", before, float(ref[f"{key}_loss0"]), rtol=1e-3)
        if not after < before - 0.01:
            raise WrongAnswer(f"loss after training {after:.6g} is not below the loss before, {before:.6g}")
        return after
    return check


CHECKS = {
    "w1_run": check_f, "w1_callable": check_f, "w2_feed": check_feed,
    "w3_const": check_normal_equation, "w3_fed": check_normal_equation,
    "w4_gd": _check_trained_theta("gd"), "w5_minibatch": _check_trained_theta("mb"),
    "w6_mlp": check_mlp, "w9_deep": _check_trained_net("w9"), "w10_cnn": _check_trained_net("w10"),
    "w7_fused": check_fused, "w7_kept": check_fused,
    "w7_floor": check_copy, "w7_floor_new": check_copy,
    "w8_import": None, "w8_cold": check_f, "w8_warm": check_f,
}
