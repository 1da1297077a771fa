"""pygraph-compile (also python -m pygraph.aot): a checkpoint and its meta graph -> a C/C++ library directory.

Exit status: 0 done; 2 bad input (one line on stderr, nothing written); 1 the --build step failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from .frontend import AotError, parse_feed


def parser():
    p = argparse.ArgumentParser(
        prog="pygraph-compile",
        description="Compile a pygraph/TF1 checkpoint (prefix; its .meta beside it) into a C/C++ library with a "
                    "C API, a C++ class and a CMake package.",
        epilog="example: pygraph-compile model.ckpt --feed 'X:float32[?,8]' --fetch predictions --name housing "
               "-o build/housing --build")
    p.add_argument("checkpoint", help="checkpoint prefix as Saver.save returns it (model.ckpt), or a frozen "
                                      "TensorFlow GraphDef (model.pb)")
    p.add_argument("--meta", help="meta graph file (default: CHECKPOINT.meta)")
    p.add_argument("--feed", action="append", default=[], metavar="NAME[:DTYPE[SHAPE]]",
                   help="an input, e.g. X:float32[?,8] (? = given at run time as batch); repeat for several")
    p.add_argument("--fetch", action="append", default=[], metavar="NAME",
                   help="a result tensor, or a training op (exports a step); repeat for several")
    p.add_argument("--name", required=True, help="C identifier naming the library, header and functions")
    p.add_argument("-o", "--output", required=True, help="artifact directory to create (or replace)")
    p.add_argument("--weights", choices=("embed", "file"), default="embed",
                   help="weights inside the library (default) or in NAME.weights, checked by size and CRC-32C")
    p.add_argument("--march", default="portable",
                   help="portable (default: x86-64-v2 / armv8-a), native, or any -march value")
    p.add_argument("--blas", choices=("openblas", "builtin"), default="openblas",
                   help="for programs with matmul: link scipy-openblas32 (default), or compile plain loops instead")
    p.add_argument("--op-source", action="append", default=[], metavar="FILE",
                   help="a C++ source of the custom op library the graph needs (TF's REGISTER_OP/OpKernel); "
                        "repeat for several files of one library, which is built, loaded and compiled in")
    p.add_argument("--build", action="store_true", help="also configure, build and run the golden test with CMake")
    p.add_argument("--cxx", help="C++ compiler for --build (e.g. a cross compiler)")
    p.add_argument("--cxxflags", default="", help="extra compiler flags for --build")
    return p




def _load_op_sources(files, name):
    from .. import errors
    from ..custom_ops import load_op_library

    try:
        load_op_library(sources=files, name=f"{name}_ops")
    except (errors.OpError, errors.CompileError, KeyError) as e:
        raise AotError(f"--op-source: {e}") from None


def main(argv=None):
    p = parser()
    try:
        args = p.parse_args(argv)
    except SystemExit as e:  # argparse already printed one usage line and the error
        return 2 if e.code else 0
    from . import compiler

    try:
        feeds = [parse_feed(f) for f in args.feed]
        if args.op_source:
            _load_op_sources(args.op_source, args.name)
        options = dict(name=args.name, weights=args.weights, march=args.march, blas=args.blas)
        if args.checkpoint.endswith(".pb"):
            out = compiler.compile_frozen(args.checkpoint, feeds, args.fetch, args.output, **options)
        else:
            out = compiler.compile_checkpoint(args.checkpoint, feeds, args.fetch, args.output, meta=args.meta,
                                              **options)
    except AotError as e:
        print(f"pygraph-compile: error: {e}", file=sys.stderr)
        return 2
    print(f"pygraph-compile: wrote {out}")
    if args.build:
        try:
            bdir = compiler.build(out, cxx=args.cxx, cxxflags=args.cxxflags)
        except AotError as e:
            print(f"pygraph-compile: error: {e}", file=sys.stderr)
            return 2
        except subprocess.CalledProcessError as e:
            tail = (e.stdout or "")[-2000:] + (e.stderr or "")[-2000:]
            print(f"pygraph-compile: build failed: {' '.join(map(str, e.cmd))}\n{tail}", file=sys.stderr)
            return 1
        crossed = not (Path(bdir) / "Testing").exists()
        print(f"pygraph-compile: built {bdir}" + (" (cross build: golden test not run)" if crossed else
                                                   " (golden test passed)"))
    return 0
