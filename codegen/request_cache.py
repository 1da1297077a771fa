"""A second index over the module cache, keyed by the Request itself instead of the generated source.

A warm process that finds its program here loads the module without importing the lowering code or
Jinja, or rendering anything: graph to first result in a few ms instead of ~90. The key covers the
request (nodes, attributes, arguments, outputs), a fingerprint of every codegen source and template,
the compiler's identity and flags, and the BLAS library location. `<key>.req` holds its own key, the
module entry's name and that module's digest, all checked before the module is loaded.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import re
from pathlib import Path

from .. import config, safe_files
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
    from . import bias_epilogue, chain, conv_epilogue, epilogue, pool_epilogue  # small, no Jinja: the fold switches

    parts = [_fingerprint(), ident, *toolchain.BASE_FLAGS, *config.extra_cxxflags(), req.label,
             f"epilogues={epilogue.ENABLED.enabled}", f"chains={chain.ENABLED.enabled}",
             f"bias_epilogues={bias_epilogue.ENABLED.enabled}", f"conv_epilogues={conv_epilogue.ENABLED.enabled}",
             f"pool_epilogues={pool_epilogue.ENABLED.enabled}",
             f"sgemm={config.sgemm_path()}"]
    for n in req.nodes:
        parts.append(_canon((n.id, n.op, n.name, tuple((r.node, r.index) for r in n.inputs), n.attrs, n.dtypes,
                             n.shapes, n.after, tuple(((r.node, r.index), v) for r, v in n.guard), n.loop)))
    from .emit import INLINE  # inline ops' expressions belong to the program, not to the graph

    parts.append(_canon(sorted((n.op, INLINE[n.op]) for n in {n.op: n for n in req.nodes if n.op in INLINE}.values())))
    parts.append(_canon([(a.index, a.node, a.kind) for a in req.args]))
    parts.append(_canon([(r.node, r.index) for r in req.outputs]))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


_MAGIC = "pygraph-request-index 1"
_MODULE_NAME = re.compile(r"[0-9a-f]{64}\.so")


def lookup(key):
    """The module path for request key `key` if it was built before and is intact, else None. An index
    entry names its own key and the module's digest; one that does not check out (damaged, swapped with
    another's, pointing at a module rebuilt since) is removed and the request is built again."""
    if key in _memory:
        toolchain.stats["memory_hits"] += 1
        return _memory[key]
    d = toolchain.cache_dir()
    index = d / f"{key}.req"
    data = safe_files.read_private(index, 1024)
    if data is None:
        return None
    so = _verified_module(d, key, data)
    if so is None:
        safe_files.discard(index)
        return None
    toolchain.stats["disk_hits"] += 1
    _memory[key] = str(so)
    return str(so)


def _verified_module(d, key, data):
    try:
        magic, entry_key, name, digest = data.decode("ascii").split("\n")[:4]
    except (UnicodeDecodeError, ValueError):
        return None
    if magic != _MAGIC or entry_key != key or not _MODULE_NAME.fullmatch(name):
        return None
    so = d / name
    return so if toolchain.module_digest(so) == digest else None


def record(key, path):
    """Point request key `key` at the module `path` (just built or found, so its digest is known good)."""
    _memory[key] = path
    digest = toolchain.module_digest(path)
    if digest is not None:
        text = f"{_MAGIC}\n{key}\n{Path(path).name}\n{digest}\n"
        toolchain.write_atomic(toolchain.cache_dir() / f"{key}.req", text.encode())


def clear_memory():
    _memory.clear()
