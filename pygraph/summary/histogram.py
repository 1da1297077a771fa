"""TF's summary histogram (tensorflow/core/lib/histogram/histogram.cc) as a HistogramProto.

Bucket limits are TF's defaults: 0, then +-1e-12 growing by a factor of 1.1 up to 1e20, then +-DBL_MAX.
A value v falls in the first bucket whose limit is greater than v (std::upper_bound); runs of empty
buckets collapse into one entry carrying the run's last limit, as EncodeToProto(preserve_zero_buckets=False).
"""

from __future__ import annotations

import sys

import numpy as np

from ._protos import proto

DBL_MAX = sys.float_info.max


def _default_bucket_limits():
    positive = []
    v = 1.0e-12
    while v < 1.0e20:  # the same double arithmetic as TF's loop, so the limits are bit-identical
        positive.append(v)
        v *= 1.1
    positive.append(DBL_MAX)
    negative = [-x for x in reversed(positive)]
    return np.array(negative + [0.0] + positive, dtype=np.float64)


BUCKET_LIMITS = _default_bucket_limits()


def histogram_fields(values):
    """(min, max, num, sum, sum_squares, bucket_limit, bucket) of finite float64 `values` (1-D)."""
    n = values.size
    counts = np.bincount(np.minimum(np.searchsorted(BUCKET_LIMITS, values, side="right"),
                                    len(BUCKET_LIMITS) - 1), minlength=len(BUCKET_LIMITS))
    # keep non-empty buckets and the last bucket of each run of empty ones
    nonzero = counts > 0
    keep = nonzero.copy()
    keep[:-1] |= ~nonzero[:-1] & nonzero[1:]
    keep[-1] = True
    if n:
        # TF accumulates in element order; cumsum keeps that order (np.sum would pair terms)
        total = float(np.cumsum(values)[-1])
        squares = float(np.cumsum(values * values)[-1])
        lo, hi = float(values.min()), float(values.max())
    else:
        total = squares = 0.0
        lo, hi = DBL_MAX, -DBL_MAX
    return lo, hi, float(n), total, squares, BUCKET_LIMITS[keep], counts[keep].astype(np.float64)


def histogram_proto(values):
    """A tensorboard HistogramProto of `values` (any shape, finite)."""
    lo, hi, n, total, squares, limits, counts = histogram_fields(np.asarray(values, dtype=np.float64).ravel())
    return proto("histogram_pb2").HistogramProto(min=lo, max=hi, num=n, sum=total, sum_squares=squares,
                                      bucket_limit=limits.tolist(), bucket=counts.tolist())
