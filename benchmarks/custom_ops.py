"""Custom-op costs (issue 10): `python -m benchmarks.custom_ops [--quick]`.

1. Call overhead of an opaque TF-style kernel: a chain of K custom ops (each copying a 4-float vector) minus
   the same chain with K built-in gathers of the same size, per op (same process, alternating runs).
2. W7 `maximum(x*1.5 + 0.5, 0)*2 - x` on 10M floats: built-in, with `maximum` as a fused inline op, and as
   an opaque kernel (an extra pass over memory). Ratios are taken from the same interleaved rounds.
3. Build time of the guide's ZeroOut through build_op_library: cold (empty cache) and cached.
Medians over rounds; the machine is shared, so compare ratios more than absolute numbers."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

COPY_OP = r"""
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
using namespace tensorflow;
REGISTER_OP("BenchCopy").Input("x: float").Output("y: float").SetShapeFn(shape_inference::UnchangedShape);
REGISTER_OP("BenchMaxZero").Input("x: float").Output("y: float").SetShapeFn(shape_inference::UnchangedShape);
class BenchCopy : public OpKernel {
 public:
  explicit BenchCopy(OpKernelConstruction* c) : OpKernel(c) {}
  void Compute(OpKernelContext* c) override {
    Tensor* out = nullptr;
    OP_REQUIRES_OK(c, c->allocate_output(0, c->input(0).shape(), &out));
    auto in = c->input(0).flat<float>();
    auto o = out->flat<float>();
    for (int64 i = 0; i < in.size(); ++i) o(i) = in(i);
  }
};
class BenchMaxZero : public OpKernel {
 public:
  explicit BenchMaxZero(OpKernelConstruction* c) : OpKernel(c) {}
  void Compute(OpKernelContext* c) override {
    Tensor* out = nullptr;
    OP_REQUIRES_OK(c, c->allocate_output(0, c->input(0).shape(), &out));
    const float* in = c->input(0).flat<float>().data();
    float* o = out->flat<float>().data();
    const int64 n = c->input(0).NumElements();
    for (int64 i = 0; i < n; ++i) o[i] = in[i] > 0.0f ? in[i] : 0.0f;
  }
};
REGISTER_KERNEL_BUILDER(Name("BenchCopy").Device(DEVICE_CPU), BenchCopy);
REGISTER_KERNEL_BUILDER(Name("BenchMaxZero").Device(DEVICE_CPU), BenchMaxZero);
"""


def _median_time(fn, number):
    t = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t) / number


def call_overhead(tf, ops, k, rounds, number):
    x = tf.placeholder(tf.float32, [4])
    custom, builtin = x, x
    idx = tf.constant([0, 1, 2, 3])
    for _ in range(k):
        custom = ops.bench_copy(custom)
        builtin = tf.gather(builtin, idx)
    v = np.arange(4, dtype=np.float32)
    with tf.Session() as sess:
        run_c = sess.make_callable(custom, [x])
        run_b = sess.make_callable(builtin, [x])
        np.testing.assert_array_equal(run_c(v), v)
        np.testing.assert_array_equal(run_b(v), v)
        diffs, tc, tb = [], [], []
        for _ in range(rounds):
            c = _median_time(lambda: run_c(v), number)
            b = _median_time(lambda: run_b(v), number)
            tc.append(c)
            tb.append(b)
            diffs.append((c - b) / k)
    return statistics.median(tc) / k, statistics.median(tb) / k, statistics.median(diffs)


def w7(tf, ops, rounds, n=10_000_000):
    inline_max = tf.inline_op("BenchMaximumInline", ["a", "b"], {tf.float32: "a > b ? a : b"})
    x = tf.placeholder(tf.float32, [None])
    zero = tf.constant(0.0)
    t = x * 1.5 + 0.5
    graphs = {"built-in maximum": tf.maximum(t, zero) * 2.0 - x,
              "inline op": inline_max(t, zero) * 2.0 - x,
              "opaque kernel": ops.bench_max_zero(t) * 2.0 - x}
    v = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    want = np.maximum(v * np.float32(1.5) + np.float32(0.5), 0) * np.float32(2) - v
    times = {k: [] for k in graphs}
    with tf.Session() as sess:
        calls = {k: sess.make_callable(g, [x]) for k, g in graphs.items()}
        for c in calls.values():
            np.testing.assert_allclose(c(v), want, rtol=1e-6, atol=1e-6)
        for _ in range(rounds):
            for k, c in calls.items():
                t0 = time.perf_counter()
                c(v)
                times[k].append(time.perf_counter() - t0)
    base = times["built-in maximum"]
    return {k: (statistics.median(ts), statistics.median([a / b for a, b in zip(ts, base)]))
            for k, ts in times.items()}


def build_times(tf):
    from pygraph.custom_ops import build

    source = Path(__file__).resolve().parent.parent / "tests" / "custom_ops" / "zero_out.cc"
    old = os.environ.get("PYGRAPH_CACHE_DIR")
    with tempfile.TemporaryDirectory() as d:
        os.environ["PYGRAPH_CACHE_DIR"] = d
        try:
            t0 = time.perf_counter()
            build.build_op_library([str(source)], name="zero_out")
            cold = time.perf_counter() - t0
            cached = min(_median_time(lambda: build.build_op_library([str(source)], name="zero_out"), 1)
                         for _ in range(5))
        finally:
            if old is None:
                del os.environ["PYGRAPH_CACHE_DIR"]
            else:
                os.environ["PYGRAPH_CACHE_DIR"] = old
    return cold, cached


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    args = parser.parse_args(argv)
    import pygraph as tf

    ops = tf.load_op_library(sources=[COPY_OP], name="bench_ops")
    rounds = 3 if args.quick else 11
    per_c, per_b, diff = call_overhead(tf, ops, k=50, rounds=rounds, number=50 if args.quick else 400)
    print(f"call overhead (chain of 50, 4 floats): custom {per_c * 1e9:.0f} ns/op, built-in gather "
          f"{per_b * 1e9:.0f} ns/op, custom - built-in {diff * 1e9:.0f} ns/op (median of {rounds} rounds)")
    for name, (t, ratio) in w7(tf, ops, rounds=5 if args.quick else 21).items():
        print(f"W7 10M floats, {name}: {t * 1e3:.2f} ms, {ratio:.3f}x built-in (same-round ratio, median)")
    cold, cached = build_times(tf)
    print(f"ZeroOut build_op_library: cold {cold:.2f} s, cached {cached * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
