"""The inputs every framework gets (same data, same initial values), written once per run to an .npz.

The runner calls `prepare(path, quick)`; each worker process calls `load(path)`.  Only numpy is used
here, so the module imports in pygraph's venv and in the peers' venv alike.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

DEFAULT_HOUSING_DIR = Path(__file__).resolve().parents[1] / "data" / "california_housing"

SEED = 42
LEARNING_RATE = 0.01
GD_STEPS = 1000  # W4
BATCH_SIZE = 100  # W5
EPOCHS = 10  # W5
MLP_SIZES = (784, 300, 100, 10)  # W6
MLP_BATCH = 256
MLP_BATCHES = 4  # distinct batches cycled through by the W6 answer check
MLP_CHECK_STEPS = 20
W7_SIZE = 10_000_000


def _housing():
    """The checkout's data/ copy, or the folder named by $PYGRAPH_HOUSING_DIR (as the tests). Runs in the runner
    (pygraph's venv), never in a peer's worker, so pygraph's config is importable here."""
    from pygraph import config

    path = config.housing_dir(DEFAULT_HOUSING_DIR) / "california_housing.csv.gz"
    if not path.exists():
        raise FileNotFoundError(f"California-housing data not found at {path}: restore data/california_housing "
                                "from the repository (git checkout -- data) or point PYGRAPH_HOUSING_DIR at a copy")
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", skiprows=1)
    return table[:, :8], table[:, 8:9]


def _truncated_normal(rng, shape, stddev):
    """tf.truncated_normal's distribution: redraw values beyond two standard deviations."""
    z = rng.standard_normal(shape)
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    return z * stddev


def prepare(path):
    """Build every input in float64, store float32 copies (and the float64 originals the checks need)."""
    features, target = _housing()
    m, n = features.shape
    bias = np.ones((m, 1))
    plus_bias = np.c_[bias, features]
    scaled = (features - features.mean(axis=0)) / features.std(axis=0)  # StandardScaler (ddof=0)
    scaled_plus_bias = np.c_[bias, scaled]
    theta0 = np.random.RandomState(SEED).uniform(-1.0, 1.0, size=(n + 1, 1))

    # The lecture's fetch_batch: np.random.seed(epoch * n_batches + batch_index); randint(m, size=batch_size)
    n_batches = int(np.ceil(m / BATCH_SIZE))
    batch_index = np.empty((EPOCHS * n_batches, BATCH_SIZE), dtype=np.int64)
    for epoch in range(EPOCHS):
        for b in range(n_batches):
            np.random.seed(epoch * n_batches + b)
            batch_index[epoch * n_batches + b] = np.random.randint(m, size=BATCH_SIZE)

    rng = np.random.default_rng(SEED)
    mlp_x = rng.uniform(0.0, 1.0, size=(MLP_BATCHES * MLP_BATCH, MLP_SIZES[0]))
    mlp_y = rng.integers(0, MLP_SIZES[-1], size=MLP_BATCHES * MLP_BATCH)
    mlp_params = {}
    for i, (fan_in, fan_out) in enumerate(zip(MLP_SIZES[:-1], MLP_SIZES[1:]), start=1):
        mlp_params[f"mlp_W{i}"] = _truncated_normal(rng, (fan_in, fan_out), 2.0 / np.sqrt(fan_in))
        mlp_params[f"mlp_b{i}"] = np.zeros(fan_out)
    w7_x = rng.standard_normal(W7_SIZE)
    from . import nets  # W9/W10: drawn after W7, so the earlier rows' inputs stay as they were

    net_arrays = nets.prepare(rng, _truncated_normal)

    f32 = np.float32
    arrays = dict(
        housing_X=plus_bias.astype(f32), housing_y=target.astype(f32),
        scaled_X=scaled_plus_bias.astype(f32), theta0=theta0.astype(f32), batch_index=batch_index,
        mlp_x=mlp_x.astype(f32), mlp_y=mlp_y.astype(np.int32), w7_x=w7_x.astype(f32),
        **{k: v.astype(f32) for k, v in mlp_params.items()},
        **{k: v.astype(np.int32 if k.endswith("_y") else f32) for k, v in net_arrays.items()},
    )
    tmp = f"{path}.tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


class Data:
    """The shared inputs, loaded in a worker; float32 arrays as every framework receives them."""

    def __init__(self, path):
        with np.load(path) as z:
            self.__dict__.update({k: z[k] for k in z.files})
        self.m = self.housing_X.shape[0]
        self.n_batches = self.batch_index.shape[0] // EPOCHS
        self.batch_X = self.scaled_X[self.batch_index]  # gathered once, outside any timing
        self.batch_y = self.housing_y[self.batch_index]
        self.feed_A = self.scaled_X[:100, 1:4].copy()  # W2: a (100, 3) float32 array

    def mlp_params(self):
        return [getattr(self, f"mlp_{kind}{i}") for i in range(1, len(MLP_SIZES)) for kind in ("W", "b")]

    def mlp_batch(self, k):
        rows = slice(k * MLP_BATCH, (k + 1) * MLP_BATCH)
        return self.mlp_x[rows], self.mlp_y[rows]


def load(path):
    return Data(path)
