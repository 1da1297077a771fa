"""C++ custom ops: TF-guide op sources (tests/custom_ops/*.cc, written for these tests) built against
pygraph's TF-compatible headers, loaded with tf.load_op_library, run in sessions and gradients, checked
against numpy and finite differences; errors as TF gives them."""

import os
import subprocess
import uuid

import numpy as np
import pytest

import pygraph as tf
from pygraph import errors
from pygraph.custom_ops import build

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "custom_ops")
SOURCES = [os.path.join(HERE, f) for f in ("zero_out.cc", "zero_out_poly.cc", "two_out.cc", "cube.cc", "counter.cc")]


@pytest.fixture(scope="module")
def ops():
    # several translation units in one library: each defines the weak entry point, one registry results
    return tf.load_op_library(sources=SOURCES, name="test_ops")


def _cube_grad(op, grad):
    x = op.inputs[0]
    return [grad * 3.0 * x * x]


def test_library_lists_its_ops_as_snake_case_functions(ops):
    assert sorted(ops.OP_LIST) == ["Counter", "Cube", "ScaleAndRowSum", "ZeroOut", "ZeroOutPoly"]
    for fn in ("zero_out", "zero_out_poly", "scale_and_row_sum", "cube"):
        assert callable(getattr(ops, fn))


def test_zero_out_against_numpy_and_fused_neighbours(ops):
    x = tf.placeholder(tf.int32, [None, 3])
    y = ops.zero_out(x) + 1
    z = ops.zero_out(x, preserve_index=4)
    assert y.shape.as_list() == [None, 3]
    v = np.arange(1, 13, dtype=np.int32).reshape(4, 3)
    with tf.Session() as sess:
        got_y, got_z = sess.run([y, z], {x: v})
    want = np.zeros_like(v)
    want.flat[0] = v.flat[0]
    np.testing.assert_array_equal(got_y, want + 1)
    want = np.zeros_like(v)
    want.flat[4] = v.flat[4]
    np.testing.assert_array_equal(got_z, want)


def test_kernel_error_names_node_and_line(ops):
    x = tf.placeholder(tf.int32, [None])
    y = ops.zero_out(x, preserve_index=5)  # the failing line
    line = f"{__file__}:{_line_of('the failing line')}"
    with tf.Session() as sess:
        with pytest.raises(errors.InvalidArgumentError) as e:
            sess.run(y, {x: np.arange(3, dtype=np.int32)})
        assert "preserve_index out of range" in str(e.value)
        assert "ZeroOut" in str(e.value) and line in str(e.value)
        np.testing.assert_array_equal(sess.run(y, {x: np.arange(8, dtype=np.int32)}), [0, 0, 0, 0, 0, 5, 0, 0])


def test_constructor_op_requires_reports_at_run(ops):
    y = ops.zero_out(tf.constant([1, 2, 3]), preserve_index=-1)
    with tf.Session() as sess:
        with pytest.raises(errors.InvalidArgumentError, match="Need preserve_index >= 0, got -1"):
            sess.run(y)


def test_polymorphic_kernels_per_dtype(ops):
    for dt in (tf.float32, tf.float64, tf.int32):
        x = tf.placeholder(dt, [None])
        y = ops.zero_out_poly(x)
        assert y.dtype is dt and y.op.attrs["T"] is dt
        v = np.array([3, 4, 5], dt.np)
        with tf.Session() as sess:
            got = sess.run(y, {x: v})
        assert got.dtype == dt.np
        np.testing.assert_array_equal(got, [3, 0, 0])


def test_attr_and_type_errors(ops):
    with pytest.raises(TypeError, match="DataType int64 not in list of allowed values: float32, float64, int32"):
        ops.zero_out_poly(tf.constant([1, 2], dtype=tf.int64))
    with pytest.raises(TypeError, match="preserve_index"):
        ops.zero_out(tf.constant([1, 2]), preserve_index=1.5)
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        ops.zero_out(tf.constant([1, 2]), bogus=1)
    with pytest.raises(ValueError, match="Tensor conversion requested dtype int32"):
        ops.zero_out(tf.constant([1.0]))


def test_shape_function_rejects_at_construction(ops):
    with pytest.raises(ValueError, match=r"Shape must be rank 1 but is rank 2 for 'ZeroOutPoly' .*\[2,2\]"):
        ops.zero_out_poly(tf.zeros([2, 2]))
    with pytest.raises(ValueError, match="Shape must be rank 2 but is rank 1"):
        ops.scale_and_row_sum(tf.zeros([3]))


def test_two_outputs_and_float_attr(ops):
    x = tf.placeholder(tf.float32, [None, None])
    scaled, sums = ops.scale_and_row_sum(x, scale=2.5)
    assert scaled.shape.ndims == 2 and sums.shape.ndims == 1
    v = np.random.RandomState(0).randn(5, 4).astype(np.float32)
    with tf.Session() as sess:
        a, b = sess.run([scaled, tf.reduce_sum(sums) * 1.0], {x: v})
    np.testing.assert_allclose(a, v * np.float32(2.5), rtol=1e-6)
    np.testing.assert_allclose(b, v.sum(), rtol=1e-5, atol=1e-5)


def test_python_gradient_against_finite_differences(ops):
    if tf.ops.registry.REGISTRY["Cube"].gradient is None:
        tf.RegisterGradient("Cube")(_cube_grad)
    x = tf.placeholder(tf.float64, [4])
    loss = tf.reduce_sum(tf.sin(ops.cube(x)))
    (g,) = tf.gradients(loss, [x])
    v = np.array([0.3, -0.7, 1.1, 0.5])
    with tf.Session() as sess:
        got = sess.run(g, {x: v})
        eps = 1e-6
        fd = np.array([(sess.run(loss, {x: v + eps * e}) - sess.run(loss, {x: v - eps * e})) / (2 * eps)
                       for e in np.eye(4)])
    np.testing.assert_allclose(got, 3 * v**2 * np.cos(v**3), rtol=1e-9)
    np.testing.assert_allclose(got, fd, rtol=1e-5)


def test_loading_twice_gives_the_same_module(ops):
    again = tf.load_op_library(sources=SOURCES, name="test_ops")
    assert again is ops
    assert tf.load_op_library(ops.__file__) is ops


def test_same_op_name_from_another_library_is_refused(ops, tmp_path):
    src = tmp_path / "dup.cc"
    src.write_text('#include "tensorflow/core/framework/op.h"\nREGISTER_OP("ZeroOut").Input("x: int32")'
                   '.Output("y: int32");\n')
    with pytest.raises(errors.AlreadyExistsError, match="'ZeroOut' is already registered"):
        tf.load_op_library(sources=[str(src)], name="dup")


def test_wrong_abi_and_missing_entry_are_refused(tmp_path):
    lib = tmp_path / "bad_abi.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib), os.path.join(HERE, "bad_abi.c")], check=True)
    with pytest.raises(errors.FailedPreconditionError, match="built for pygraph ABI version 1.*rebuild"):
        tf.load_op_library(str(lib))
    plain = tmp_path / "plain.so"
    (tmp_path / "plain.c").write_text("int unrelated(void) { return 1; }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(plain), str(tmp_path / "plain.c")], check=True)
    with pytest.raises(errors.NotFoundError, match="exports no pg_op_library"):
        tf.load_op_library(str(plain))
    with pytest.raises(errors.NotFoundError, match="not found"):
        tf.load_op_library(str(tmp_path / "missing.so"))
    undefined = tmp_path / "undefined.so"
    (tmp_path / "undefined.c").write_text("void not_defined_anywhere(void);\n"
                                          "void f(void) { not_defined_anywhere(); }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(undefined), str(tmp_path / "undefined.c")], check=True)
    with pytest.raises(errors.NotFoundError, match="cannot load the op library.*undefined symbol: not_defined_any"):
        tf.load_op_library(str(undefined))


def test_build_cache_rebuilds_on_source_change_only(tmp_path):
    # A token unique to this run: a cache dir kept from an earlier run must not turn the first build into a hit.
    token = uuid.uuid4().hex
    text = ('#include "tensorflow/core/framework/op.h"\n#include "tensorflow/core/framework/op_kernel.h"\n'
            f'// run {token}\n'
            'REGISTER_OP("CacheProbe{n}").Input("x: float").Output("y: float");\n')
    before = dict(build.stats)
    a = tf.build_op_library([text.format(n=1)], name="probe")
    b = tf.build_op_library([text.format(n=1)], name="probe")
    c = tf.build_op_library([text.format(n=2)], name="probe")
    assert a == b != c
    assert build.stats["builds"] - before["builds"] == 2 and build.stats["hits"] - before["hits"] == 1


def test_compile_error_shows_file_and_line(tmp_path):
    src = tmp_path / "broken.cc"
    src.write_text('#include "tensorflow/core/framework/op.h"\n\nint broken() { return undeclared_name; }\n')
    with pytest.raises(errors.CompileError, match=rf"{src}:3:\d+: error: .*undeclared_name"):
        tf.build_op_library([str(src)], name="broken")


def _line_of(marker):
    with open(__file__) as f:
        for i, line in enumerate(f, 1):
            if marker in line and "_line_of" not in line:
                return i
    raise AssertionError(marker)


def test_meta_graph_records_the_library(ops, tmp_path):
    x = tf.placeholder(tf.int32, [None], name="x")
    tf.identity(ops.zero_out(x, preserve_index=2), name="y")
    path = str(tmp_path / "model.meta")
    doc = tf.train.export_meta_graph(path)
    spec = [o for o in doc["ops"] if o["type"] == "ZeroOut"][0]
    assert spec["op_library"] == os.path.basename(ops.__file__)
    with tf.Graph().as_default() as g:
        tf.train.import_meta_graph(path)
        with tf.Session() as sess:
            got = sess.run(g.get_tensor_by_name("y:0"), {g.get_tensor_by_name("x:0"): np.array([4, 5, 6, 7], np.int32)})
        np.testing.assert_array_equal(got, [0, 0, 6, 0])
    # a graph whose op's library is not loaded: a clear error naming the library, and nothing imported
    doc["ops"] = [dict(o, type="NotLoadedOp") if o["type"] == "ZeroOut" else o for o in doc["ops"]]
    with tf.Graph().as_default() as g:
        with pytest.raises(errors.NotFoundError, match="'NotLoadedOp'.*op library 'test_ops-.*tf.load_op_library"):
            tf.train.import_meta_graph(doc)
        assert g.get_operations() == []


def test_kernels_run_from_several_threads(ops):
    import threading

    x = tf.placeholder(tf.float32, [None, None])
    scaled, sums = ops.scale_and_row_sum(x, scale=-1.5)
    sess = tf.Session()
    results, failures = {}, []

    def work(k):
        try:
            v = np.full((k + 2, 3), k, np.float32)
            for _ in range(20):
                a, b = sess.run([scaled, sums], {x: v})
                if not (np.array_equal(a, v * np.float32(-1.5)) and np.array_equal(b, v.sum(axis=1))):
                    failures.append(k)
            results[k] = True
        except Exception as e:  # noqa: BLE001 (reported below)
            failures.append(repr(e))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sess.close()
    assert not failures and len(results) == 4


def test_stateful_op_is_never_constant_folded(ops):
    y = ops.counter(tf.constant(10, tf.int64))
    assert y.shape.ndims == 0
    with tf.Session() as sess:
        assert [int(sess.run(y)) for _ in range(3)] == [11, 12, 13]


@pytest.fixture(scope="module")
def attr_ops():
    return tf.load_op_library(sources=[os.path.join(HERE, "attr_check.cc")], name="attr_check_ops")


def test_attr_value_errors_are_tfs(attr_ops):
    """The classes and texts TF 2.21's generated op wrappers give for the same misuse (op_def_library's
    minimum and allowed-strings ValueErrors, _execute.make_int/make_float/make_bool/make_str TypeErrors; checked
    on TF's own ops: Split's num_split=0, Conv2D's padding='FOO', num_split='a', LeakyRelu's alpha='x')."""
    x = tf.constant([1.0, 2.0])
    cases = [
        ({"n": 0}, ValueError, "Attr 'n' of 'AttrCheck' Op passed 0 less than minimum 1."),
        ({"n": 2, "sizes": [3]}, ValueError, "Attr 'sizes' of 'AttrCheck' Op passed list of length 1 less than "
                                             "minimum 2."),
        ({"n": 2, "mode": "slow"}, ValueError, "Attr 'mode' of 'AttrCheck' Op passed string 'slow' not in: "
                                               '"fast", "exact".'),
        ({"n": "a"}, TypeError, "Expected int for argument 'n' not 'a'."),
        ({"n": 2, "scale": "x"}, TypeError, "Expected float for argument 'scale' not 'x'."),
        ({"n": 2, "flag": 1}, TypeError, "Expected bool for argument 'flag' not 1."),
        ({"n": 2, "mode": 3}, TypeError, "Expected string for argument 'mode' not 3."),
        ({"n": 1.5}, TypeError, "Expected int for argument 'n' not 1.5."),  # TF truncates to 1; pygraph refuses
    ]
    for kwargs, error, text in cases:
        with pytest.raises(error) as e:
            attr_ops.attr_check(x, **kwargs)
        assert str(e.value) == text, kwargs
    assert not tf.get_default_graph().get_operations()[1:]  # nothing but x was built
    y = attr_ops.attr_check(x, n=3, mode="exact", scale=0.5, flag=True, sizes=[1, 2, 3])
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y), [1.5, 3.0])
