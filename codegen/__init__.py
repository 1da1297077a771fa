"""pygraph.codegen: lowers a pruned graph to one C++ translation unit, compiles and caches it.

The front end talks to this package through `compile_request` only; everything else here is internal.
"""

from .ir import Arg, Node, Ref, Request
from .lower import CompiledProgram, compile_request

__all__ = ["Arg", "Node", "Ref", "Request", "CompiledProgram", "compile_request"]
