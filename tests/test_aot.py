"""The ahead-of-time compiler: the lecture's regression (through the pygraph-compile command, from a Saver
checkpoint) and a 784-300-100-10 MLP (through pygraph.aot.compile on a live session) become libraries that C and
C++ programs build and run with no Python; their outputs equal Session.run's bit for bit (both built with
-march=native, as Session.run compiles), at batch sizes 1, 7 and 1000 from one artifact."""

import ctypes
import json
import shutil
import subprocess
from pathlib import Path

import aot_models
import numpy as np
import pytest
import scipy_openblas32

import pygraph as tf
import pygraph.aot as aot

CC = shutil.which("cc") or shutil.which("gcc")
CXX = shutil.which("c++") or shutil.which("g++")
BLAS_DIR = scipy_openblas32.get_lib_dir()
BATCHES = (1, 7, 1000)


@pytest.fixture(scope="module")
def housing_artifact(tmp_path_factory):
    d = tmp_path_factory.mktemp("housing")
    aot_models.train_housing(d / "model.ckpt")
    status, out, err = aot_models.compile_command(
        d / "model.ckpt", "--feed", "X:float32[?,9]", "--fetch", "predictions", "--name", "housing",
        "-o", d / "housing", "--march", "native", "--build")
    assert status == 0, err
    assert "golden test passed" in out
    return d


@pytest.fixture(scope="module")
def mlp_artifact(tmp_path_factory):
    d = tmp_path_factory.mktemp("mlp")
    graph, sess, X, y, logits, loss, train = aot_models.mlp_graph()
    aot.compile(sess, [X], [logits], d / "mlp", name="mlp", march="native")
    aot.build(d / "mlp")
    return d, sess, X, logits


def session_housing(prefix, x):
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.train.import_meta_graph(str(prefix) + ".meta")
        with tf.Session() as sess:
            saver.restore(sess, str(prefix))
            return sess.run("predictions:0", {"X:0": x})


@pytest.fixture(scope="module")
def c_consumers(housing_artifact, mlp_artifact, tmp_path_factory):
    """The same C99 program linked against both models' shared libraries, and against both static libraries:
    two models in one process, no symbol clashes."""
    d = tmp_path_factory.mktemp("consumer")
    (d / "consumer.c").write_text(aot_models.CONSUMER_C)
    h, m = housing_artifact / "housing", mlp_artifact[0] / "mlp"
    common = [CC, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", str(d / "consumer.c"), f"-I{h}", f"-I{m}"]
    shared = common + ["-o", str(d / "shared"), f"-L{h / 'build'}", f"-L{m / 'build'}", "-lhousing", "-lmlp",
                       f"-Wl,-rpath,{h / 'build'}:{m / 'build'}"]
    static = common + ["-o", str(d / "static"), str(h / "build" / "libhousing.a"), str(m / "build" / "libmlp.a"),
                       f"-L{BLAS_DIR}", "-lscipy_openblas", f"-Wl,-rpath,{BLAS_DIR}", "-lstdc++", "-lpthread", "-lm"]
    for cmd in (shared, static):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
    return d


@pytest.mark.parametrize("link", ["shared", "static"])
def test_housing_from_c_equals_session_run(housing_artifact, c_consumers, link, tmp_path):
    x_all, _ = aot_models.housing_data()
    for batch in BATCHES:
        x = x_all[-batch:]
        got = aot_models.run_consumer(c_consumers / link, ["housing", batch], x, (batch, 1), tmp_path)
        want = session_housing(housing_artifact / "model.ckpt", x)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_allclose(got, x.astype(np.float64) @ _theta(housing_artifact), rtol=1e-4, atol=1e-4)


def _theta(d):
    return tf.train.load_variable(str(d / "model.ckpt"), "theta")


@pytest.mark.parametrize("link", ["shared", "static"])
def test_mlp_from_c_equals_session_run(mlp_artifact, c_consumers, link, tmp_path):
    _, sess, X, logits = mlp_artifact
    rng = np.random.default_rng(1)
    for batch in BATCHES:
        x = rng.standard_normal((batch, 784)).astype(np.float32)
        got = aot_models.run_consumer(c_consumers / link, ["mlp", batch], x, (batch, 10), tmp_path)
        np.testing.assert_array_equal(got, sess.run(logits, {X: x}))


def test_mlp_from_cpp_through_the_installed_cmake_package(mlp_artifact, tmp_path):
    d, sess, X, logits = mlp_artifact
    cmake = str(Path(aot.compiler._cmake()))
    prefix = tmp_path / "prefix"
    subprocess.run([cmake, "--install", str(d / "mlp" / "build"), "--prefix", str(prefix)], check=True,
                   capture_output=True)
    assert (prefix / "include" / "mlp.h").is_file()
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.cpp").write_text(aot_models.CONSUMER_CPP)
    (app / "CMakeLists.txt").write_text(aot_models.CONSUMER_CMAKE)
    for cmd in ([cmake, "-S", str(app), "-B", str(app / "build"), f"-DCMAKE_PREFIX_PATH={prefix}",
                 f"-DCMAKE_CXX_COMPILER={CXX}"], [cmake, "--build", str(app / "build")]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rng = np.random.default_rng(2)
    for batch in (1, 7):
        x = rng.standard_normal((batch, 784)).astype(np.float32)
        got = aot_models.run_consumer(app / "build" / "app", [batch], x, (batch, 10), tmp_path)
        np.testing.assert_array_equal(got, sess.run(logits, {X: x}))


def test_libraries_and_programs_need_no_python(housing_artifact, mlp_artifact, c_consumers):
    files = [housing_artifact / "housing" / "build" / "libhousing.so", mlp_artifact[0] / "mlp" / "build" / "libmlp.so",
             c_consumers / "shared", c_consumers / "static"]
    for f in files:
        dynamic = subprocess.run(["readelf", "-d", str(f)], capture_output=True, text=True).stdout
        needed = [line.split("[")[1].rstrip("]") for line in dynamic.splitlines() if "(NEEDED)" in line]
        assert needed and not any("python" in n or "pybind" in n for n in needed), needed
        symbols = subprocess.run(["readelf", "--dyn-syms", "-W", str(f)], capture_output=True, text=True).stdout
        assert not [s for s in symbols.split() if s.startswith(("Py", "_Py", "_ZN8pybind11"))], f
        libs = subprocess.run(["ldd", str(f)], capture_output=True, text=True).stdout
        resolved = [line.split("=>")[0].strip() for line in libs.splitlines()]
        assert "not found" not in libs and not any("python" in r for r in resolved), libs
    exported = subprocess.run(["nm", "-D", "--defined-only", str(files[0])], capture_output=True, text=True).stdout
    names = sorted(line.split()[-1] for line in exported.splitlines() if line.strip())
    assert names == sorted(f"housing_{f}" for f in aot.artifact.API_FUNCTIONS), names  # the C API only
    # BLAS only where there is a matmul: both models have one, and name scipy-openblas
    assert "libscipy_openblas" in subprocess.run(["readelf", "-d", str(files[1])], capture_output=True,
                                                 text=True).stdout


def test_nothing_from_the_compile_machine_paths_in_the_sources(housing_artifact):
    import pygraph

    root = str(Path(pygraph.__file__).resolve().parents[1])
    for f in (housing_artifact / "housing").iterdir():
        if f.is_file() and f.suffix in (".h", ".cc", ".c", ".txt", ".json"):
            text = f.read_text()
            assert root not in text and BLAS_DIR not in text and str(housing_artifact) not in text, f


def test_introspection_through_the_c_api(housing_artifact):
    lib = ctypes.CDLL(str(housing_artifact / "housing" / "build" / "libhousing.so"))
    lib.housing_arg_name.restype = lib.housing_result_name.restype = lib.housing_variable_name.restype = \
        ctypes.c_char_p
    lib.housing_arg_shape.restype = lib.housing_result_shape.restype = ctypes.POINTER(ctypes.c_int64)
    assert (lib.housing_num_args(), lib.housing_num_results(), lib.housing_num_variables()) == (1, 1, 1)
    assert lib.housing_arg_name(0) == b"X:0" and lib.housing_result_name(0) == b"predictions:0"
    assert lib.housing_arg_dtype(0) == 1 and lib.housing_arg_rank(0) == 2
    assert [lib.housing_arg_shape(0)[i] for i in range(2)] == [-1, 9]
    assert [lib.housing_result_shape(0)[i] for i in range(2)] == [-1, 1]
    assert lib.housing_variable_name(0) == b"theta"
    assert lib.housing_arg_name(1) is None and lib.housing_arg_rank(-1) == -1


def test_errors_come_back_as_status_and_message(housing_artifact):
    lib = ctypes.CDLL(str(housing_artifact / "housing" / "build" / "libhousing.so"))
    lib.housing_create.restype = ctypes.c_void_p
    lib.housing_error.restype = ctypes.c_char_p
    lib.housing_error.argtypes = [ctypes.c_void_p]
    lib.housing_run.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p]
    lib.housing_destroy.argtypes = [ctypes.c_void_p]
    m = lib.housing_create(None)
    x, y = np.ones((2, 9), np.float32), np.zeros((2, 1), np.float32)
    assert lib.housing_run(m, 2, x.ctypes.data, None) == 3  # INVALID_ARGUMENT
    assert b"result predictions:0 is NULL" in lib.housing_error(m)
    assert lib.housing_run(m, -1, x.ctypes.data, y.ctypes.data) == 3
    assert lib.housing_run(m, 2, x.ctypes.data, y.ctypes.data) == 0 and lib.housing_error(m) == b""
    np.testing.assert_allclose(y, x @ _theta(housing_artifact), rtol=1e-5)
    lib.housing_destroy(m)


def test_golden_ctest_and_example(housing_artifact):
    build = housing_artifact / "housing" / "build"
    ctest = Path(aot.compiler._cmake()).with_name("ctest")
    proc = subprocess.run([str(ctest), "--test-dir", str(build)], capture_output=True, text=True)
    assert proc.returncode == 0 and "100% tests passed" in proc.stdout, proc.stdout
    example = subprocess.run([str(build / "housing_example")], capture_output=True, text=True)
    assert example.returncode == 0 and example.stdout.startswith("predictions:0:"), example.stderr


def test_instances_run_concurrently_in_threads(mlp_artifact):
    """Each instance owns its state and thread pool: two instances driven from two threads at once (ctypes
    releases the GIL) give Session.run's values."""
    from concurrent.futures import ThreadPoolExecutor

    d, sess, X, logits = mlp_artifact
    lib = ctypes.CDLL(str(d / "mlp" / "build" / "libmlp.so"))
    lib.mlp_create.restype = ctypes.c_void_p
    lib.mlp_run.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p]
    lib.mlp_destroy.argtypes = [ctypes.c_void_p]
    rng = np.random.default_rng(5)
    inputs = [rng.standard_normal((7, 784)).astype(np.float32) for _ in range(2)]

    def work(x):
        m = lib.mlp_create(None)
        outs = []
        for _ in range(30):
            y = np.empty((7, 10), np.float32)
            assert lib.mlp_run(m, 7, x.ctypes.data, y.ctypes.data) == 0
            outs.append(y)
        lib.mlp_destroy(m)
        return outs

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(work, inputs))
    for x, outs in zip(inputs, results):
        want = sess.run(logits, {X: x})
        for y in outs:
            np.testing.assert_array_equal(y, want)


def test_a_program_without_matmul_links_no_blas(tmp_path):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, (None, 5), name="x")
        scale = tf.Variable(tf.constant([0.5, 1.0, 1.5, 2.0, 2.5]), name="scale")
        y = tf.reduce_sum(tf.tanh(x * scale + 1.0), axis=1, name="y")
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        out = aot.compile(sess, [x], [y], tmp_path / "ew", name="ew")
    cmake = (out / "CMakeLists.txt").read_text()
    assert "BLAS" not in cmake and "openblas" not in cmake.lower()
    assert not (out / "host" / "builtin_blas.cc").exists()
    assert json.loads((out / aot.artifact.MARKER).read_text())["libs"] == []


def test_builtin_blas_build_covers_every_blas_and_lapack_call(tmp_path):
    """--blas builtin, default (portable) -march: no OpenBLAS linked; gemm in each transpose combination, gemv
    (a batch of 1), syrk (X^T X) and the LU solve behind matrix_inverse agree with numpy in float64; the golden
    test passes within float32 rounding."""
    rng = np.random.default_rng(4)
    w, w2 = rng.standard_normal((6, 4)), rng.standard_normal((4, 6))
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float64, (None, 6), name="x")
        xtx = tf.matmul(x, x, transpose_a=True)
        outs = [tf.matmul(x, tf.constant(w)), tf.matmul(x, tf.constant(w2), transpose_b=True),
                tf.matmul(tf.constant(w2), x, transpose_b=True), tf.matmul(tf.constant(w), x, True, True),
                xtx, tf.matrix_inverse(xtx + tf.constant(np.eye(6))),
                tf.matrix_inverse(xtx + 2 * tf.constant(np.eye(6)), adjoint=True)]
        sess = tf.Session()
        aot.compile(sess, [x], outs, tmp_path / "la", name="la", blas="builtin")
    build = aot.build(tmp_path / "la")
    assert "openblas" not in subprocess.run(["readelf", "-d", str(build / "libla.so")], capture_output=True,
                                            text=True).stdout
    flags = "".join(p.read_text() for p in build.rglob("flags.make"))
    if "x86_64" in subprocess.run(["uname", "-m"], capture_output=True, text=True).stdout:
        assert "-march=x86-64-v2" in flags and "native" not in flags
    lib = ctypes.CDLL(str(build / "libla.so"))
    lib.la_create.restype = ctypes.c_void_p
    lib.la_run.argtypes = [ctypes.c_void_p, ctypes.c_int64] + [ctypes.c_void_p] * 8
    m = lib.la_create(None)
    for batch in (1, 5):
        xs = rng.standard_normal((batch, 6))
        g = xs.T @ xs
        want = [xs @ w, xs @ w2.T, w2 @ xs.T, w.T @ xs.T, g, np.linalg.inv(g + np.eye(6)),
                np.linalg.inv(g + 2 * np.eye(6)).T]
        got = [np.zeros_like(v) for v in want]
        assert lib.la_run(m, batch, xs.ctypes.data, *[g_.ctypes.data for g_ in got]) == 0
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


CROSS_CXX = shutil.which("aarch64-linux-gnu-g++")


@pytest.mark.skipif(CROSS_CXX is None, reason="the aarch64 cross compiler (g++-aarch64-linux-gnu) is not installed")
def test_cross_build_for_aarch64(tmp_path):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, (None, 3), name="x")
        y = tf.nn.relu(tf.matmul(x, tf.constant(np.ones((3, 2), np.float32))), name="y")
        aot.compile(tf.Session(), [x], [y], tmp_path / "arm", name="arm", blas="builtin")
    build = aot.build(tmp_path / "arm", cxx=CROSS_CXX)
    for f in (build / "libarm.so", build / "arm_example", build / "arm_golden"):
        header = subprocess.run(["readelf", "-h", str(f)], capture_output=True, text=True).stdout
        assert "AArch64" in header, header
    flags = "".join(p.read_text() for p in build.rglob("flags.make"))
    assert "-march=armv8-a" in flags
