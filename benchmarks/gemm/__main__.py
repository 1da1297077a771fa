"""`python -m benchmarks.gemm`: pygraph's float32 GEMM (codegen/templates/sgemm.h.j2) against OpenBLAS's sgemm,
one thread each, on the products of the benchmark workloads (bench_sgemm.cc; compiled here with the venv's
scipy-openblas32). Prints median microseconds per call of the two, alternated call by call, and whether the
AVX-512, AVX2 and scalar paths gave the same bits. --lowest: the best case instead (tuning on a loaded machine).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

# (m, k, n), untransposed: the AOT/W6 MLP 784-300-100-10 at batch 1, 7, 256 and 1000 (batch 1 runs gemv in
# pygraph: listed for the kernel alone), the W6 backward product's shape, small and square ones.
SHAPES = [(b, 784, 300) for b in (1, 7, 256, 1000)] + [
    (256, 300, 100), (256, 100, 10), (256, 300, 784), (13, 5, 17), (9, 33, 47), (32, 32, 32), (64, 64, 64),
    (100, 100, 100), (500, 500, 500)]


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--reps", type=int, default=100)
    p.add_argument("--lowest", action="store_true")
    args = p.parse_args()
    import scipy_openblas32

    blas = scipy_openblas32.get_lib_dir()
    with tempfile.TemporaryDirectory() as work:
        header = (ROOT / "codegen" / "templates" / "sgemm.h.j2").read_text().replace("{{ sgemm_force }}", "0")
        (Path(work) / "sgemm.h").write_text(header)
        exe = Path(work) / "bench"
        include = ROOT / "runtime" / "include"
        subprocess.run(["c++", "-std=c++17", "-O3", "-march=x86-64-v2", f"-I{include}", f"-I{work}",
                        str(HERE / "bench_sgemm.cc"), f"-L{blas}", "-lscipy_openblas", f"-Wl,-rpath,{blas}", "-o",
                        str(exe)], check=True)
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", **({"PG_BENCH_MIN": "1"} if args.lowest else {})}
        shape_args = [str(v) for s in SHAPES for v in s]
        subprocess.run([str(exe), str(args.reps), *shape_args], env=env, check=True)


if __name__ == "__main__":
    main()
