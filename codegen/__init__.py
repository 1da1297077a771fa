"""pygraph.codegen: lowers a pruned graph to one C++ translation unit, compiles and caches it.

The front end talks to this package through `compile_request` only; everything else here is internal.
The lowering code (and Jinja) is imported only when a program is not already in the cache.
"""

from .ir import Arg, CompiledProgram, Node, Ref, Request


def compile_request(req, debug=0, tiered=False, interpretable=False):
    """A CompiledProgram for `req`: from the request index when it was built before, else lowered,
    rendered and compiled (or found in the module cache by its source).

    tiered: when the optimized (-O3) module is not cached yet, return with `upgrade` set (a tiers.Upgrade
    that compiles the optimized one in the background) and, as the first tier, no module at all
    (`path` None: the caller interprets the request) when `interpretable`, else the quick build (built,
    or found through its own index entry)."""
    import hashlib

    from . import request_cache

    key = request_cache.request_key(req)
    quick_key = hashlib.sha256(f"quick\0{key}".encode()).hexdigest()
    if debug < 1:  # debug output describes the lowering, so it always lowers
        path = request_cache.lookup(key)
        if path is not None:
            return CompiledProgram(path, len(req.outputs), "", [])
        quick = request_cache.lookup(quick_key) if tiered else None
        if quick is not None:  # a warm process whose -O3 build never finished: lower again only if needed
            return CompiledProgram(quick, len(req.outputs), "", [], (), _upgrade(req, key, debug, None))
        if tiered and interpretable:  # nothing to lower or compile before the first call
            return CompiledProgram(None, len(req.outputs), "", [], (), _upgrade(req, key, debug, None))
    from . import toolchain
    from .lower import render_request

    source, summary, libs = render_request(req, debug)
    path = toolchain.cached(source, libs) if tiered else None
    if path is None and tiered:
        quick = toolchain.build(source, libs, debug=debug, opt=toolchain.QUICK_OPT)
        request_cache.record(quick_key, quick)
        return CompiledProgram(quick, len(req.outputs), source, summary, libs,
                               _upgrade(req, key, debug, (source, libs)))
    if path is None:
        path = toolchain.build(source, libs, debug=debug)
    request_cache.record(key, path)
    return CompiledProgram(path, len(req.outputs), source, summary, libs)


def _upgrade(req, key, debug, rendered):
    from . import request_cache, tiers

    def render():
        if rendered is not None:
            return rendered
        from .lower import render_request

        source, _, libs = render_request(req, debug)
        return source, libs

    # a fed program (a training or evaluation step) runs again: its compile starts at once
    start_at = 1 if any(a.kind == "feed" for a in req.args) else tiers.START_AT_CALL
    return tiers.Upgrade(key, render, debug, lambda optimized: request_cache.record(key, optimized), start_at)


__all__ = ["Arg", "Node", "Ref", "Request", "CompiledProgram", "compile_request"]
