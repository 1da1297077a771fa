"""compile(): session + feeds + fetches -> artifact directory, with golden values from Session.run; build() runs
CMake on it; variables_to_checkpoint() turns a variables dump of an instance into a checkpoint."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from pathlib import Path

import numpy as np

from .. import errors
from . import artifact, frontend
from .frontend import AotError


def _golden_inputs(exp, seed=0):
    rng = np.random.default_rng(seed)
    values = []
    for t in exp.feeds:
        shape = tuple(artifact.GOLDEN_BATCH if d < 0 else d for d in t.shape)
        if t.dtype.startswith("float"):
            values.append(rng.standard_normal(shape).astype(t.dtype))
        elif t.dtype == "bool":
            values.append(rng.random(shape) < 0.5)
        else:
            values.append(rng.integers(0, 5, shape).astype(t.dtype))
    return values


def _golden(exp):
    """Runs the exported plan once in the session on seeded inputs; puts every state buffer back afterwards, so
    a training step leaves the session's variables as they were."""
    plan = exp.plan
    feed_values = _golden_inputs(exp)
    live = plan.static_args
    saved = [np.array(a, copy=True) for a in live]
    try:
        values = plan.run(feed_values)
        results = [np.array(v) for v in values if v is not None]
        variables = None
        if exp.trains:
            variables = [np.array(live[arg - len(exp.feeds)], copy=True)
                         for arg, kind, _, _ in exp.state if kind == "variable"]
    finally:
        for a, s in zip(live, saved):
            if a.flags.writeable:
                a[...] = s
    return feed_values, results, variables


def compile(sess, feeds, fetches, out_dir, name="model", weights="embed", march="portable", blas="openblas",
            _own_graph=False):
    """Writes the artifact for `fetches` given `feeds` (tensors, names or FeedSpecs) from the live session `sess`
    into `out_dir`; returns its path. Raises AotError on bad input, leaving no output behind."""
    artifact.check_name(name)
    exp = frontend.export(sess, feeds, fetches, own_graph=_own_graph)
    try:
        golden = _golden(exp)
    except errors.OpError as e:
        raise AotError(f"running the program for its golden values failed: {str(e).splitlines()[0]}") from None
    return artifact.write(exp, golden, out_dir, name, weights=weights, march=march, blas=blas)


def compile_checkpoint(prefix, feeds, fetches, out_dir, name="model", meta=None, **kwargs):
    """The command's path: a checkpoint prefix and its meta graph (as Saver writes them) -> artifact."""
    import pygraph as tf

    prefix = os.fspath(prefix)
    meta = meta or prefix + ".meta"
    if not os.path.isfile(meta):
        raise AotError(f"meta graph {meta} not found (Saver.save writes it beside the checkpoint)")
    if not os.path.isfile(prefix + ".index"):
        raise AotError(f"checkpoint {prefix} not found: no {prefix}.index")
    graph = tf.Graph()
    try:
        with graph.as_default():
            saver = tf.train.import_meta_graph(meta)  # pygraph's zip or TensorFlow's MetaGraphDef
            if saver is None:
                raise AotError(f"meta graph {meta} has no variables to restore")
            sess = tf.Session(graph=graph)
            saver.restore(sess, prefix)
    except (errors.OpError, ValueError, KeyError, OSError) as e:
        raise AotError(f"cannot load {prefix}: {str(e).splitlines()[0]}") from None
    with graph.as_default():
        return compile(sess, feeds, fetches, out_dir, name=name, _own_graph=True, **kwargs)


def compile_frozen(path, feeds, fetches, out_dir, name="model", **kwargs):
    """The command's path for a frozen TensorFlow GraphDef (.pb): constants in the graph, no checkpoint. Only
    the nodes the fetches need are built (frozen graphs often keep training leftovers)."""
    import pygraph as tf

    from ..tf_import.importer import import_graph_def
    from .frozen_graph import read_graph_def

    gd = read_graph_def(path)
    graph = tf.Graph()
    try:
        import_graph_def(gd, graph, fetches=[str(f) for f in fetches])
    except errors.OpError as e:
        raise AotError(f"cannot import {path}: {str(e).splitlines()[0]}") from None
    with graph.as_default():
        return compile(tf.Session(graph=graph), feeds, fetches, out_dir, name=name, _own_graph=True, **kwargs)


def _cmake():
    try:
        import cmake

        exe = Path(cmake.CMAKE_BIN_DIR) / "cmake"
        if exe.is_file():
            return str(exe)
    except ImportError:
        pass
    found = shutil.which("cmake")
    if not found:
        raise AotError("cmake not found: pip install cmake, or install it with your system's package manager")
    return found


def _c_compiler_for(cxx):
    """The C compiler beside a C++ one (main.c and the golden test are C): g++ -> gcc, clang++ -> clang."""
    for cpp, c in (("clang++", "clang"), ("g++", "gcc"), ("c++", "cc")):
        if cxx.endswith(cpp):
            found = shutil.which(cxx[: -len(cpp)] + c)
            if found:
                return found
    return None


def _target_arch(cxx):
    """The CPU a compiler generates code for (its -dumpmachine triple's first part), or None."""
    try:
        triple = subprocess.run([cxx, "-dumpmachine"], capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        raise AotError(f"C++ compiler {cxx!r} not found") from None
    return triple.split("-")[0] or None


def build(out_dir, build_dir=None, cxx=None, cxxflags="", test=True, jobs=2):
    """Configures, builds and (by default) runs the golden test of an artifact; returns the build directory.
    With a cross compiler (`cxx` targets another CPU) CMake cross-compiles and the golden test is not run.
    Raises subprocess.CalledProcessError with the tool's output when a step fails."""
    out = Path(out_dir).absolute()
    manifest = json.loads((out / artifact.MARKER).read_text())
    name = manifest["name"]
    bdir = Path(build_dir or out / "build")
    cmake = _cmake()
    args = [cmake, "-S", str(out), "-B", str(bdir), "-DCMAKE_BUILD_TYPE=Release",
            f"-D{name.upper()}_CXXFLAGS={cxxflags}"]
    cross = False
    if cxx:
        args.append(f"-DCMAKE_CXX_COMPILER={cxx}")
        cc = _c_compiler_for(cxx)
        if cc:
            args.append(f"-DCMAKE_C_COMPILER={cc}")
        arch = _target_arch(cxx)
        if arch and arch != platform.machine():
            cross = True
            args += ["-DCMAKE_SYSTEM_NAME=Linux", f"-DCMAKE_SYSTEM_PROCESSOR={arch}"]
            if manifest.get("blas") == "openblas":
                raise AotError(f"cross-compiling for {arch}: scipy-openblas32 is this machine's library; compile "
                               "with --blas builtin")
    if manifest.get("blas") == "openblas":
        import scipy_openblas32

        args.append(f"-D{name.upper()}_BLAS_DIR={scipy_openblas32.get_lib_dir()}")
    steps = [args, [cmake, "--build", str(bdir), "-j", str(jobs)]]
    if test and not cross:
        ctest = str(Path(cmake).with_name("ctest"))
        steps.append([ctest if os.path.exists(ctest) else "ctest", "--test-dir", str(bdir), "--output-on-failure"])
    for cmd in steps:
        subprocess.run(cmd, check=True, capture_output=True, text=True)
    return bdir


def variables_to_checkpoint(out_dir, dump, prefix):
    """Writes the variables in `dump` (a file from <name>_save_variables, or the artifact's weights) as the V2
    checkpoint `prefix`, which pygraph's and TF's Saver restore; returns {variable name: array}."""
    from ..checkpoint.bundle import write_bundle

    manifest = json.loads((Path(out_dir) / artifact.MARKER).read_text())
    data = Path(dump).read_bytes()
    if len(data) != manifest["weights_size"]:
        raise AotError(f"{dump} has {len(data)} bytes, not the {manifest['weights_size']} of {manifest['name']}'s "
                       "weights layout")
    tensors = {}
    for s in manifest["state"]:
        if s["kind"] != "variable":
            continue
        arr = np.frombuffer(data, dtype=np.dtype(s["dtype"]).newbyteorder("<"), count=int(np.prod(s["shape"])),
                            offset=s["offset"])
        tensors[s["name"]] = arr.reshape(s["shape"]).astype(s["dtype"])
    write_bundle(os.fspath(prefix), tensors)
    return tensors
