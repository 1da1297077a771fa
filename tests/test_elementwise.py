"""Elementwise ops against numpy, across dtypes and broadcast shapes.

Each dtype gets one graph whose ops all read the same placeholders of shape (None, None); one run fetches
every op, so hypothesis feeds many shapes and values through a single compiled program. The oracles are
numpy computed in the tensor's own dtype, with TF1's definitions where they differ from numpy's
(float floordiv is floor(x / y); integer floordiv and mod follow Python's signs).
"""

import numpy as np
import pytest

import pygraph as tf
from pygraph import errors

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

# ops whose float results are correctly rounded (IEEE) in both numpy and C++: must agree bit for bit
EXACT = {"add", "sub", "mul", "div", "truediv", "floordiv", "mod", "maximum", "minimum", "squared_difference",
         "neg", "abs", "square", "sqrt", "sign", "relu", "identity", "zeros_like", "ones_like", "add_n", "where",
         "cast_int", "cast_other", "chain", "div_scalar"}


class Program:
    """A graph with placeholders `inputs` and named outputs, run in one session (one compile)."""

    def __init__(self, build):
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.inputs, self.outputs = build()
        self.session = tf.Session(graph=self.graph)

    def run(self, **values):
        return self.session.run(self.outputs, {self.inputs[k]: v for k, v in values.items()})


def _float_graph(dtype):
    def build():
        x = tf.placeholder(dtype, (None, None), name="x")
        y = tf.placeholder(dtype, (None, None), name="y")  # |y| >= 0.5: a safe denominator
        pos = tf.placeholder(dtype, (None, None), name="pos")  # > 0, shaped like x
        other = tf.float64 if dtype is tf.float32 else tf.float32
        outputs = {
            "add": tf.add(x, y), "sub": tf.subtract(x, y), "mul": tf.multiply(x, y), "div": tf.divide(x, y),
            "truediv": tf.truediv(x, y), "floordiv": tf.floordiv(x, y), "mod": tf.mod(x, y),
            "pow": tf.pow(pos, y), "maximum": tf.maximum(x, y), "minimum": tf.minimum(x, y),
            "squared_difference": tf.squared_difference(x, y),
            "equal": tf.equal(x, y), "not_equal": tf.not_equal(x, y), "less": tf.less(x, y),
            "less_equal": tf.less_equal(x, y), "greater": tf.greater(x, y), "greater_equal": tf.greater_equal(x, y),
            "neg": tf.negative(x), "abs": tf.abs(x), "square": tf.square(x), "sqrt": tf.sqrt(pos),
            "rsqrt": tf.rsqrt(pos), "exp": tf.exp(x), "log": tf.log(pos), "sign": tf.sign(x),
            "relu": tf.nn.relu(x), "sigmoid": tf.sigmoid(x), "tanh": tf.tanh(x), "identity": tf.identity(x),
            "zeros_like": tf.zeros_like(x), "ones_like": tf.ones_like(x), "cast_int": tf.cast(x, tf.int32),
            "cast_other": tf.cast(x, other), "add_n": tf.add_n([x, y, x]),
            "where": tf.where(tf.greater(x, y), x, y),
            "chain": (x * x * y + y + 2) / (pos + 1) - x,
            "div_scalar": x / 3.0,
        }
        return {"x": x, "y": y, "pos": pos}, outputs

    return Program(build)


def _float_oracle(x, y, pos):
    dt = x.dtype
    other = np.float64 if dt == np.float32 else np.float32
    c = lambda v: np.asarray(v, dt)  # noqa: E731 (python constants take the tensor's dtype, as in TF)
    with np.errstate(over="ignore", under="ignore"):
        return {
            "add": x + y, "sub": x - y, "mul": x * y, "div": x / y, "truediv": x / y, "floordiv": np.floor(x / y),
            "mod": np.mod(x, y), "pow": np.power(pos, y), "maximum": np.maximum(x, y), "minimum": np.minimum(x, y),
            "squared_difference": np.square(x - y),
            "equal": x == y, "not_equal": x != y, "less": x < y, "less_equal": x <= y, "greater": x > y,
            "greater_equal": x >= y,
            "neg": -x, "abs": np.abs(x), "square": x * x, "sqrt": np.sqrt(pos), "rsqrt": c(1) / np.sqrt(pos),
            "exp": np.exp(x), "log": np.log(pos), "sign": np.sign(x), "relu": np.maximum(x, c(0)),
            "sigmoid": c(1) / (c(1) + np.exp(-x)), "tanh": np.tanh(x), "identity": x,
            "zeros_like": np.zeros_like(x), "ones_like": np.ones_like(x), "cast_int": x.astype(np.int32),
            "cast_other": x.astype(other), "add_n": x + y + x, "where": np.where(x > y, x, y),
            "chain": (x * x * y + y + c(2)) / (pos + c(1)) - x, "div_scalar": x / c(3.0),
        }


def _compare(got, want, exact, dtype=None):
    assert set(got) == set(want)
    for name in want:
        g, w = got[name], np.asarray(want[name])
        assert g.shape == w.shape, name
        assert g.dtype == w.dtype, (name, g.dtype, w.dtype)
        if name in exact or w.dtype.kind in "biu":
            np.testing.assert_array_equal(g, w, err_msg=name)
        else:  # exp, log, tanh, sigmoid, rsqrt, pow: libm and numpy may differ in the last bits
            eps = np.finfo(w.dtype).eps
            np.testing.assert_allclose(g, w, rtol=8 * eps, atol=0, err_msg=name)


FLOAT_PROGRAMS = {}


def float_program(dtype):
    if dtype not in FLOAT_PROGRAMS:
        FLOAT_PROGRAMS[dtype] = _float_graph(dtype)
    return FLOAT_PROGRAMS[dtype]


def _rank2_pair():
    return hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=2, max_dims=2, min_side=1, max_side=5)


@st.composite
def float_inputs(draw, dtype):
    shapes = draw(_rank2_pair())
    xs, ys = shapes.input_shapes
    width = 32 if dtype == np.float32 else 64
    x = draw(hnp.arrays(dtype, xs, elements=st.floats(-60, 60, width=width)))
    # a run flushes subnormals to zero as TF does (test_denormals.py), numpy here is IEEE: no input whose
    # square or product could be subnormal (keeps zeros' signs)
    x = np.where(np.abs(x) < 1e-15, x * 0, x).astype(dtype)
    mag = draw(hnp.arrays(dtype, ys, elements=st.floats(0.5, 4, width=width)))
    signs = draw(hnp.arrays(np.bool_, ys))
    y = np.where(signs, mag, -mag).astype(dtype)
    pos = draw(hnp.arrays(dtype, xs, elements=st.floats(0.015625, 50, width=width)))
    return x, y, pos


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_ops_match_numpy(dtype):
    prog = float_program(tf.as_dtype(dtype))

    @given(float_inputs(dtype))
    def check(inputs):
        x, y, pos = inputs
        _compare(prog.run(x=x, y=y, pos=pos), _float_oracle(x, y, pos), EXACT)

    check()


def test_float_edge_values():
    prog = float_program(tf.float32)
    x = np.array([[0.0, -0.0, 1.0, -1.0, 7.0, -7.0, 1.0, 59.0]], np.float32)
    y = np.array([[0.5, -0.5, 1.0, -1.0, 2.0, 2.0, 0.5, -0.5]], np.float32)
    pos = np.array([[0.01, 1.0, 2.0, 4.0, 9.0, 0.5, 1e-3, 50.0]], np.float32)
    got = prog.run(x=x, y=y, pos=pos)
    _compare(got, _float_oracle(x, y, pos), EXACT)
    np.testing.assert_array_equal(got["floordiv"][0, 4:6], [3, -4])
    np.testing.assert_array_equal(got["mod"][0, 4:6], [1, 1])
    np.testing.assert_array_equal(got["equal"][0, :4], [False, False, True, True])


def test_float_floordiv_is_floor_of_quotient():
    """TF's FloorDiv for floats is floor(x / y): 1 // 0.1 is 10, where numpy's floor_divide gives 9."""
    with tf.Session() as sess:
        assert sess.run(tf.constant(1.0) // tf.constant(0.1)) == 10.0


def test_nan_and_inf_propagate_like_numpy():
    x = tf.placeholder(tf.float32, (None,))
    y = tf.placeholder(tf.float32, (None,))
    outs = [tf.maximum(x, y), tf.minimum(x, y), x + y, x * y, tf.sign(x), tf.less(x, y), tf.equal(x, x)]
    a = np.array([np.nan, 1.0, np.inf, -np.inf, 0.0], np.float32)
    b = np.array([0.0, np.nan, 1.0, np.inf, np.nan], np.float32)
    with tf.Session() as sess:
        got = sess.run(outs, {x: a, y: b})
    with np.errstate(invalid="ignore"):
        want = [np.maximum(a, b), np.minimum(a, b), a + b, a * b, np.sign(a), a < b, a == a]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


# -- integers
def _int_graph(dtype):
    def build():
        x = tf.placeholder(dtype, (None, None), name="x")
        y = tf.placeholder(dtype, (None, None), name="y")  # nonzero
        base = tf.placeholder(dtype, (None, None), name="base")  # small, shaped like x
        e = tf.placeholder(dtype, (None, None), name="e")  # 0..5, shaped like x
        outputs = {
            "add": x + y, "sub": x - y, "mul": x * y, "floordiv": x // y, "mod": x % y,
            "tf_floordiv": tf.floordiv(x, y), "tf_mod": tf.floormod(x, y), "div": tf.div(x, y),
            "truediv": x / y, "pow": tf.pow(base, e), "maximum": tf.maximum(x, y), "minimum": tf.minimum(x, y),
            "equal": tf.equal(x, y), "not_equal": tf.not_equal(x, y), "less": x < y, "less_equal": x <= y,
            "greater": x > y, "greater_equal": x >= y, "neg": -x, "abs": abs(x), "square": tf.square(x),
            "sign": tf.sign(x), "relu": tf.nn.relu(x), "identity": tf.identity(x), "zeros_like": tf.zeros_like(x),
            "ones_like": tf.ones_like(x), "cast_f32": tf.cast(x, tf.float32), "cast_f64": tf.to_double(x),
            "cast_bool": tf.cast(x, tf.bool), "add_n": tf.add_n([x, y, y]), "where": tf.where(x < y, y, x),
        }
        return {"x": x, "y": y, "base": base, "e": e}, outputs

    return Program(build)


def _int_oracle(x, y, base, e):
    return {
        "add": x + y, "sub": x - y, "mul": x * y, "floordiv": np.floor_divide(x, y), "mod": np.mod(x, y),
        "tf_floordiv": np.floor_divide(x, y), "tf_mod": np.mod(x, y), "div": np.floor_divide(x, y),
        "truediv": x.astype(np.float64) / y.astype(np.float64), "pow": np.power(base, e),
        "maximum": np.maximum(x, y), "minimum": np.minimum(x, y), "equal": x == y, "not_equal": x != y,
        "less": x < y, "less_equal": x <= y, "greater": x > y, "greater_equal": x >= y, "neg": -x,
        "abs": np.abs(x), "square": x * x, "sign": np.sign(x), "relu": np.maximum(x, 0).astype(x.dtype),
        "identity": x, "zeros_like": np.zeros_like(x), "ones_like": np.ones_like(x),
        "cast_f32": x.astype(np.float32), "cast_f64": x.astype(np.float64), "cast_bool": x != 0,
        "add_n": x + y + y, "where": np.where(x < y, y, x),
    }


INT_PROGRAMS = {}


@st.composite
def int_inputs(draw, dtype):
    shapes = draw(_rank2_pair())
    xs, ys = shapes.input_shapes
    x = draw(hnp.arrays(dtype, xs, elements=st.integers(-1000, 1000)))
    y = draw(hnp.arrays(dtype, ys, elements=st.integers(-1000, 1000).filter(bool)))
    base = draw(hnp.arrays(dtype, xs, elements=st.integers(-20, 20)))
    e = draw(hnp.arrays(dtype, xs, elements=st.integers(0, 5)))
    return x, y, base, e


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_ops_match_numpy(dtype):
    prog = INT_PROGRAMS.setdefault(dtype, _int_graph(tf.as_dtype(dtype)))

    @given(int_inputs(dtype))
    def check(inputs):
        x, y, base, e = inputs
        _compare(prog.run(x=x, y=y, base=base, e=e), _int_oracle(x, y, base, e), EXACT)

    check()


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_floordiv_and_mod_follow_python_signs(dtype):
    prog = INT_PROGRAMS.setdefault(dtype, _int_graph(tf.as_dtype(dtype)))
    x = np.array([[7, -7, 7, -7, 0, 6, -6, np.iinfo(dtype).max]], dtype)
    y = np.array([[2, 2, -2, -2, 3, -3, 3, 1]], dtype)
    ones = np.ones_like(x)
    got = prog.run(x=x, y=y, base=ones, e=ones)
    assert got["floordiv"].tolist() == [[a // b for a, b in zip(x[0].tolist(), y[0].tolist())]]
    assert got["mod"].tolist() == [[a % b for a, b in zip(x[0].tolist(), y[0].tolist())]]
    assert got["floordiv"].tolist()[0][:4] == [3, -4, -4, 3] and got["mod"].tolist()[0][:4] == [1, 1, -1, -1]


def test_integer_min_divided_by_minus_one_does_not_trap():
    x = tf.placeholder(tf.int32, (None,))
    y = tf.placeholder(tf.int32, (None,))
    a = np.array([np.iinfo(np.int32).min, 5], np.int32)
    b = np.array([-1, -1], np.int32)
    with tf.Session() as sess:
        q, r = sess.run([x // y, x % y], {x: a, y: b})
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(q, np.floor_divide(a, b))  # wraps, as numpy does
    np.testing.assert_array_equal(r, [0, 0])


def test_integer_power_wraps_and_large_int64():
    big = tf.constant(np.array([2**40, -(2**40)], np.int64))
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(big * 3 + 1), np.array([3 * 2**40 + 1, -3 * 2**40 + 1]))
        assert sess.run(tf.pow(tf.constant(3, tf.int64), tf.constant(39, tf.int64))) == 3**39
        assert sess.run(tf.pow(tf.constant(0), tf.constant(0))) == 1


# -- booleans
def test_logical_ops_and_bool_comparisons():
    a = tf.placeholder(tf.bool, (None, None), name="a")
    b = tf.placeholder(tf.bool, (None, None), name="b")
    ints = tf.placeholder(tf.int32, (None, None), name="ints")
    outs = {
        "and": tf.logical_and(a, b), "or": tf.logical_or(a, b), "not": tf.logical_not(a),
        "xor": tf.logical_xor(a, b), "equal": tf.equal(a, b), "not_equal": tf.not_equal(a, b),
        "where": tf.where(a, ints, -ints), "cast": tf.cast(a, tf.float32), "identity": tf.identity(b),
        "and_op": a & b, "or_op": a | b, "invert": ~a,
    }
    av = np.array([[True, True, False, False]])
    bv = np.array([[True, False, True, False]])
    col = np.array([[True], [False]])
    iv = np.arange(8, dtype=np.int32).reshape(2, 4)
    with tf.Session() as sess:
        for x, y in ((av, bv), (col, bv)):
            got = sess.run(outs, {a: x, b: y, ints: iv})
            want = {"and": x & y, "or": x | y, "not": ~x, "xor": x ^ y, "equal": x == y, "not_equal": x != y,
                    "where": np.where(x, iv, -iv), "cast": x.astype(np.float32),
                    "identity": y, "and_op": x & y, "or_op": x | y, "invert": ~x}
            for k in want:
                assert got[k].shape == want[k].shape, k
                np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    assert outs["and"].dtype is tf.bool and outs["cast"].dtype is tf.float32


def test_where_with_vector_condition_picks_rows():
    array = pytest.importorskip("pygraph.ops.array")  # tf.where reshapes a rank-1 condition (TF1's row select)
    if not hasattr(array, "reshape"):
        pytest.skip("tf.reshape has not landed yet")
    c = tf.placeholder(tf.bool, (None,))
    x = tf.constant([[1, 2], [3, 4]])
    y = tf.constant([[5, 6], [7, 8]])
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(tf.where(c, x, y), {c: [True, False]}), [[1, 2], [7, 8]])


def test_cast_rules():
    f = tf.placeholder(tf.float32, (None,))
    v = np.array([1.7, -1.7, 0.0, 2.5, -0.4], np.float32)
    with tf.Session() as sess:
        got = sess.run([tf.cast(f, tf.int32), tf.cast(f, tf.int64), tf.cast(f, tf.bool), tf.to_double(f),
                        tf.cast(tf.cast(f, tf.bool), tf.int32)], {f: v})
    np.testing.assert_array_equal(got[0], [1, -1, 0, 2, 0])  # truncation toward zero
    assert got[0].dtype == np.int32 and got[1].dtype == np.int64
    np.testing.assert_array_equal(got[2], v != 0)
    np.testing.assert_array_equal(got[3], v.astype(np.float64))
    np.testing.assert_array_equal(got[4], (v != 0).astype(np.int32))
    assert tf.cast(f, tf.float32) is f  # a cast to its own type is no op


# -- broadcasting with static and run-time shapes
@pytest.mark.parametrize("shape_a, shape_b, fed_a, fed_b", [
    ((3, 1), (1, 4), (3, 1), (1, 4)),
    ((2, 3), (3,), (2, 3), (3,)),
    ((), (2, 3), (), (2, 3)),
    ((None, 3), (3,), (6, 3), (3,)),
    ((None, 3), (None, 3), (1, 3), (5, 3)),
    ((None, None), (None,), (4, 1), (3,)),
    ((2, 1, 3), (None, 1), (2, 1, 3), (4, 1)),
])
def test_broadcast_shapes(shape_a, shape_b, fed_a, fed_b):
    a = tf.placeholder(tf.float32, shape_a, name="a")
    b = tf.placeholder(tf.float32, shape_b, name="b")
    s = a + b
    m = tf.maximum(a * 2.0, b)
    rng = np.random.default_rng(len(fed_a) * 10 + len(fed_b))
    av = rng.standard_normal(fed_a).astype(np.float32)
    bv = rng.standard_normal(fed_b).astype(np.float32)
    with tf.Session() as sess:
        got_s, got_m = sess.run([s, m], {a: av, b: bv})
    np.testing.assert_array_equal(got_s, av + bv)
    np.testing.assert_array_equal(got_m, np.maximum(av * np.float32(2), bv))
    assert s.shape.is_compatible_with(got_s.shape)


def test_python_scalar_broadcasts_against_a_matrix():
    m = tf.placeholder(tf.float32, (2, 3))
    v = np.arange(6, dtype=np.float32).reshape(2, 3)
    with tf.Session() as sess:
        got = sess.run([2.0 + m, m - 1, 10 / (m + 1), 2 ** m], {m: v})
    np.testing.assert_array_equal(got[0], v + 2)
    np.testing.assert_array_equal(got[1], v - 1)
    np.testing.assert_array_equal(got[2], np.float32(10) / (v + 1))
    np.testing.assert_allclose(got[3], np.float32(2) ** v, rtol=1e-6)


def test_zero_size_feeds():
    a = tf.placeholder(tf.float32, (None, 3))
    with tf.Session() as sess:
        out = sess.run(a * 2 + 1, {a: np.zeros((0, 3), np.float32)})
    assert out.shape == (0, 3) and out.dtype == np.float32


def test_run_time_broadcast_error_leaves_program_usable():
    a = tf.placeholder(tf.float32, (None, 3), name="a")
    b = tf.placeholder(tf.float32, (None, 3), name="b")
    s = a * b
    with tf.Session() as sess:
        with pytest.raises(errors.InvalidArgumentError, match=r"Incompatible shapes: \[2,3\] vs. \[4,3\]"):
            sess.run(s, {a: np.ones((2, 3)), b: np.ones((4, 3))})
        assert sess.run(s, {a: np.ones((4, 3)), b: np.ones((1, 3))}).shape == (4, 3)


@pytest.fixture(scope="module")
def rank4_program():
    def build():
        x = tf.placeholder(tf.float32, (None,) * 4, name="x")
        y = tf.placeholder(tf.float32, (None,) * 4, name="y")
        z = tf.placeholder(tf.float32, (None, None), name="z")
        return {"x": x, "y": y, "z": z}, [x + y, tf.maximum(x, y) * z, tf.where(x < y, x - z, y), -x]

    return Program(build)


@given(hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=4, max_dims=4, max_side=4)
       .map(lambda s: (s.input_shapes[0], s.input_shapes[1], s.input_shapes[2][2:])),  # z: the last 2 dims
       st.integers(0, 2**31 - 1))
def test_rank4_run_time_broadcasting(rank4_program, shapes, seed):
    xs, ys, zs = shapes
    rng = np.random.default_rng(seed)
    x, y, z = (rng.standard_normal(s).astype(np.float32) for s in (xs, ys, zs))
    got = rank4_program.run(x=x, y=y, z=z)
    want = [x + y, np.maximum(x, y) * z, np.where(x < y, x - z, y), -x]
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_array_equal(g, w)


def test_large_arrays_split_over_threads():
    """Above the parallel grain, loops run in chunks on the thread pool: flat, broadcast and error paths."""
    a = tf.placeholder(tf.float32, (None, None), name="a")
    b = tf.placeholder(tf.float32, (None,), name="b")
    i = tf.placeholder(tf.int32, (None,), name="i")
    j = tf.placeholder(tf.int32, (None,), name="j")
    flat = tf.tanh(a * 2.0) - a
    bcast = tf.maximum(a, b) + b * a
    rng = np.random.default_rng(7)
    av = rng.standard_normal((1200, 333)).astype(np.float32)
    bv = rng.standard_normal(333).astype(np.float32)
    with tf.Session() as sess:
        got_flat, got_bcast = sess.run([flat, bcast], {a: av, b: bv})
        np.testing.assert_allclose(got_flat, np.tanh(av * np.float32(2)) - av, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(got_bcast, np.maximum(av, bv) + bv * av)
        iv = np.arange(1, 400001, dtype=np.int32)
        jv = np.full_like(iv, 3)
        np.testing.assert_array_equal(sess.run(i // j, {i: iv, j: jv}), iv // 3)
        jv[-1] = 0  # the last chunk fails: the error must still surface
        with pytest.raises(errors.InvalidArgumentError, match="Integer division by zero"):
            sess.run(i // j, {i: iv, j: jv})


def test_float_tanh_and_sigmoid_within_one_ulp():
    """float32 tanh and sigmoid are pygraph's own vectorizable code (prelude.h.j2), not libm's: within 1 ulp
    of the exact values on a dense grid, and exact at the edges (signed zeros, infinities, NaN, saturation)."""
    small = np.geomspace(1e-30, 0.6, 2001)
    grid = np.concatenate([np.linspace(-12, 12, 200001), small, -small,
                           [0.0, -0.0, np.inf, -np.inf, np.nan, 0.5, -0.5, 9.5, 120.0, -120.0]]).astype(np.float32)
    x = tf.placeholder(tf.float32, [None])
    with tf.Session() as sess:
        th, sg = sess.run([tf.tanh(x), tf.sigmoid(x)], {x: grid})
    exact = grid.astype(np.float64)
    with np.errstate(over="ignore"):
        want_th, want_sg = np.tanh(exact).astype(np.float32), (1 / (1 + np.exp(-exact))).astype(np.float32)
    for got, want in ((th, want_th), (sg, want_sg)):
        finite = np.isfinite(want) & (np.abs(want) > np.finfo(np.float32).tiny)
        ulp = np.abs(got[finite].view(np.int32).astype(np.int64) - want[finite].view(np.int32).astype(np.int64))
        assert ulp.max() <= 1
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(th[-10:-6], [0.0, -0.0, 1.0, -1.0])
    assert np.signbit(th[-9]) and sg[-8] == 1.0 and sg[-7] == 0.0 and th[-3] == 1.0 and sg[-1] == 0.0
