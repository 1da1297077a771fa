"""The California-housing copy that tests train on: data/california_housing in the checkout, or the folder
named by $PYGRAPH_HOUSING_DIR. Missing data is an error, not a skip."""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

import numpy as np

from pygraph import config

DIR = config.housing_dir(Path(__file__).resolve().parents[1] / "data" / "california_housing")
CSV = DIR / "california_housing.csv.gz"


@functools.lru_cache(maxsize=None)
def load(rows=None):
    """(features (m, 8), target (m,)) as float64, the first `rows` rows or all of them."""
    if not CSV.exists():
        raise FileNotFoundError(f"California-housing data not found at {CSV}: restore data/california_housing "
                                "from the repository (git checkout -- data) or point PYGRAPH_HOUSING_DIR at a copy")
    with gzip.open(CSV, "rt") as f:
        raw = np.loadtxt(f, delimiter=",", skiprows=1, max_rows=rows)
    return raw[:, :8], raw[:, 8]
