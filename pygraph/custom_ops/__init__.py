"""C++ custom ops: TF-style op libraries (load_op_library) built against pygraph's header-only
TF-compatible API (runtime/include/tensorflow/...), reaching the host only through abi.h."""

from .build import build_op_library
from .library import load_op_library

__all__ = ["build_op_library", "load_op_library"]
