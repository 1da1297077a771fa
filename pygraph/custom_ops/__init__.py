"""C++ custom ops: TF-style op libraries (load_op_library) built against pygraph's header-only
TF-compatible API (runtime/include/tensorflow/...), reaching the host only through abi.h."""

import os

from .build import build_op_library
from .inline import inline_op
from .library import load_op_library

__all__ = ["build_op_library", "inline_op", "load_op_library"]


def library_field(op_type):
    """What a meta graph records for a node of `op_type`: the file name of the op library that defines it
    (a name to tell the user, never a path that import loads: model files carry no code)."""
    from .library import OP_LIBRARY

    path = OP_LIBRARY.get(op_type)
    return {"op_library": os.path.basename(path)} if path else {}


def check_library_loaded(op_type, library, node_name):
    """A clear NotFoundError when a meta graph's node needs an op library that is not loaded."""
    from .. import errors
    from ..ops import registry

    row = registry.REGISTRY.get(op_type)
    if library is not None and (row is None or row.attrs is None):
        raise errors.NotFoundError(
            None, None, f"Op type not registered '{op_type}' (node '{node_name}'): it comes from the op library "
            f"{library!r}; load it with tf.load_op_library(...) before importing this graph.")


def artifact_sources(op_types):
    """[(library path, [(file name, text)])] for the op libraries defining `op_types` (AOT artifacts
    compile them in); ValueError for a library loaded from a binary, whose sources pygraph does not have."""
    from .build import SOURCES
    from .library import OP_LIBRARY

    out = {}
    for t in sorted(op_types):
        path = OP_LIBRARY.get(t)
        if path is None or path in out:
            continue
        if path not in SOURCES:
            raise ValueError(f"op {t} comes from {path}, loaded as a binary; an artifact compiles its op libraries "
                             "from source: load it with tf.load_op_library(sources=[...]) before compiling")
        out[path] = SOURCES[path]
    return list(out.items())
