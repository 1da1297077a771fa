"""Faults in the compiled-module cache heal themselves: damaged or swapped request-index entries, things
other than regular files squatting an entry's name (a directory, a FIFO, a symlink), a compiler that exits 0
but writes garbage or never exits, a tampered template cache, and temporary files left by killed writers."""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_cache import CHILD, expected_child, fresh_literal  # the same small child program

import pygraph as tf
from pygraph import config, errors, safe_files


def child_env(cache, **extra):
    return dict(os.environ, PYGRAPH_CACHE_DIR=str(cache), **extra)


def run_child(k, cache, timeout=60, **extra):
    """The child's report; a child that hangs (a FIFO opened blocking) fails the test after `timeout`."""
    proc = subprocess.run([sys.executable, "-c", CHILD, repr(k)], env=child_env(cache, **extra),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(report["result"], expected_child(k), rtol=1e-6)
    return report


def names(cache, suffix):
    if not Path(cache).exists():
        return set()
    return {p.name for p in Path(cache).iterdir() if p.name.endswith(suffix) and not p.name.startswith(".")}


def temporaries(directory):
    return sorted(p.name for p in Path(directory).iterdir() if ".tmp" in p.name or ".tempstate" in p.name)


def build_one(cache):
    """Build a new program in `cache`; returns its literal and the names of its index and module entries."""
    k = fresh_literal()
    reqs, sos = names(cache, ".req"), names(cache, ".so")
    run_child(k, cache)
    (req,), (so,) = names(cache, ".req") - reqs, names(cache, ".so") - sos
    return k, Path(cache, req), Path(cache, so)


def assert_healed(k, cache):
    """A later run finds everything in place: no lowering, no compile."""
    again = run_child(k, cache)
    assert not again["lowered"] and again["stats"]["compiles"] == 0


# -- the request index
def test_request_index_entry_of_random_bytes_is_rebuilt(tmp_path):
    cache = tmp_path / "c"
    k, req, _ = build_one(cache)
    req.write_bytes(b"\xff\xfe\x80" + os.urandom(61))  # not even UTF-8
    again = run_child(k, cache)
    assert again["lowered"] and again["stats"]["compiles"] == 0  # the module itself was intact
    assert_healed(k, cache)


def test_swapped_request_index_entries_never_run_the_wrong_module(tmp_path):
    cache = tmp_path / "c"
    k1, req1, _ = build_one(cache)
    k2, req2, _ = build_one(cache)
    one, two = req1.read_bytes(), req2.read_bytes()
    req1.write_bytes(two)
    req2.write_bytes(one)
    run_child(k1, cache)  # checks k1's own result
    run_child(k2, cache)
    assert_healed(k1, cache)
    assert_healed(k2, cache)


# -- something other than a regular file under an entry's name
def _squat(path, squatter, tmp_path):
    if squatter == "symlink":  # the same bytes, but outside the private cache directory
        outside = tmp_path / ("outside-" + path.name)
        shutil.copy2(path, outside)
        path.unlink()
        path.symlink_to(outside)
        return
    path.unlink()
    if squatter == "directory":
        path.mkdir()
        (path / "inside").write_text("x")
    else:
        os.mkfifo(path, 0o600)


@pytest.mark.parametrize("entry, squatter", [(".so", "directory"), (".so", "fifo"), (".so", "symlink"),
                                             (".sha256", "fifo"), (".req", "directory"), (".req", "fifo")])
def test_entry_replaced_by_something_else_is_rebuilt(tmp_path, entry, squatter):
    cache = tmp_path / "c"
    k, req, so = build_one(cache)
    path = {".so": so, ".sha256": so.with_suffix(".sha256"), ".req": req}[entry]
    _squat(path, squatter, tmp_path)
    rebuilt = run_child(k, cache, timeout=30)
    assert rebuilt["lowered"]
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode) and not st.st_mode & 0o077, stat.filemode(st.st_mode)
    assert temporaries(cache) == []
    assert_healed(k, cache)


# -- the compiler
def fake_compiler(tmp_path, body):
    script = tmp_path / "fake-c++"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return str(script)


def _new_program():
    A = tf.placeholder(tf.float32, (None, 3), name="A")
    k = fresh_literal()
    return A, tf.maximum(A * k - 1.0, 0.0) + A, k


@pytest.mark.parametrize("output, message", [
    ("head -c 20000 /dev/urandom > \"$out\"", "not a usable pygraph module: .*invalid ELF header"),
    ("{real} -shared -fPIC -x c++ /dev/null -o \"$out\"", "not a usable pygraph module: it exports no pg_abi"),
    (":", "exited successfully but wrote no module file"),
])
def test_compiler_exiting_0_with_a_bad_module_leaves_nothing_cached(tmp_path, monkeypatch, output, message):
    """A compiler that exits 0 the first time without writing a module (garbage, another library, nothing)
    and works afterwards."""
    real = shutil.which(config.compiler())
    cache = tmp_path / "c"
    monkeypatch.setenv("PYGRAPH_CACHE_DIR", str(cache))
    monkeypatch.setenv("PYGRAPH_CXX", fake_compiler(tmp_path, f"""
out=""; prev=""
for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done
if [ ! -e {tmp_path}/once ]; then touch {tmp_path}/once; {output.format(real=real)}; exit 0; fi
exec {real} "$@"
"""))
    A, B, k = _new_program()
    data = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)
    with tf.Session() as sess, pytest.raises(errors.CompileError, match=message) as info:
        sess.run(B, {A: data})
    assert "fake-c++" in str(info.value)
    assert names(cache, ".so") == set() and temporaries(cache) == []
    with tf.Session() as sess:  # nothing bad was published: the next attempt compiles and runs
        np.testing.assert_array_equal(sess.run(B, {A: data}), np.maximum(data * np.float32(k) - 1, 0) + data)


def test_hung_compiler_is_stopped_after_the_timeout(tmp_path, monkeypatch):
    pidfile = tmp_path / "pid"
    monkeypatch.setenv("PYGRAPH_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("PYGRAPH_CXX", fake_compiler(tmp_path, f"echo $$ > {pidfile}\nexec sleep 120\n"))
    monkeypatch.setenv("PYGRAPH_COMPILE_TIMEOUT", "1.5")
    A, B, _ = _new_program()
    start = time.monotonic()
    with tf.Session() as sess, pytest.raises(errors.CompileError) as info:
        sess.run(B, {A: np.ones((1, 3), np.float32)})
    assert time.monotonic() - start < 30
    msg = str(info.value)
    assert "fake-c++" in msg and "within 1.5 s" in msg and "PYGRAPH_COMPILE_TIMEOUT=" in msg
    pid = int(pidfile.read_text())
    assert not Path(f"/proc/{pid}").exists()  # killed and reaped
    assert temporaries(tmp_path / "c") == []


@pytest.mark.parametrize("value", ["soon", "0", "-3", "nan"])
def test_compile_timeout_setting_must_be_positive_seconds(monkeypatch, value):
    monkeypatch.setenv("PYGRAPH_COMPILE_TIMEOUT", value)
    with pytest.raises(ValueError, match=f"PYGRAPH_COMPILE_TIMEOUT must be a positive number of seconds, got "
                                         f"'{value}'"):
        config.compile_timeout()
    monkeypatch.delenv("PYGRAPH_COMPILE_TIMEOUT")
    assert config.compile_timeout() == 600


# -- the template cache gets the same checks
@pytest.mark.parametrize("damage", ["symlink", "group_writable", "fifo_entries"])
def test_template_cache_is_checked_like_the_module_cache(tmp_path, damage):
    cache = tmp_path / "c"
    build_one(cache)
    templates = cache / "templates"
    compiled = sorted(templates.iterdir())
    assert compiled  # the first program filled it
    outside = tmp_path / "outside"
    outside.mkdir()
    if damage == "symlink":  # would make pygraph load (and write) compiled templates elsewhere
        shutil.rmtree(templates)
        templates.symlink_to(outside)
    elif damage == "group_writable":
        templates.chmod(0o770)
    else:
        for f in compiled:
            f.unlink()
            os.mkfifo(f, 0o600)
    run_child(fresh_literal(), cache, timeout=30)  # a new program: it renders templates
    st = os.lstat(templates)
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700
    kinds = {stat.S_IFMT(os.lstat(f).st_mode) for f in templates.iterdir()}
    assert kinds == {stat.S_IFREG}
    assert list(outside.iterdir()) == []


# -- temporary files that killed writers left
def _dead_pid():
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _as_written_by(name, pid):
    return name.rsplit(".", 1)[0] + f".{pid}"


def test_compile_sweeps_stale_temporaries_and_keeps_live_ones(tmp_path, monkeypatch):
    cache = tmp_path / "c"
    cache.mkdir(mode=0o700)
    live = subprocess.Popen(["sleep", "60"])
    try:
        files = {
            "dead": _as_written_by(safe_files.temp_name(f".{'a' * 64}.so.tmp"), _dead_pid()),
            "live": _as_written_by(safe_files.temp_name(f".{'b' * 64}.so.tmp"), live.pid),
            "old_untagged": ".cafe.so.x8Ab2.so.tmp",  # from an older pygraph: goes by age only
            "young_untagged": ".beef.cc.Qx7a1.tmp",
            "not_a_temporary": "notes.txt",
        }
        for name in files.values():
            (cache / name).write_bytes(b"\0" * 4096)
        hour_ago = time.time() - safe_files.STALE_AFTER_S - 60
        os.utime(cache / files["old_untagged"], (hour_ago, hour_ago))
        monkeypatch.setenv("PYGRAPH_CACHE_DIR", str(cache))
        A, B, _ = _new_program()
        with tf.Session() as sess:
            sess.run(B, {A: np.ones((1, 3), np.float32)})
        left = {n for n in os.listdir(cache)}
        assert files["dead"] not in left and files["old_untagged"] not in left
        assert {files["live"], files["young_untagged"], files["not_a_temporary"]} <= left
    finally:
        live.kill()
        live.wait()


def test_save_sweeps_its_own_stale_temporaries_only(tmp_path):
    v = tf.Variable(np.arange(4, dtype=np.float32), name="v")
    saver = tf.train.Saver()
    prefix = str(tmp_path / "m")
    dead = _dead_pid()
    stale = [_as_written_by(f"m.index.tempstate1.{safe_files._HOST}.0", dead),
             _as_written_by(f"m.data-00000-of-00001.tempstate2.{safe_files._HOST}.0", dead),
             _as_written_by(f"m.meta.tempstate3.{safe_files._HOST}.0", dead)]
    kept = [f"m.index.tempstate4.{safe_files._HOST}.{os.getpid()}",  # a live writer (this process)
            _as_written_by(f"other.index.tempstate5.{safe_files._HOST}.0", dead),  # another checkpoint's
            "m.index.tempstate6"]  # TF-style, untagged and young
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"\0" * 1000)
    with tf.Session() as sess:
        sess.run(v.initializer)
        saver.save(sess, prefix)
    left = set(os.listdir(tmp_path))
    assert not left & set(stale) and set(kept) <= left
    assert {"m.index", "m.data-00000-of-00001", "m.meta", "checkpoint"} <= left


KILLED = r"""
import sys
import numpy as np
import pygraph as tf
A = tf.placeholder(tf.float32, (None, 3))
B = tf.sqrt(A * float(sys.argv[1]) + 1.0) - A
v = tf.Variable(np.ones((512, 1024), np.float32), name="v")
saver = tf.train.Saver()
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    sess.run(B, {A: np.ones((2, 3), np.float32)})
    for _ in range(1000):
        saver.save(sess, sys.argv[2], write_meta_graph=False)
"""


def _start_and_kill(cache, prefix, ready):
    proc = subprocess.Popen([sys.executable, "-c", KILLED, repr(fresh_literal()), prefix],
                            env=child_env(cache), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline and not ready():
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _wait_for_processes_using(path, timeout=60):
    needle = str(path).encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = False
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                busy = busy or needle in cmdline.read_bytes()
            except OSError:  # exited meanwhile
                pass
        if not busy:
            return
        time.sleep(0.05)


def test_killed_compiles_and_saves_leave_no_lasting_leftovers(tmp_path):
    cache, ckpt = tmp_path / "c", tmp_path / "ckpt"
    ckpt.mkdir()
    prefix = str(ckpt / "m")
    for _ in range(3):  # killed while its compiler writes the module
        _start_and_kill(cache, prefix, lambda: cache.exists() and any(".so.tmp" in n for n in os.listdir(cache)))
        _start_and_kill(cache, prefix, lambda: any(".tempstate" in n for n in os.listdir(ckpt)))
    _wait_for_processes_using(cache)  # compilers outlive the killed process (their own process group)
    proc = subprocess.run([sys.executable, "-c", KILLED.replace("range(1000)", "range(1)"),
                           repr(fresh_literal()), prefix], env=child_env(cache), capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert temporaries(cache) == [] and temporaries(ckpt) == []
