"""pygraph: the lecture's TF1 programs (tf1_programs.py) with `import pygraph as tf`."""

from __future__ import annotations

import ctypes
import glob
import os

# steady-state timings measure the -O3 code from the first call (warm-up is first_compile's subject)
os.environ.setdefault("PYGRAPH_OPTIMIZED_ONLY", "1")

import pygraph as tf  # noqa: E402

from .tf1_programs import TF1Programs

NAME = "pygraph"


def version():
    return tf.__version__


def _scipy_openblas():
    """Core type and threads of the OpenBLAS that pygraph's BLAS kernels link (scipy-openblas32)."""
    try:
        import scipy_openblas32
    except ImportError:
        return "scipy-openblas32 not installed"
    libs = glob.glob(os.path.join(scipy_openblas32.get_lib_dir(), "*.so*"))
    if not libs:
        return "scipy-openblas32 library not found"
    lib = ctypes.CDLL(libs[0])
    lib.scipy_openblas_get_corename.restype = ctypes.c_char_p
    return dict(library=os.path.basename(libs[0]), corename=lib.scipy_openblas_get_corename().decode(),
                num_threads=lib.scipy_openblas_get_num_threads())


def runtime_info():
    from pygraph import _runtime, config

    return dict(pygraph_threads=_runtime.get_num_threads(), compiler=config.compiler(),
                cache_dir=config.cache_dir(), scipy_openblas32=_scipy_openblas())


CASES = TF1Programs(tf, lambda graph: tf.Session(graph=graph)).cases()
