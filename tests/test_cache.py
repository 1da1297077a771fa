"""Code generation and the compiled-module cache: symbolic batch sizes, the disk cache across processes,
concurrent writers, corrupted entries, directory permissions, compile errors and debug output."""

import hashlib
import importlib.metadata
import json
import os
import re
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from pygraph.codegen import toolchain

import pygraph as tf
from pygraph import config, errors

# A child process building a small elementwise graph; argv[1] is a literal that makes its program new.
CHILD = r"""
import json, sys
import numpy as np
import pygraph as tf
from pygraph.codegen import toolchain
k = float(sys.argv[1])
A = tf.placeholder(tf.float32, (None, 3))
B = tf.sqrt(A * k + 1.0) - A
with tf.Session() as sess:
    out = sess.run(B, {A: np.arange(6, dtype=np.float32).reshape(2, 3)})
print(json.dumps({"result": out.tolist(), "stats": toolchain.stats, "lowered": "jinja2" in sys.modules}))
"""


def fresh_literal():
    """A number no earlier program used, so the program built with it must be compiled."""
    return float(uuid.uuid4().int % (1 << 20) + 2)


def expected_child(k):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    return np.sqrt(a * np.float32(k) + np.float32(1)) - a


def run_child(k, cache, extra_env=None):
    env = dict(os.environ, PYGRAPH_CACHE_DIR=str(cache), **(extra_env or {}))
    proc = subprocess.run([sys.executable, "-c", CHILD, repr(k)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def start_child(k, cache):
    env = dict(os.environ, PYGRAPH_CACHE_DIR=str(cache))
    return subprocess.Popen([sys.executable, "-c", CHILD, repr(k)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def entries(cache):
    names = sorted(p.name for p in Path(cache).iterdir())
    return {suffix: [n for n in names if n.endswith(suffix) and not n.startswith(".")]
            for suffix in (".so", ".sha256", ".cc")}, [n for n in names if n.startswith(".")]


def small_graph(k):
    A = tf.placeholder(tf.float32, (None, 3), name="A")
    return A, tf.maximum(A * k - 1.0, 0.0) + A


# -- symbolic batch dimension
def test_none_dims_compile_once_for_all_batch_sizes():
    k = fresh_literal()
    A, B = small_graph(k)
    before = toolchain.stats["compiles"]
    for i, n in enumerate((1, 7, 1000)):
        if i:  # new sessions that forget the loaded module: the program must come from the cache unchanged
            toolchain.clear_memory_cache()
        data = np.linspace(-3, 3, n * 3, dtype=np.float32).reshape(n, 3)
        with tf.Session() as sess:
            got = sess.run(B, {A: data})
            np.testing.assert_array_equal(got, np.maximum(data * np.float32(k) - np.float32(1), 0) + data)
    assert toolchain.stats["compiles"] - before == 1


def test_one_session_serves_every_batch_size_from_one_program():
    A, B = small_graph(fresh_literal())
    with tf.Session() as sess:
        before = dict(toolchain.stats)
        shapes = [sess.run(B, {A: np.zeros((n, 3), np.float32)}).shape for n in (1, 7, 1000, 3)]
        assert shapes == [(1, 3), (7, 3), (1000, 3), (3, 3)]
        assert toolchain.stats["compiles"] - before["compiles"] == 1


# -- where the cache lives
def test_cache_dir_follows_pygraph_cache_dir(tmp_path, monkeypatch):
    target = tmp_path / "custom" / "cache"
    monkeypatch.setenv("PYGRAPH_CACHE_DIR", str(target))
    A, B = small_graph(fresh_literal())
    with tf.Session() as sess:
        sess.run(B, {A: np.ones((2, 3), np.float32)})
    found, temps = entries(target)
    assert len(found[".so"]) == 1 and len(found[".sha256"]) == 1 and len(found[".cc"]) == 1
    assert temps == []
    assert stat.S_IMODE(target.stat().st_mode) == 0o700


def test_default_cache_dir_is_under_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.delenv("PYGRAPH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert config.cache_dir() == str(tmp_path / "xdg" / "pygraph")
    A, B = small_graph(fresh_literal())
    with tf.Session() as sess:
        sess.run(B, {A: np.ones((1, 3), np.float32)})
    assert len(entries(tmp_path / "xdg" / "pygraph")[0][".so"]) == 1
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config.cache_dir() == str(tmp_path / "home" / ".cache" / "pygraph")


# -- across processes
def test_second_process_compiles_nothing(tmp_path):
    k = fresh_literal()
    first = run_child(k, tmp_path / "c")
    second = run_child(k, tmp_path / "c")
    assert first["stats"]["compiles"] >= 1
    assert second["stats"]["compiles"] == 0 and second["stats"]["disk_hits"] >= 1
    np.testing.assert_allclose(first["result"], expected_child(k), rtol=1e-6)
    assert second["result"] == first["result"]


def test_warm_process_loads_its_module_without_lowering(tmp_path):
    """The request index maps a known program straight to its module: no Jinja, no rendering."""
    k = fresh_literal()
    first = run_child(k, tmp_path / "c")
    second = run_child(k, tmp_path / "c")
    assert first["lowered"] and not second["lowered"]
    assert second["stats"]["compiles"] == 0 and second["result"] == first["result"]


def test_request_index_pointing_at_a_damaged_module_rebuilds_it(tmp_path):
    k = fresh_literal()
    cache = tmp_path / "c"
    run_child(k, cache)
    for so in Path(cache).glob("*.so"):
        so.write_bytes(so.read_bytes()[:100])
    again = run_child(k, cache)
    assert again["lowered"] and again["stats"]["compiles"] >= 1
    np.testing.assert_allclose(again["result"], expected_child(k), rtol=1e-6)


def test_concurrent_processes_share_one_entry(tmp_path):
    k = fresh_literal()
    cache = tmp_path / "race"
    procs = [start_child(k, cache) for _ in range(4)]
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        np.testing.assert_allclose(json.loads(out.strip().splitlines()[-1])["result"], expected_child(k),
                                   rtol=1e-6)
    found, temps = entries(cache)
    assert len(found[".so"]) == 1 and len(found[".sha256"]) == 1 and len(found[".cc"]) == 1
    assert temps == []  # every writer renamed or removed its temporary file
    so = cache / found[".so"][0]
    digest = hashlib.sha256(so.read_bytes()).hexdigest()
    assert (cache / found[".sha256"][0]).read_text().strip() == digest
    assert run_child(k, cache)["stats"]["compiles"] == 0


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing_digest", "group_writable"])
def test_damaged_entry_is_rebuilt(tmp_path, damage):
    k = fresh_literal()
    cache = tmp_path / "c"
    run_child(k, cache)
    so = cache / entries(cache)[0][".so"][0]
    if damage == "truncate":
        data = so.read_bytes()
        so.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        size = so.stat().st_size
        so.write_bytes(bytes(range(256)) * (size // 256) + b"\0" * (size % 256))
    elif damage == "missing_digest":
        so.with_suffix(".sha256").unlink()
    else:  # another user could have swapped its code
        so.chmod(0o770)
    rebuilt = run_child(k, cache)
    assert rebuilt["stats"]["compiles"] == 1
    np.testing.assert_allclose(rebuilt["result"], expected_child(k), rtol=1e-6)
    again = run_child(k, cache)
    assert again["stats"]["compiles"] == 0 and again["result"] == rebuilt["result"]


# -- permissions
def _build_new_program():
    A, B = small_graph(fresh_literal())
    with tf.Session() as sess:
        return sess.run(B, {A: np.ones((1, 3), np.float32)})


def test_cache_dir_is_created_private(tmp_path, monkeypatch):
    target = tmp_path / "a" / "b"
    monkeypatch.setenv("PYGRAPH_CACHE_DIR", str(target))
    old = os.umask(0)  # even with a permissive umask
    try:
        _build_new_program()
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    for f in target.iterdir():
        assert not f.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH), f


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777])
def test_cache_dir_writable_by_others_is_refused(tmp_path, monkeypatch, mode):
    target = tmp_path / "shared"
    target.mkdir()
    target.chmod(mode)
    monkeypatch.setenv("PYGRAPH_CACHE_DIR", str(target))
    with pytest.raises(PermissionError) as info:
        _build_new_program()
    assert str(target) in str(info.value) and "writable by other users" in str(info.value)
    assert f"chmod go-w {target}" in str(info.value)
    target.chmod(0o755)  # readable by others is fine; only writing is dangerous
    _build_new_program()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_cache_dir_of_another_user_is_refused(tmp_path, monkeypatch):
    target = tmp_path / "theirs"
    target.mkdir(mode=0o700)
    os.chown(target, 12345, 12345)
    monkeypatch.setenv("PYGRAPH_CACHE_DIR", str(target))
    with pytest.raises(PermissionError, match="belongs to another user"):
        _build_new_program()


# -- compile errors
def test_compile_error_carries_compiler_message_and_source(monkeypatch, cache_dir):
    monkeypatch.setenv("PYGRAPH_CXXFLAGS", "-DPG_BOGUS -include /nonexistent/pg_bogus.h")
    A, B = small_graph(fresh_literal())
    with tf.Session() as sess:
        with pytest.raises(errors.CompileError) as info:
            sess.run(B, {A: np.ones((1, 3), np.float32)})
    msg = str(info.value)
    assert "pg_bogus.h" in msg  # the compiler's own message
    source = re.search(r"generated source (\S+\.cc)", msg).group(1)
    assert Path(source).is_file() and "pg_run" in Path(source).read_text()
    assert Path(source).parent == Path(cache_dir)
    assert not Path(source).with_suffix(".so").exists()
    assert entries(cache_dir)[1] == []  # no temporary file left behind
    monkeypatch.delenv("PYGRAPH_CXXFLAGS")
    with tf.Session() as sess:  # the failure is not cached: the same graph builds with good flags
        assert sess.run(B, {A: np.ones((1, 3), np.float32)}).shape == (1, 3)


@pytest.mark.parametrize("compiler, message", [("/nonexistent/bin/c++", "not found"),
                                               ("false", r"compilation failed \(exit 1\)")])
def test_bad_compiler_raises_compile_error(monkeypatch, compiler, message):
    monkeypatch.setenv("PYGRAPH_CXX", compiler)
    with pytest.raises(errors.CompileError, match=message):
        _build_new_program()


# -- debug output
@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_debug_levels(monkeypatch, capfd, level):
    monkeypatch.setenv("PYGRAPH_DEBUG", str(level))
    _build_new_program()
    err = capfd.readouterr().err
    assert ("kernel(s)" in err and "elementwise" in err) == (level >= 1)
    assert ("pg_run(" in err) == (level >= 2)  # the generated source
    assert (re.search(r"\[pygraph\] \S*(c\+\+|g\+\+|clang\+\+)\S* .*-O3", err) is not None) == (level >= 3)


# -- the package itself
def test_import_prints_version():
    proc = subprocess.run([sys.executable, "-c", "import pygraph; print(pygraph.__version__)"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == importlib.metadata.version("pygraph") == tf.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", tf.__version__)
