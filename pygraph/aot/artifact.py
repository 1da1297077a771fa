"""Writes an artifact directory: header, C API, kernels, host services, weights, CMake build, example and golden
test. Everything is written into a temporary sibling directory that is renamed into place when complete."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path

import crc32c
import numpy as np

from ..codegen import render
from .frontend import AotError

MARKER = "pygraph-artifact.json"  # the manifest: also marks a directory this command may replace
ALIGN = 64
CTYPES = {"float32": "float", "float64": "double", "int32": "int32_t", "int64": "int64_t", "bool": "bool"}
DTYPE_CODES = {"float32": 1, "float64": 2, "int32": 3, "int64": 4, "bool": 5}  # pg_dtype in abi.h
GOLDEN_BATCH = 3
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def check_name(name):
    if not _NAME.match(name or ""):
        raise AotError(f"--name {name!r} must be a C identifier: letters, digits and _, not starting with a digit")


def runtime_paths():
    """(include dir holding pygraph/abi.h, dir holding host_services.cc): installed beside pygraph._runtime,
    or in a source checkout."""
    from .. import _runtime

    here = Path(_runtime.__file__).parent
    root = Path(__file__).resolve().parents[2]
    for inc, host in ((here / "include", here / "host"), (root / "runtime" / "include", root / "runtime" / "src")):
        if (inc / "pygraph" / "abi.h").is_file() and (host / "host_services.cc").is_file():
            return inc, host
    raise AotError("pygraph's host services (host_services.cc) are missing from the installation; reinstall pygraph")


def weights_layout(state):
    """Offsets of each state tensor in the weights blob (64-byte aligned) and the blob itself."""
    offsets, at = [], 0
    for _, _, _, arr in state:
        at = (at + ALIGN - 1) // ALIGN * ALIGN
        offsets.append(at)
        at += arr.nbytes
    size = (at + ALIGN - 1) // ALIGN * ALIGN
    blob = bytearray(size)
    for off, (_, _, _, arr) in zip(offsets, state):
        blob[off:off + arr.nbytes] = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
    return offsets, bytes(blob)


def _cstr(text):
    """A C string literal body for any text: printable ASCII as is, everything else as octal escapes."""
    out = []
    for b in text.encode():
        ch = chr(b)
        out.append(ch if (32 <= b < 127 and ch not in '"\\?') else f"\\{b:03o}")
    return "".join(out)


def _comment(text):
    return re.sub(r"[^A-Za-z0-9_./:-]", "_", text)


def _tensor_view(t, batch=None):
    count = int(np.prod([batch if d < 0 else d for d in t.shape])) if batch is not None else 0
    return {"ident": t.ident, "ctype": CTYPES[t.dtype], "cname": _cstr(t.name), "name_comment": _comment(t.name),
            "code": DTYPE_CODES[t.dtype], "rank": len(t.shape), "shape_list": ", ".join(map(str, t.shape)) or "0",
            "shape_text": "[" + ", ".join("batch" if d < 0 else str(d) for d in t.shape) + "]", "count": count}


def _literal(v, dtype):
    if dtype in ("float32", "float64"):
        f = float(v)
        suffix = "f" if dtype == "float32" else ""
        if math.isnan(f):
            return "NAN"
        if math.isinf(f):
            return "INFINITY" if f > 0 else "-INFINITY"
        return f.hex() + suffix
    if dtype == "bool":
        return "1" if v else "0"
    return str(int(v)) + ("LL" if dtype == "int64" else "")


def _array(var, arr, dtype, const=True):
    flat = np.asarray(arr).reshape(-1)
    values = ", ".join(_literal(v, dtype) for v in flat) if flat.size else "0"
    return {"var": var, "ctype": CTYPES[dtype], "size": max(1, flat.size), "init": values, "const": const}


def write(exp, golden, out_dir, name, weights="embed", march="portable", blas="openblas"):
    """exp: frontend.Exported; golden: (feed arrays, result arrays, variables after the run or None)."""
    check_name(name)
    if weights not in ("embed", "file"):
        raise AotError(f"--weights must be embed or file, not {weights!r}")
    if blas not in ("openblas", "builtin"):
        raise AotError(f"--blas must be openblas or builtin, not {blas!r}")
    out = Path(out_dir).absolute()
    if out.exists() and not (out / MARKER).is_file() and (not out.is_dir() or any(out.iterdir())):
        raise AotError(f"output {out} exists and is not a pygraph artifact; remove it or choose another -o")
    inc, host = runtime_paths()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; the artifact is an ordinary directory
        _write_files(tmp, exp, golden, name, weights, march, blas, inc, host)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _replace_dir(tmp, out):
    if not out.exists():
        os.rename(tmp, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    os.rename(out, old / "x")
    os.rename(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def _write_files(d, exp, golden, name, weights, march, blas, inc, host):
    env = render.environment()
    n, N = name, name.upper()
    offsets, blob = weights_layout(exp.state)
    checksum = crc32c.crc32c(blob)
    feeds = [_tensor_view(t, 2) for t in exp.feeds]
    results = [_tensor_view(t, 2) for t in exp.results]
    state = []
    variables = []
    for k, ((arg, kind, info, arr), off) in enumerate(zip(exp.state, offsets)):
        v = _tensor_view(info)
        v.update(arg=arg, per_instance="true" if kind != "const" else "false", offset=off, nbytes=arr.nbytes)
        state.append(v)
        if kind == "variable":
            variables.append(k)
    op_libraries = _op_libraries(d, n, exp)
    common = dict(n=n, N=N, feeds=feeds, results=results, embed=weights == "embed", trains=exp.trains,
                  op_libraries=op_libraries)
    files = {
        f"{n}.h": env.get_template("aot/model.h.j2").render(**common),
        f"{n}_api.cc": env.get_template("aot/api.cc.j2").render(
            **common, nargs=exp.nargs, num_outputs=exp.num_outputs, state=state,
            result_outputs=", ".join(map(str, exp.result_outputs)) or "0",
            variables=", ".join(map(str, variables)) or "0", num_variables=len(variables),
            node_names=[_cstr(s) for s in exp.node_names], weights_size=len(blob), weights_checksum=checksum),
        f"{n}_kernels.cc": exp.source,
        "CMakeLists.txt": env.get_template("aot/CMakeLists.txt.j2").render(
            **common, blas=blas if "openblas" in exp.libs else "", march=march),
        f"cmake/{n}Config.cmake.in": env.get_template("aot/config.cmake.in.j2").render(**common),
        f"cmake/{n}.map": _version_script(n),
        "main.c": env.get_template("aot/main.c.j2").render(**common, batch=2),
        "golden_test.c": _golden(env, common, exp, golden, variables),
    }
    for rel, text in files.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text(text)
    if weights == "embed":
        (d / f"{n}_weights.c").write_text(_weights_source(n, blob))
    else:
        (d / f"{n}.weights").write_bytes(blob)
    (d / "include" / "pygraph").mkdir(parents=True)
    shutil.copyfile(inc / "pygraph" / "abi.h", d / "include" / "pygraph" / "abi.h")
    if op_libraries:  # the TF-compatible headers the op sources include
        shutil.copytree(inc / "pygraph" / "tf", d / "include" / "pygraph" / "tf")
        shutil.copytree(inc / "tensorflow", d / "include" / "tensorflow")
    (d / "host").mkdir()
    for f in ("host_services.h", "host_services.cc", "thread_pool.h", "thread_pool.cc", "fp_mode.h"):
        shutil.copyfile(host / f, d / "host" / f)
    if "openblas" in exp.libs:
        (d / "host" / "builtin_blas.cc").write_text(env.loader.get_source(env, "aot/builtin_blas.cc")[0])
    manifest = {
        "name": n, "weights": weights, "weights_size": len(blob), "weights_crc32c": checksum,
        "feeds": [t.__dict__ for t in exp.feeds], "results": [t.__dict__ for t in exp.results],
        "state": [{"kind": kind, "name": info.name, "dtype": info.dtype, "shape": list(arr.shape), "offset": off,
                   "nbytes": arr.nbytes} for (_, kind, info, arr), off in zip(exp.state, offsets)],
        "trains": exp.trains, "libs": list(exp.libs), "blas": blas if "openblas" in exp.libs else None,
    }
    (d / MARKER).write_text(json.dumps(manifest, indent=1) + "\n")


API_FUNCTIONS = ("create", "destroy", "error", "run", "num_args", "arg_name", "arg_dtype", "arg_rank", "arg_shape",
                 "num_results", "result_name", "result_dtype", "result_rank", "result_shape", "num_variables",
                 "variable_name", "variable_dtype", "variable_rank", "variable_shape", "variable_nbytes",
                 "variable_data", "save_variables")


def _op_libraries(d, n, exp):
    """The custom op libraries the program calls, as sources copied into oplibs/<k>/ (compiled into the
    artifact, their pg_op_library renamed per library)."""
    from .. import custom_ops

    types = {op.type for op in (exp.plan.node_ops if exp.plan is not None else []) if op is not None}
    try:
        libs = custom_ops.artifact_sources(types)
    except ValueError as e:
        raise AotError(str(e)) from None
    out = []
    for k, (library, sources) in enumerate(libs):
        files = []
        for j, (fname, text) in enumerate(sources):
            rel = f"oplibs/{k}/{j}_{_comment(fname)}"
            (d / rel).parent.mkdir(parents=True, exist_ok=True)
            (d / rel).write_text(text)
            files.append(rel)
        out.append({"symbol": f"{n}_oplib{k}", "files": files, "comment": _comment(os.path.basename(library)),
                    "anchors": [f"{n}_oplib{k}_anchor{j}" for j in range(len(files))]})
    return out


def _version_script(n):
    names = "".join(f"    {n}_{f};\n" for f in API_FUNCTIONS)
    return f"/* symbols lib{n}.so exports: its C API (see {n}.h) */\n{{\n  global:\n{names}  local: *;\n}};\n"


def _weights_source(n, blob):
    data = blob or b"\0"
    rows = [",".join(map(str, data[i:i + 64])) for i in range(0, len(data), 64)]
    return (f"/* {n}'s weights ({len(blob)} bytes, little-endian), generated by pygraph-compile. */\n"
            f"#include <stdalign.h>\n"
            f"alignas(64) const unsigned char {n}_weights[{len(data)}] = {{\n" + ",\n".join(rows) + "\n};\n")


def _golden(env, common, exp, golden, variables):
    feed_values, result_values, var_values = golden
    arrays, feeds, results, checks_v = [], [], [], []
    for i, (t, arr) in enumerate(zip(exp.feeds, feed_values)):
        arrays.append(_array(f"in{i}", arr, t.dtype))
        feeds.append({"var": f"in{i}"})
    for i, (t, arr) in enumerate(zip(exp.results, result_values)):
        arrays.append(_array(f"want{i}", arr, t.dtype))
        arrays.append(_array(f"got{i}", np.zeros(max(1, np.size(arr))), t.dtype, const=False))
        arrays[-1]["init"] = "0"
        results.append({"var": f"got{i}", "want": f"want{i}", "size": int(np.size(arr)), "label": _cstr(t.name),
                        "exact": 0 if t.dtype.startswith("float") else 1})
    if var_values is not None:
        for j, k in enumerate(variables):
            _, _, info, _ = exp.state[k]
            arrays.append(_array(f"var{j}", var_values[j], info.dtype))
            checks_v.append({"index": j, "want": f"var{j}", "size": int(np.size(var_values[j])),
                             "ctype": CTYPES[info.dtype], "label": _cstr(info.name),
                             "exact": 0 if info.dtype.startswith("float") else 1})
    ctx = {**common, "arrays": arrays, "feeds": feeds, "results": results, "variables": checks_v,
           "batch": GOLDEN_BATCH}
    return env.get_template("aot/golden_test.c.j2").render(**ctx)
