"""tf.load_op_library: dlopen an op library, check its ABI version, read its op table (abi.h) and make each
op a registry row, a Python function and a code-generation emitter.

The library links nothing of pygraph and shares no C++ with it: it exports one C function,
pg_op_library, whose table gives each op's REGISTER_OP spec, its shape function and its kernels. The
table's op defs are handed to the runtime (ctx->find_op) so that generated code calls the kernels."""

from __future__ import annotations

import ctypes
import hashlib
import os
import types

from .. import errors
from . import abi, ops, spec

_LOADED = {}  # realpath -> module (a library loaded twice gives the same module)
OP_LIBRARY = {}  # op type -> realpath of the library that registered it (meta graphs record it)


def _runtime():
    from .. import _runtime

    return _runtime


def _file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_op_library(library_filename=None, *, sources=None, name="op_library", extra_cflags=(),
                    extra_ldflags=()):
    """Loads an op library built against pygraph's TF-compatible headers; returns a module whose functions
    are its ops in snake_case (zero_out for ZeroOut), as tf.load_op_library does. With `sources` (paths
    or C++ text) instead of a file, builds the library first (build.build_op_library: cached)."""
    if sources is not None:
        if library_filename is not None:
            raise TypeError("load_op_library takes a library file or sources=[...], not both")
        from .build import build_op_library

        library_filename = build_op_library(sources, name, extra_cflags, extra_ldflags)
    elif library_filename is None:
        raise TypeError("load_op_library needs a library file (or sources=[...] to build one)")
    path = os.path.realpath(os.fspath(library_filename))
    if path in _LOADED:
        return _LOADED[path]
    if not os.path.isfile(path):
        raise errors.NotFoundError(None, None, f"{library_filename}: op library not found")
    try:
        handle = ctypes.CDLL(path, mode=os.RTLD_NOW | os.RTLD_LOCAL)
    except OSError as e:  # a missing symbol, a wrong architecture, ...
        raise errors.NotFoundError(None, None, f"{library_filename}: cannot load the op library: {e}") from None
    try:
        entry = abi.LIBRARY_FN(("pg_op_library", handle))
    except AttributeError:
        raise errors.NotFoundError(None, None, f"{library_filename} is not a pygraph op library: it exports no "
                                   "pg_op_library (build it with the flags of pygraph.sysconfig."
                                   "get_compile_flags(), including tensorflow/core/framework/op.h)") from None
    table = entry().contents
    host = _runtime().ABI_VERSION
    if table.abi_version != host:
        raise errors.FailedPreconditionError(
            None, None, f"{library_filename} was built for pygraph ABI version {table.abi_version}, but this "
            f"pygraph has ABI version {host}: rebuild the library against this pygraph's headers "
            "(pygraph.sysconfig.get_compile_flags()).")
    digest = _file_sha256(path)
    found = []
    for k in range(table.num_ops):
        op_def = table.ops[k].contents
        name = op_def.name.decode()
        try:
            parsed = spec.parse(name, [op_def.inputs[i].decode() for i in range(op_def.num_inputs)],
                                [op_def.outputs[i].decode() for i in range(op_def.num_outputs)],
                                [op_def.attrs[i].decode() for i in range(op_def.num_attrs)])
        except spec.SpecError as e:
            raise errors.InvalidArgumentError(None, None, f"{library_filename}: {e}") from None
        kernels = [(op_def.kernels[i].type_attr.decode(), op_def.kernels[i].dtype) for i in range(op_def.num_kernels)]
        parsed.stateful = bool(op_def.stateful)
        found.append((parsed, ctypes.addressof(op_def), op_def.shape, kernels))
    for parsed, *_ in found:  # refuse the whole library before registering any of it
        ops.check_new(parsed, library_filename)
    module = types.ModuleType(os.path.splitext(os.path.basename(path))[0])
    module.__file__ = path
    module.OP_LIST = [p.name for p, *_ in found]
    for parsed, address, shape_fn, kernels in found:
        info = ops.CustomOp(parsed, address, shape_fn, kernels, path, digest)
        ops.register(info)
        _runtime().register_op_def(address)
        OP_LIBRARY[parsed.name] = path
        setattr(module, spec.snake_case(parsed.name), ops.python_function(info))
    module._handle = handle  # keeps the library loaded
    _LOADED[path] = module
    return module
