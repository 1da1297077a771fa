"""Reductions against numpy (float64 / math.fsum oracles for accuracy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pygraph.codegen import toolchain

import pygraph as tf

rng = np.random.default_rng(1)

CASES = [  # (op name, axis, keepdims)
    ("reduce_sum", None, False), ("reduce_sum", 0, False), ("reduce_sum", -1, True), ("reduce_sum", [0, 2], False),
    ("reduce_mean", 1, False), ("reduce_mean", None, True), ("reduce_max", [1, 2], False), ("reduce_max", 0, True),
    ("reduce_min", -2, False), ("reduce_min", None, False), ("reduce_prod", 2, False), ("reduce_prod", [0, 1], True),
]
NUMPY = {"reduce_sum": np.sum, "reduce_mean": np.mean, "reduce_max": np.max, "reduce_min": np.min,
         "reduce_prod": np.prod}


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
def test_reductions_match_numpy_for_every_batch_size(dtype):
    x = tf.placeholder(dtype, [None, 3, 4])
    outs = [getattr(tf, op)(x, axis=axis, keepdims=keep) for op, axis, keep in CASES]
    with tf.Session() as sess:
        compiles = None
        for batch in (1, 7, 1000):
            if np.issubdtype(dtype, np.integer):
                xv = rng.integers(-3, 4, size=(batch, 3, 4)).astype(dtype)
            else:
                xv = (rng.standard_normal((batch, 3, 4)) * 0.5 + 1).astype(dtype)
            got = sess.run(outs, {x: xv})
            if compiles is None:
                compiles = toolchain.stats["compiles"]
            assert toolchain.stats["compiles"] == compiles  # one program for every batch size
            for (op, axis, keep), g, t in zip(CASES, got, outs):
                ax = tuple(axis) if isinstance(axis, list) else axis
                if op == "reduce_mean" and np.issubdtype(dtype, np.integer):
                    s = np.sum(xv, axis=ax, keepdims=keep, dtype=dtype)
                    n = xv.size // s.size
                    want = (np.sign(s) * (np.abs(s) // n)).astype(dtype)  # TF truncates
                elif op in ("reduce_sum", "reduce_prod"):
                    want = NUMPY[op](xv, axis=ax, keepdims=keep, dtype=dtype)
                else:
                    want = NUMPY[op](xv.astype(np.float64) if op == "reduce_mean" else xv, axis=ax, keepdims=keep)
                assert g.dtype == dtype and g.shape == np.shape(want), (op, axis)
                assert t.shape.is_compatible_with(np.shape(want))
                if np.issubdtype(dtype, np.integer):
                    np.testing.assert_array_equal(g, want, err_msg=f"{op} {axis}")
                else:
                    rtol = 1e-5 if dtype == np.float32 else 1e-12
                    np.testing.assert_allclose(g, want, rtol=rtol, atol=1e-30, err_msg=f"{op} {axis}")


def test_float32_sum_is_at_least_as_accurate_as_numpy_pairwise():
    x = tf.placeholder(tf.float32, [None])
    m = tf.placeholder(tf.float32, [None, 9])
    total, mean, cols = tf.reduce_sum(x), tf.reduce_mean(x), tf.reduce_sum(m, axis=0)
    with tf.Session() as sess:
        for seed in range(3):
            r = np.random.default_rng(seed)
            xv = (r.standard_normal(20640) * 1e3 + 1e4).astype(np.float32)
            mv = (r.standard_normal((20640, 9)) * 1e3 + 1e4).astype(np.float32)
            got, got_mean, got_cols = sess.run([total, mean, cols], {x: xv, m: mv})
            exact = math.fsum(xv.astype(np.float64))
            assert abs(float(got) - exact) <= abs(float(np.sum(xv)) - exact)
            assert abs(float(got) - exact) <= np.spacing(np.float32(exact))  # correctly rounded or 1 ulp
            assert abs(float(got_mean) - exact / 20640) <= np.spacing(np.float32(exact / 20640))
            exact_cols = np.array([math.fsum(mv[:, j].astype(np.float64)) for j in range(9)])
            err_np = np.abs(np.sum(mv, axis=0).astype(np.float64) - exact_cols)
            err = np.abs(got_cols.astype(np.float64) - exact_cols)
            assert np.all(err <= np.maximum(err_np, np.spacing(exact_cols.astype(np.float32))))


def test_float64_sum_is_pairwise_accurate():
    x = tf.placeholder(tf.float64, [None, None])
    rows, cols = tf.reduce_sum(x, axis=1), tf.reduce_sum(x, axis=0)
    xv = np.random.default_rng(5).standard_normal((3, 200_000)) + 1e6
    with tf.Session() as sess:
        got_rows, got_cols = sess.run([rows, cols], {x: xv})
        got_t = sess.run(cols, {x: np.ascontiguousarray(xv.T)})
    exact = np.array([math.fsum(r) for r in xv])
    np.testing.assert_allclose(got_rows, exact, rtol=1e-15)
    np.testing.assert_allclose(got_t, exact, rtol=1e-15)  # a long axis 0: blocked accumulation
    np.testing.assert_allclose(got_cols, xv.sum(axis=0), rtol=1e-15)


def test_large_sum_does_not_depend_on_threads_and_matches_fsum():
    x = tf.placeholder(tf.float32, [None])
    s = tf.reduce_sum(x)
    xv = np.random.default_rng(2).random(3_000_000, dtype=np.float32)
    with tf.Session() as sess:
        got = [sess.run(s, {x: xv}) for _ in range(3)]
    assert got[0] == got[1] == got[2]
    assert abs(float(got[0]) - math.fsum(xv.astype(np.float64))) <= np.spacing(got[0])


def test_max_min_propagate_nan_and_empty_reductions():
    x = tf.placeholder(tf.float32, [None, 2])
    outs = [tf.reduce_max(x, 0), tf.reduce_min(x, 0), tf.reduce_sum(x, 0), tf.reduce_prod(x, 0),
            tf.reduce_mean(x, 0)]
    with tf.Session() as sess:
        mx, mn, *_ = sess.run(outs, {x: np.array([[1, np.nan], [2, 3]], np.float32)})
        np.testing.assert_array_equal(mx, [2, np.nan])
        np.testing.assert_array_equal(mn, [1, np.nan])
        mx, mn, sm, pr, me = sess.run(outs, {x: np.zeros((0, 2), np.float32)})
    np.testing.assert_array_equal(mx, [-np.inf, -np.inf])
    np.testing.assert_array_equal(mn, [np.inf, np.inf])
    np.testing.assert_array_equal(sm, [0, 0])
    np.testing.assert_array_equal(pr, [1, 1])
    assert np.isnan(me).all()


def test_int_sums_wrap_like_tf():
    x = tf.placeholder(tf.int32, [None])
    with tf.Session() as sess:
        got = sess.run(tf.reduce_sum(x), {x: np.array([2**31 - 1, 1], np.int32)})
    assert got == -(2**31)


def test_argmax_argmin():
    x = tf.placeholder(tf.float32, [None, 5])
    outs = [tf.argmax(x, 1), tf.argmin(x, axis=0), tf.argmax(x, dimension=0, output_type=tf.int32)]
    assert outs[0].dtype == tf.int64 and outs[2].dtype == tf.int32
    assert outs[0].op.type == "ArgMax" and outs[1].op.type == "ArgMin"
    xv = rng.standard_normal((40, 5)).astype(np.float32)
    xv[3, 2] = np.nan
    with tf.Session() as sess:
        a, b, c = sess.run(outs, {x: xv})
        np.testing.assert_array_equal(a, np.argmax(xv, 1))
        np.testing.assert_array_equal(b, np.argmin(xv, 0))
        np.testing.assert_array_equal(c, np.argmax(xv, 0))
        with pytest.raises(tf.errors.InvalidArgumentError, match="Reduction axis 0 is empty"):
            sess.run(outs[1], {x: np.zeros((0, 5), np.float32)})


def test_names_aliases_and_errors():
    x = tf.placeholder(tf.float32, [2, 3], name="x")
    s = tf.reduce_sum(x, reduction_indices=[1], keep_dims=True)
    assert s.op.name == "Sum" and s.shape.as_list() == [2, 1]
    assert s.op.inputs[1].op.name == "Sum/reduction_indices"
    m = tf.reduce_mean(x, name="loss")
    assert m.op.name == "loss" and m.op.type == "Mean" and m.shape.as_list() == []
    assert m.op.inputs[1].op.name == "Const"
    with pytest.raises(ValueError, match="Cannot specify both 'axis' and 'reduction_indices'"):
        tf.reduce_sum(x, axis=0, reduction_indices=0)
    with pytest.raises(ValueError, match="Invalid reduction dimension 2 for input with 2 dimensions.*'Max'"):
        tf.reduce_max(x, axis=2)
    with pytest.raises(TypeError, match="bool"):
        tf.reduce_sum(tf.constant([True]))


def _kernels(capfd):
    """The kernel summary lines PYGRAPH_DEBUG=1 printed for the programs compiled since the last call."""
    return [line for line in capfd.readouterr().err.splitlines() if line.startswith("[pygraph]   k")]


def test_elementwise_producers_fuse_into_reductions(monkeypatch, capfd):
    monkeypatch.setenv("PYGRAPH_DEBUG", "1")
    x = tf.placeholder(tf.float32, [None, 3, 4])
    n = tf.placeholder(tf.int32, [None])
    d = x - 0.5
    outs = [tf.reduce_mean(tf.square(d)), tf.reduce_sum(x * 2.0 + 1.0, axis=[0, 2]),
            tf.reduce_max(-x, axis=1, keepdims=True), tf.reduce_prod(tf.abs(x) + 1.0, axis=-1),
            tf.reduce_sum(n * 3 - 1), tf.reduce_sum(n // 2)]
    xv = rng.standard_normal((50, 3, 4)).astype(np.float32)
    nv = rng.integers(-9, 9, 50).astype(np.int32)
    with tf.Session() as sess:
        got = sess.run(outs, {x: xv, n: nv})
        lines = _kernels(capfd)
        # the square, affine, negation and abs+1 chains are computed inside their reductions
        assert not any(line.split(" ")[4].startswith("elementwise") and ("Square" in line or "Neg" in line)
                       for line in lines), lines
        assert any("Square(Square), Mean(Mean)" in line for line in lines), lines
        # integer floor division may fail: it keeps its own loop (with the error check)
        assert any("elementwise" in line and "FloorDiv" in line for line in lines), lines
        x64 = xv.astype(np.float64)
        np.testing.assert_allclose(got[0], np.mean((x64 - 0.5) ** 2), rtol=1e-6)
        np.testing.assert_allclose(got[1], (x64 * 2 + 1).sum(axis=(0, 2)), rtol=1e-6)
        np.testing.assert_array_equal(got[2], (-xv).max(axis=1, keepdims=True))
        np.testing.assert_allclose(got[3], (np.abs(x64) + 1).prod(axis=-1), rtol=1e-5)
        assert got[4] == np.sum(nv * 3 - 1) and got[5] == np.sum(nv // 2)
        # a producer that is also fetched stays materialised (and both results agree)
        total, dv = sess.run([tf.reduce_sum(d), d], {x: xv})
        np.testing.assert_allclose(total, (x64 - 0.5).sum(), rtol=1e-5)
        np.testing.assert_array_equal(dv, xv - 0.5)


def test_fusion_keeps_variable_reads_before_writes():
    v = tf.Variable([1.0, 2.0, 3.0])
    total = tf.reduce_sum(v * 2.0)
    with tf.control_dependencies([total]):
        bump = tf.assign_add(v, [10.0, 10.0, 10.0])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got, _ = sess.run([total, bump])
        assert got == 12.0
        assert sess.run(total) == 72.0


def test_every_axis_set_with_dims_that_are_1_at_run_time():
    """The engine code a reduction compiles is chosen from static dims; symbolic dims that turn out to be
    1 at run time (merging or removing reduced axes) must still give numpy's answer."""
    import itertools

    from pygraph.ops import array

    x = tf.placeholder(tf.float32, [None, 1, None, 3])
    axes_list = [list(a) for r in range(1, 5) for a in itertools.combinations(range(4), r)]
    outs = [tf.reduce_sum(x, a) for a in axes_list]
    g = tf.placeholder(tf.float32, [None, None, 3])
    targets = [tf.placeholder(tf.float32, s) for s in ([None, 1], [1, 3], [None, None, 1])]
    sums = [array.sum_to_shape_of(g, t) for t in targets]
    with tf.Session() as sess:
        for shape in [(2, 1, 5, 3), (1, 1, 1, 3), (4, 1, 1, 3), (1, 1, 6, 3)]:
            xv = rng.random(shape, dtype=np.float32)
            for a, got in zip(axes_list, sess.run(outs, {x: xv})):
                np.testing.assert_allclose(got, xv.sum(axis=tuple(a)), rtol=1e-6, err_msg=f"{shape} {a}")
        for gs, shapes in [((2, 4, 3), [(4, 1), (1, 3), (2, 4, 1)]), ((2, 1, 3), [(1, 1), (1, 3), (1, 1, 1)]),
                           ((1, 5, 3), [(5, 1), (1, 3), (1, 1, 1)])]:
            gv = rng.random(gs, dtype=np.float32)
            feeds = {g: gv, **{t: np.zeros(s, np.float32) for t, s in zip(targets, shapes)}}
            for got, s in zip(sess.run(sums, feeds), shapes):
                want = gv.sum(axis=tuple(k for k in range(3) if k < 3 - len(s) or
                                         (s[k - 3 + len(s)] == 1 and gs[k] != 1)))
                np.testing.assert_allclose(got, want.reshape(s), rtol=1e-6, err_msg=f"{gs} {s}")
