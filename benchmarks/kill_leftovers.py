"""Bytes that killed compiles and checkpoint saves leave behind: a crash loop must not fill the disk.

    .venv/bin/python -m benchmarks.kill_leftovers [kills]

Each round starts a fresh process that builds a new program (so it compiles) and then saves an 8 MB
checkpoint over and over; it is killed (SIGKILL), alternately while its compiler runs (0-0.8 s after the
generated source appears) and while a save writes its temporary files. Prints the bytes of temporary
files left in the module cache and the checkpoint directory after all the kills, and after one clean run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import sys
import numpy as np
import pygraph as tf
k = float(sys.argv[1])
A = tf.placeholder(tf.float32, (None, 3))
v = tf.Variable(np.ones((2048, 1024), np.float32), name="v")
B = tf.sqrt(A * k + 1.0) - A
saver = tf.train.Saver()
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    sess.run(B, {A: np.ones((2, 3), np.float32)})
    if sys.argv[2] == "save":
        for _ in range(1000):
            saver.save(sess, sys.argv[3])
"""


def temp_bytes(directory):
    found = [p.stat().st_size for p in Path(directory).rglob("*")
             if p.is_file() and not p.is_symlink() and _is_temp(p.name)]
    return sum(found), len(found)


def _is_temp(name):
    return ".tempstate" in name or name.endswith(".tmp") or ".pgtmp" in name


def kill_when(cmd, env, watch, started, delay, timeout=60.0):
    """Run `cmd` and SIGKILL it `delay` s after a new file for which `started(name)` holds appears in `watch`."""
    before = set(os.listdir(watch)) if Path(watch).exists() else set()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if Path(watch).exists() and any(started(n) and n not in before for n in os.listdir(watch)):
            time.sleep(delay)
            break
        time.sleep(0.005)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()


def main(kills=100):
    with tempfile.TemporaryDirectory() as root:
        cache, ckpt = Path(root, "cache"), Path(root, "ckpt")
        ckpt.mkdir()
        env = dict(os.environ, PYGRAPH_CACHE_DIR=str(cache))
        prefix = str(ckpt / "model")
        base = time.time_ns() % 1_000_000
        rng = random.Random(0)
        for i in range(kills):
            mode = "save" if i % 2 else "compile"
            literal = repr(float(base + i + 2)) if mode == "compile" else "1.5"
            cmd = [sys.executable, "-c", CHILD, literal, mode, prefix]
            if mode == "save":  # a save is writing its temporary files
                kill_when(cmd, env, ckpt, _is_temp, 0.05)
            else:  # the generated source is written, so the compiler is running
                kill_when(cmd, env, cache, lambda n: n.endswith(".cc") and not n.startswith("."),
                          rng.uniform(0.0, 0.8))
        killed = temp_bytes(cache), temp_bytes(ckpt)
        subprocess.run([sys.executable, "-c", CHILD.replace("range(1000)", "range(1)"), "0.25", "save", prefix],
                       env=env, check=True, capture_output=True)
        after = temp_bytes(cache), temp_bytes(ckpt)
    for when, (in_cache, in_ckpt) in (("after the kills", killed), ("after one clean run", after)):
        print(f"{kills} kills, {when}: module cache {in_cache[0] / 1e6:.1f} MB in {in_cache[1]} temporary "
              f"files, checkpoint dir {in_ckpt[0] / 1e6:.1f} MB in {in_ckpt[1]}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
