"""A second index over the module cache, keyed by the Request itself instead of the generated source.

A warm process that finds its program here loads the module without importing the lowering code or
Jinja, or rendering anything: graph to first result in a few ms instead of ~90. The key covers the
request (nodes, attributes, arguments, outputs), a fingerprint of every codegen source and template,
the compiler's identity and flags, and the BLAS library location; `<key>.req` names the module entry,
whose own digest is still checked before it is loaded.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from pathlib import Path

from .. import config
from . import toolchain

_memory = {}


@functools.lru_cache(maxsize=None)
def _fingerprint():
    here = Path(__file__).resolve().parent
    h = hashlib.sha256(str(toolchain.ABI_VERSION).encode())
    for path in sorted(list(here.rglob("*.py")) + list(here.rglob("*.j2"))):
        h.update(path.relative_to(here).as_posix().encode() + b"\0" + path.read_bytes())
    spec = importlib.util.find_spec("scipy_openblas32")
    h.update(str(spec.origin if spec else None).encode())
    return h.hexdigest()


def _canon(value):
    """A deterministic text for attribute values (arrays by content digest, not by their repr)."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: str(kv[0]))
        return "{" + ",".join(f"{_canon(k)}:{_canon(v)}" for k, v in items) + "}"
    if isinstance(value, (list, tuple)):
        return "(" + ",".join(_canon(v) for v in value) + ")"
    if hasattr(value, "tobytes") and hasattr(value, "dtype"):
        return f"nd[{value.dtype}{value.shape}:{hashlib.sha256(value.tobytes()).hexdigest()}]"
    return repr(value)


def request_key(req):
    _, ident = toolchain.compiler_identity(config.compiler())
    parts = [_fingerprint(), ident, *toolchain.BASE_FLAGS, *config.extra_cxxflags(), req.label]
    for n in req.nodes:
        parts.append(_canon((n.id, n.op, n.name, tuple((r.node, r.index) for r in n.inputs), n.attrs, n.dtypes,
                             n.shapes, n.after, tuple(((r.node, r.index), v) for r, v in n.guard))))
    parts.append(_canon([(a.index, a.node, a.kind) for a in req.args]))
    parts.append(_canon([(r.node, r.index) for r in req.outputs]))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def lookup(key):
    """The module path for request key `key` if it was built before and is intact, else None."""
    if key in _memory:
        toolchain.stats["memory_hits"] += 1
        return _memory[key]
    d = toolchain.cache_dir()
    try:
        name = (d / f"{key}.req").read_text().strip()
    except OSError:
        return None
    so = d / name
    if Path(name).name != name or not toolchain.entry_is_valid(so):
        return None
    toolchain.stats["disk_hits"] += 1
    _memory[key] = str(so)
    return str(so)


def record(key, path):
    _memory[key] = path
    toolchain.write_atomic(toolchain.cache_dir() / f"{key}.req", Path(path).name.encode() + b"\n")


def clear_memory():
    _memory.clear()
