"""The header facts: machine, interpreters, thread settings every worker gets."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess

# Thread-count variables set for every worker (values from the --threads option).
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "PYGRAPH_NUM_THREADS", "PYGRAPH_BENCH_THREADS")


def worker_env(threads):
    """The environment of every worker: the caller's, plus deliberate thread counts and quiet logs.
    OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are passed through unchanged and recorded in the header."""
    env = dict(os.environ)
    env.update({name: str(threads) for name in THREAD_VARS})
    env["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}"
    env["JAX_PLATFORMS"] = "cpu"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["PYTENSOR_FLAGS"] = "floatX=float32"
    env["PYTHONWARNINGS"] = "ignore"
    return env


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib():
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
        return round(kib / 2**20, 1)
    except (OSError, ValueError, IndexError):
        return None


def _python_version(python):
    try:
        return subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                              capture_output=True, text=True, timeout=60).stdout.strip()
    except OSError as e:
        return f"unavailable ({e})"


def _compiler():
    cxx = os.environ.get("PYGRAPH_CXX") or os.environ.get("CXX") or "c++"
    try:
        return subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=30).stdout.splitlines()[0]
    except (OSError, IndexError):
        return f"{cxx}: not found"


def load_average():
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def source_revision(root):
    """The commit measured, and any uncommitted change to tracked files outside benchmarks/."""
    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30).stdout
        except OSError:
            return ""
    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    dirty = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
             if not line[3:].startswith("benchmarks/")]
    return head + (f" plus uncommitted changes to {', '.join(dirty)}" if dirty else "")


def header(threads, interpreters, root):
    return dict(
        source=source_revision(root),
        load_start=load_average(),
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        cpu=_cpu_model(), cores=os.cpu_count(), memory_gib=_memory_gib(),
        os=f"{platform.system()} {platform.release()} {platform.machine()}",
        compiler=_compiler(),
        threads=threads, thread_env={name: str(threads) for name in THREAD_VARS},
        xla_flags=worker_env(threads)["XLA_FLAGS"],
        openblas_coretype=os.environ.get("OPENBLAS_CORETYPE", "unset"),
        openblas_l2_size=os.environ.get("OPENBLAS_L2_SIZE", "unset"),
        interpreters={name: dict(path=path, python=_python_version(path)) for name, path in interpreters.items()},
    )
