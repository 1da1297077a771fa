"""Ahead-of-time compilation: a trained graph becomes a C/C++ library with no Python at run time.

    pygraph-compile model.ckpt --feed X:float32[?,8] --fetch predictions --name housing -o build/housing
    pygraph.aot.compile(sess, ["X"], ["predictions"], "build/housing", name="housing")

The artifact holds the kernels Session.run compiles for the same fetches, pygraph's host services
(runtime/src/host_services.cc, shared with the Python bridge), the weights and a CMake build; see README.
"""

from .compiler import build, compile, compile_checkpoint, compile_frozen, variables_to_checkpoint
from .frontend import AotError

__all__ = ["AotError", "build", "compile", "compile_checkpoint", "compile_frozen", "variables_to_checkpoint"]
