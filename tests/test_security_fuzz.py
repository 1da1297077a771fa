"""Issue 8 §1: malformed model files fail cleanly. A seeded fuzzer mutates an exported meta graph (JSON fields
and the stored arrays) and a checkpoint, loads each mutant in-process from a scratch working directory, and
asserts one of two outcomes:

- a clean error: a pygraph.errors.OpError, or a ValueError/TypeError/NotImplementedError that a `raise`
  statement in pygraph's own code raised with a message (a TypeError from deep inside Python or numpy, an
  AttributeError, IndexError, KeyError, a compiler error or a crash are failures);
- a correct result: what runs equals the graph's numpy reference semantics (each op's registry `numpy`
  facet, evaluated on the imported graph), with the declared dtypes; a restored checkpoint holds exactly
  the saved values.

Payload strings in the mutation pool try to create files; none may appear. Deterministic (fixed seeds);
most mutants fail at import, and at most COMPILE_CAP distinct programs are compiled.
"""

from __future__ import annotations

import copy
import inspect
import json
import linecache
import math
import os
import random
import time
import traceback
import zipfile
from pathlib import Path

import numpy as np
import pytest

import pygraph as tf
from pygraph import codegen, errors
from pygraph.ops import registry

META_CASES = 2000
CKPT_CASES = 600
COMPILE_CAP = 40
# pygraph's own code: the package and its codegen folder (shipped as pygraph.codegen)
OWN_DIRS = (str(Path(tf.__file__).resolve().parent), str(Path(codegen.__file__).resolve().parent))
FEEDS = {"x:0": np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -3.0]], np.float32), "k:0": np.array([0, 2, 1], np.int32)}


def _base_graph():
    """Ops whose codegen reads attributes (OneHot, StridedSlice, Transpose, Tile, ...) and a few elementwise
    ones; returns the tensors to fetch."""
    x = tf.placeholder(tf.float32, (2, 3), name="x")
    k = tf.placeholder(tf.int32, (None,), name="k")
    w = tf.constant(np.arange(6, dtype=np.float32).reshape(3, 2) / 4, name="w")
    outs = [tf.one_hot(k, 4, name="oh"), tf.identity(x[:, 1:3], name="sl"), tf.transpose(x, name="tr"),
            tf.tile(x, [2, 1], name="ti"), tf.reduce_sum(x, 1, name="rs"), tf.matmul(x, w, name="mm"),
            tf.concat([x, x], 1, name="cc"), tf.gather(x, [2, 0], axis=1, name="ga"),
            tf.cast(x * 2.0 + 1.0, tf.int32, name="ca"), tf.reshape(x, [3, 2], name="re"),
            tf.argmax(x, 1, name="am"), tf.squeeze(tf.expand_dims(x, 0), [0], name="sq"),
            tf.reduce_max(tf.nn.relu(x - 0.5), 0, keepdims=True, name="rm"), tf.range(0, 7, 2, name="ra"),
            tf.stack([x, x], axis=1, name="st"), tf.fill([2, 2], 3.0, name="fi")]
    # not fetched: they give the document variables, collections and Saver settings to mutate
    v = tf.Variable(np.ones((2, 3), np.float32), name="v")
    tf.add_to_collection("notes", "free text")
    tf.add_to_collection(tf.GraphKeys.TRAIN_OP, tf.assign_add(v, x, name="train").op)
    return [t.name for t in outs]


def _export(tmp_path):
    names = _base_graph()
    path = tmp_path / "base.meta"
    tf.train.Saver().export_meta_graph(str(path))
    with zipfile.ZipFile(path) as z:
        doc = json.loads(z.read("meta_graph.json"))
        arrays = {n: z.read(n) for n in z.namelist() if n != "meta_graph.json"}
    tf.reset_default_graph()
    return doc, arrays, names


# -- mutations
def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _get(node, path):
    for p in path:
        node = node[p]
    return node


def _value_pool(rng, doc, target):
    payload = f'(fclose(fopen("{target}", "w")), 3)'
    names = [o.get("name", "x") for o in doc["ops"] if isinstance(o, dict)] or ["x"]
    return [None, True, False, 0, 1, -1, 3, 2**31, -(2**63) - 1, 2**64, 1.5, float("nan"), "", "x", payload,
            f"{payload}:0", "*/ system(\"touch x\"); /*", "a\\", "\n", [], {}, [0], [[]], [None], [1, 0],
            [0, 0], {"list": []}, {"tuple": [payload]}, {"dtype": "string"}, {"dtype": payload}, {"array": 99},
            {"array": -1}, {"float": payload}, {"float": "1e999"}, {"shape": [-1]}, {"bytes": "!!"},
            {"scalar": payload, "np": "O"}, {"scalar": 1, "np": "V8"}, {"strings": ["YQ=="], "dims": [2]},
            {"tuple": [{"tuple": ["range", payload, 3, 1, 1]}]}, {"tuple": [{"tuple": ["index", 9, 0]}]},
            rng.choice(names), rng.choice(names) + ":0", rng.choice(names) + ":7"]


def _mutate(rng, base, target):
    doc = copy.deepcopy(base)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        paths = list(_paths(doc))[1:]
        if rng.random() < 0.7:  # aim at the ops, where the attributes are
            op_paths = [p for p in paths if p[0] == "ops"]
            paths = op_paths or paths
        path = rng.choice(paths)
        parent, key = _get(doc, path[:-1]), path[-1]
        old = parent[key]
        move = rng.random()
        if move < 0.15:
            del parent[key]
        elif move < 0.25 and isinstance(old, int) and not isinstance(old, bool):
            parent[key] = old + rng.choice((-2, -1, 1, 2, 1000))
        elif move < 0.35 and isinstance(parent, list) and len(parent) > 1:  # reorder: cycles, dangling inputs
            j = rng.randrange(len(parent))
            parent[key], parent[j] = parent[j], parent[key]
        elif move < 0.4 and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(old))
        else:
            parent[key] = copy.deepcopy(rng.choice(_value_pool(rng, base, target)))
    return doc


def _mutate_bytes(rng, data):
    data = bytearray(data)
    move = rng.random()
    if move < 0.5 and data:
        for _ in range(rng.choice((1, 1, 2, 8))):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif move < 0.75:
        del data[rng.randrange(len(data) + 1):]
    else:
        data += bytes(rng.randrange(256) for _ in range(rng.choice((1, 7, 64))))
    return bytes(data)


# -- outcomes
def _clean_error(exc):
    """OpError, or ValueError/TypeError/NotImplementedError raised by a `raise` statement in pygraph's own
    code ("pygraph cannot compile ... yet" is NotImplementedError)."""
    if isinstance(exc, errors.OpError):
        return True
    if type(exc).__name__ in ("CompileError", "RenderError") or not isinstance(
            exc, (ValueError, TypeError, NotImplementedError)):
        return False
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    line = linecache.getline(frame.filename, frame.lineno).strip()
    return frame.filename.startswith(OWN_DIRS) and line.startswith("raise") and bool(str(exc))


def _reference(graph, fetches, feeds):
    """The fetched values computed from each op's numpy facet (the registry's reference semantics)."""
    env = {}

    def value(t):
        if t.name in feeds:
            return feeds[t.name]
        if t not in env:
            op = t.op
            fn = registry.lookup(op.type).numpy
            args = [value(i) for i in op.inputs]
            result = fn(*args, op=op) if "op" in inspect.signature(fn).parameters else fn(*args)
            results = result if len(op.outputs) > 1 else (result,)
            for out, r in zip(op.outputs, results):
                env[out] = np.asarray(r).astype(out.dtype.np)
        return env[t]

    return [value(graph.get_tensor_by_name(n)) for n in fetches]


def _write_meta(path, doc, arrays):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("meta_graph.json", json.dumps(doc, allow_nan=True))
        for n, data in arrays.items():
            z.writestr(n, data)


def _files_under(directory):
    return {str(p) for p in Path(directory).rglob("*")}


@pytest.fixture
def scratch_cwd(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_fuzzed_meta_graphs_fail_cleanly_or_compute_correctly(tmp_path, scratch_cwd):
    doc, arrays, fetches = _export(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "pwned"
    before = _files_under(tmp_path) - _files_under(scratch_cwd)
    rng = random.Random(8)
    counts = {"clean error": 0, "correct result": 0, "imported, not run (compile cap)": 0}
    failures = []
    compiled = set()
    start = time.perf_counter()
    for case in range(META_CASES):
        mutant = _mutate(rng, doc, target)
        mutant_arrays = dict(arrays)
        if rng.random() < 0.1 and arrays:
            name = rng.choice(sorted(arrays))
            mutant_arrays[name] = _mutate_bytes(rng, arrays[name])
        path = scratch_cwd / "case.meta"
        _write_meta(path, mutant, mutant_arrays)
        outcome = _run_meta_case(path, fetches, compiled, mutant)
        if outcome in counts:
            counts[outcome] += 1
        else:
            failures.append(f"case {case}: {outcome}")
        assert not target.exists(), f"case {case} created {target}"
    elapsed = time.perf_counter() - start
    print(f"\nmeta graph fuzz: {META_CASES} cases in {elapsed:.1f} s: {counts}, {len(failures)} failures, "
          f"{len(compiled)} programs run")
    assert not failures, f"{len(failures)} of {META_CASES} mutants misbehaved:\n" + "\n".join(failures[:20])
    assert _files_under(tmp_path) - _files_under(scratch_cwd) == before, "files appeared outside the cwd"
    assert counts["correct result"] > 0 and counts["clean error"] > META_CASES // 2


def _run_meta_case(path, fetches, compiled, mutant):
    with tf.Graph().as_default() as graph:
        try:
            tf.train.import_meta_graph(str(path))
        except Exception as e:  # noqa: BLE001 (the outcome is what the test classifies)
            if graph.get_operations() or graph.get_all_collection_keys():
                return f"a failed import left {len(graph.get_operations())} ops in the graph"
            return "clean error" if _clean_error(e) else _describe(e)
        present = [n for n in fetches if n.rpartition(":")[0] in {op.name for op in graph.get_operations()}]
        key = json.dumps(mutant, sort_keys=True, default=str)
        if not present or (key not in compiled and len(compiled) >= COMPILE_CAP):
            return "imported, not run (compile cap)"
        compiled.add(key)
        feeds = {n: v for n, v in FEEDS.items() if n.rpartition(":")[0] in {op.name for op in graph.get_operations()}}
        try:
            with tf.Session() as sess:
                got = sess.run(present, feeds)
        except Exception as e:  # noqa: BLE001
            return "clean error" if _clean_error(e) else _describe(e)
        try:
            want = _reference(graph, present, feeds)
        except Exception as e:  # noqa: BLE001
            return f"ran, but the numpy reference fails ({_describe(e)})"
        for name, g, w in zip(present, got, want):
            g = np.asarray(g)
            if g.dtype != w.dtype or g.shape != w.shape or not np.allclose(g, w, rtol=1e-5, equal_nan=True):
                return f"wrong result for {name}: {g!r} != {w!r}"
        return "correct result"


def _describe(e):
    frame = traceback.extract_tb(e.__traceback__)[-1]
    return f"{type(e).__name__}: {str(e)[:200]} (at {os.path.basename(frame.filename)}:{frame.lineno})"


def test_fuzzed_checkpoints_fail_cleanly_or_restore_exactly(tmp_path, scratch_cwd):
    values = {"w": np.arange(6, dtype=np.float32).reshape(2, 3) / 3, "step": np.array(2**40, np.int64),
              "mask": np.array([True, False, True])}
    variables = {k: tf.Variable(v, name=k) for k, v in values.items()}
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        prefix = saver.save(sess, str(tmp_path / "model.ckpt"), write_meta_graph=False)
    files = {n: (tmp_path / n).read_bytes() for n in ("model.ckpt.index", "model.ckpt.data-00000-of-00001")}
    rng = random.Random(9)
    counts = {"clean error": 0, "restored exactly": 0}
    failures = []
    start = time.perf_counter()
    with tf.Session() as sess:
        for case in range(CKPT_CASES):
            name = rng.choice(sorted(files))
            for n, data in files.items():
                (tmp_path / n).write_bytes(_mutate_bytes(rng, data) if n == name else data)
            try:
                saver.restore(sess, prefix)
                got = sess.run(variables)
            except Exception as e:  # noqa: BLE001
                if _clean_error(e):
                    counts["clean error"] += 1
                else:
                    failures.append(f"case {case} ({name}): {_describe(e)}")
                continue
            if all(got[k].dtype == v.dtype and np.array_equal(got[k], v) for k, v in values.items()):
                counts["restored exactly"] += 1
            else:
                failures.append(f"case {case} ({name}): restored {got}")
    elapsed = time.perf_counter() - start
    print(f"\ncheckpoint fuzz: {CKPT_CASES} cases in {elapsed:.1f} s: {counts}, {len(failures)} failures")
    assert not failures, f"{len(failures)} of {CKPT_CASES} mutants misbehaved:\n" + "\n".join(failures[:20])
    assert counts["clean error"] > CKPT_CASES // 2
    assert math.isfinite(elapsed)
    assert os.listdir(scratch_cwd) == []
