"""pygraph.codegen: lowers a pruned graph to one C++ translation unit, compiles and caches it.

The front end talks to this package through `compile_request` only; everything else here is internal.
The lowering code (and Jinja) is imported only when a program is not already in the cache.
"""

from .ir import Arg, CompiledProgram, Node, Ref, Request


def compile_request(req, debug=0):
    """A CompiledProgram for `req`: from the request index when it was built before, else lowered,
    rendered and compiled (or found in the module cache by its source)."""
    from . import request_cache

    key = request_cache.request_key(req)
    if debug < 1:  # debug output describes the lowering, so it always lowers
        path = request_cache.lookup(key)
        if path is not None:
            return CompiledProgram(path, len(req.outputs), "", [])
    from .lower import compile_request as lower_and_build

    program = lower_and_build(req, debug)
    request_cache.record(key, program.path)
    return program


__all__ = ["Arg", "Node", "Ref", "Request", "CompiledProgram", "compile_request"]
