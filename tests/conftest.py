"""Shared test setup: a private compiled-module cache and a fresh default graph for every test."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

# Before pygraph compiles anything: the suite must not read or fill the user's own cache. CI may point
# PYGRAPH_CACHE_DIR somewhere on purpose (to keep it between runs); then that one is used.
_OWN_CACHE = None
if not os.environ.get("PYGRAPH_CACHE_DIR"):
    _OWN_CACHE = tempfile.mkdtemp(prefix="pygraph-test-cache-")
    os.environ["PYGRAPH_CACHE_DIR"] = os.path.join(_OWN_CACHE, "cache")

# Tests check the optimized code, deterministically: no quick tier and background swaps (test_tiers.py
# turns them on where it tests them).
os.environ.setdefault("PYGRAPH_OPTIMIZED_ONLY", "1")

import pygraph as tf  # noqa: E402

try:  # keep hypothesis runs short and deterministic: each example reuses one compiled program
    from hypothesis import HealthCheck, settings

    settings.register_profile("pygraph", max_examples=25, deadline=None, derandomize=True, database=None,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("pygraph")
except ImportError:  # hypothesis is a test extra; tests that need it import-skip
    pass


def pytest_sessionfinish(session, exitstatus):
    if _OWN_CACHE is not None:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)


@pytest.fixture(autouse=True)
def fresh_default_graph():
    """Every test starts from an empty default graph, as a fresh TF1 program does."""
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


@pytest.fixture
def cache_dir():
    """The compiled-module cache directory this test run uses."""
    return os.environ["PYGRAPH_CACHE_DIR"]
