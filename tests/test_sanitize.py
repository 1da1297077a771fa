"""Sanitizer mode (PYGRAPH_SANITIZE): the setting, its compile flags and cache keys, the clear error when
ASan is not preloaded, and real sanitized runs through the `python -m pygraph.sanitize` launcher."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pygraph import config, errors, sanitize

PROGRAM = """
import numpy as np, pygraph as tf
x = tf.placeholder(tf.float32, [None])
y = tf.reduce_sum(tf.maximum(x * 1.5 + 0.5, 0.0))
with tf.Session() as sess:
    v = np.linspace(-2, 2, 1001, dtype=np.float32)
    got = sess.run(y, {x: v})
    assert abs(got - np.maximum(v * 1.5 + 0.5, 0).sum()) < 1e-3, got
    (plan, _), = sess._plans.values()
print(plan.kernel.path, __import__("pygraph.sanitize").sanitize.asan_loaded())
"""


def _run(command, **env):
    full = {k: v for k, v in os.environ.items() if k not in ("PYGRAPH_SANITIZE", "LD_PRELOAD")}
    full.update(env)
    return subprocess.run(command, capture_output=True, text=True, timeout=180, env=full)


def test_setting_is_parsed_canonically(monkeypatch):
    monkeypatch.setenv("PYGRAPH_SANITIZE", " undefined , address,undefined")
    assert config.sanitizers() == ["address", "undefined"]
    assert "-fsanitize=address,undefined" in config.extra_cxxflags()  # so the cache keys differ
    monkeypatch.setenv("PYGRAPH_SANITIZE", "")
    assert config.sanitizers() == [] and not any(f.startswith("-fsanitize") for f in config.extra_cxxflags())
    monkeypatch.setenv("PYGRAPH_SANITIZE", "address,thread")
    with pytest.raises(ValueError, match="unknown sanitizer.*thread"):
        config.sanitizers()


def test_address_mode_without_preload_explains_instead_of_aborting(monkeypatch):
    monkeypatch.setenv("PYGRAPH_SANITIZE", "address")
    assert not sanitize.asan_loaded()
    with pytest.raises(errors.FailedPreconditionError, match="python -m pygraph.sanitize"):
        sanitize.check_process()


def test_launcher_environment_preloads_libasan_first():
    env = sanitize.sanitizer_environment({"LD_PRELOAD": "/opt/mine.so"}, ["address", "undefined"])
    preload = env["LD_PRELOAD"].split()
    assert os.path.basename(preload[0]).startswith("libasan") and preload[-1] == "/opt/mine.so"
    assert env["PYGRAPH_SANITIZE"] == "address,undefined" and "detect_leaks=0" in env["ASAN_OPTIONS"]
    assert "LD_PRELOAD" not in sanitize.sanitizer_environment({}, ["undefined"])  # UBSan loads on its own


def test_kernels_run_under_address_and_undefined_sanitizers(cache_dir):
    """The launcher starts a program whose kernels are built with ASan+UBSan: same answer, own cache entry."""
    plain = _run([sys.executable, "-c", PROGRAM])
    assert plain.returncode == 0, plain.stderr
    sanitized = _run([sys.executable, "-m", "pygraph.sanitize", sys.executable, "-c", PROGRAM],
                     PYGRAPH_SANITIZE="address,undefined")
    assert sanitized.returncode == 0, sanitized.stderr
    plain_module, plain_asan = plain.stdout.split()
    module, asan = sanitized.stdout.split()
    assert plain_asan == "False" and asan == "True"  # the launcher put ASan in the process
    assert module != plain_module  # another cache entry, built with the sanitizers (linked to their runtimes)
    with open(module, "rb") as f, open(plain_module, "rb") as g:
        built, plain_built = f.read(), g.read()
    assert b"libasan" in built and b"libubsan" in built and b"libasan" not in plain_built
