"""The offline California-housing copy that tests train on: ../shared/data beside the checkout (as in
CI), or the folder named by $PYGRAPH_HOUSING_DIR. Missing data is an error, not a skip."""

from __future__ import annotations

import functools
import gzip
import os
from pathlib import Path

import numpy as np

DIR = Path(os.environ.get("PYGRAPH_HOUSING_DIR")
           or Path(__file__).resolve().parents[2] / "shared" / "data" / "california_housing")
CSV = DIR / "california_housing.csv.gz"


@functools.lru_cache(maxsize=None)
def load(rows=None):
    """(features (m, 8), target (m,)) as float64, the first `rows` rows or all of them."""
    if not CSV.exists():
        raise FileNotFoundError(f"offline California-housing data not found at {CSV}; the tests expect the "
                                "project's shared/ folder beside the checkout, or PYGRAPH_HOUSING_DIR")
    with gzip.open(CSV, "rt") as f:
        raw = np.loadtxt(f, delimiter=",", skiprows=1, max_rows=rows)
    return raw[:, :8], raw[:, 8]
