"""The wheel ships what generated code needs: codegen as pygraph.codegen with its templates, the ABI
header and the runtime; an installed (non-editable) copy compiles and runs a graph from them."""

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(ROOT)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = out.glob("pygraph-*.whl")
    return path


def test_wheel_contains_codegen_templates_header_and_runtime(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "pygraph/codegen/lower.py" in names
    assert "pygraph/codegen/templates/module.cc.j2" in names
    assert "pygraph/include/pygraph/abi.h" in names
    assert "pygraph/host/host_services.cc" in names and "pygraph/host/thread_pool.h" in names  # for AOT
    assert "pygraph/codegen/templates/aot/api.cc.j2" in names
    assert any(n.startswith("pygraph/_runtime") and n.endswith(".so") for n in names)
    assert not any(n.startswith("codegen/") for n in names)  # shipped under pygraph/ only


def test_installed_copy_loads_its_templates_and_runs(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    child = (
        "import numpy as np, pygraph as tf\n"
        "from pygraph.codegen import render\n"
        "assert pygraph_file.startswith(target), tf.__file__\n"
        "t = render.template('module.cc.j2')\n"
        "assert t.filename.startswith(target), t.filename\n"
        "from pygraph.aot import artifact\n"
        "assert all(str(p).startswith(target) for p in artifact.runtime_paths()), artifact.runtime_paths()\n"
        "A = tf.placeholder(tf.float32, (None, 3)); B = A * 2 + 1\n"
        "print(tf.Session().run(B, {A: np.ones((2, 3))}).tolist())\n"
    ).replace("pygraph_file", "tf.__file__").replace("target", repr(str(target)))
    # -S keeps the editable install's import hook (a .pth file) out; numpy and jinja2 come from site-packages
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), sysconfig.get_paths()["purelib"],
                                                       sysconfig.get_paths()["platlib"]]),
               PYGRAPH_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-S", "-c", child], env=env, capture_output=True, text=True, cwd=tmp_path,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "[[3.0, 3.0, 3.0], [3.0, 3.0, 3.0]]"
