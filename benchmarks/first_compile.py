"""Graph construction to first result for a ~20-op graph in fresh processes, cold and warm cache.

    .venv/bin/python -m benchmarks.first_compile [repeats]

The graph is five rounds of `tanh(h*0.9 + 0.1) - square(h)*0.01` on a (None, 16) placeholder, summed:
27 compute ops that fuse into one reduction kernel. Prints medians over `repeats` fresh cache dirs.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import time
import numpy as np
import pygraph as tf
t0 = time.perf_counter()
x = tf.placeholder(tf.float32, (None, 16), name="x")
h = x
for _ in range(5):
    h = tf.tanh(h * 0.9 + 0.1) - tf.square(h) * 0.01
y = tf.reduce_sum(h)
with tf.Session() as sess:
    value = sess.run(y, {x: np.ones((8, 16), np.float32)})
assert np.isfinite(value)
print((time.perf_counter() - t0) * 1e3)
"""


def first_result_ms(cache):
    env = dict(os.environ, PYGRAPH_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(repeats=5):
    cold, warm = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as d:
            cold.append(first_result_ms(os.path.join(d, "cache")))
            warm.append(first_result_ms(os.path.join(d, "cache")))
    print(f"first result, cold cache: {statistics.median(cold):.0f} ms [{min(cold):.0f}-{max(cold):.0f}]")
    print(f"first result, warm cache: {statistics.median(warm):.1f} ms [{min(warm):.1f}-{max(warm):.1f}]")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
