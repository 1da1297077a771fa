"""pygraph.codegen: lowers a pruned graph to one C++ translation unit, compiles and caches it.

The front end talks to this package through `compile_request` only; everything else here is internal.
The lowering code (and Jinja) is imported only when a program is not already in the cache.
"""

from .ir import Arg, CompiledProgram, Node, Ref, Request


def compile_request(req, debug=0, tiered=False):
    """A CompiledProgram for `req`: from the request index when it was built before, else lowered,
    rendered and compiled (or found in the module cache by its source).

    tiered: when the optimized (-O3) module is not cached yet, build the quick one and return it with
    `upgrade` set (a tiers.Upgrade that compiles the optimized one in the background)."""
    from . import request_cache

    key = request_cache.request_key(req)
    if debug < 1:  # debug output describes the lowering, so it always lowers
        path = request_cache.lookup(key)
        if path is not None:
            return CompiledProgram(path, len(req.outputs), "", [])
    from . import toolchain
    from .lower import render_request

    source, summary, libs = render_request(req, debug)
    path = toolchain.cached(source, libs) if tiered else None
    if path is None and tiered:
        from . import tiers

        quick = toolchain.build(source, libs, debug=debug, opt=toolchain.QUICK_OPT)
        upgrade = tiers.Upgrade(source, libs, debug, lambda optimized: request_cache.record(key, optimized))
        return CompiledProgram(quick, len(req.outputs), source, summary, libs, upgrade)
    if path is None:
        path = toolchain.build(source, libs, debug=debug)
    request_cache.record(key, path)
    return CompiledProgram(path, len(req.outputs), source, summary, libs)


__all__ = ["Arg", "Node", "Ref", "Request", "CompiledProgram", "compile_request"]
