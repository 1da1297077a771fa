"""The README cannot drift from the code: every ```python block runs (in a fresh process, from an empty
temporary directory) and prints exactly what its `# -> ...` comments show; every `make` target and
environment variable it names exists."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"^```python\n(.*?)^```$", README, flags=re.S | re.M)
EXPECTED = re.compile(r"#\s*->\s*(.*?)\s*$")


def test_readme_has_python_blocks():
    assert len(PYTHON_BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_python_block_runs_and_prints_what_it_shows(index, tmp_path):
    code = PYTHON_BLOCKS[index]
    expected = [m.group(1) for line in code.splitlines() if (m := EXPECTED.search(line))]
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ))
    assert proc.returncode == 0, f"README python block {index + 1} failed:\n{proc.stderr[-3000:]}"
    if expected:  # a block that shows output shows all of it, in order
        assert proc.stdout.splitlines() == expected


def test_make_targets_named_in_the_readme_exist():
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), flags=re.M))
    named = set(re.findall(r"(?:`|^)make ([a-z][\w-]*)", README, flags=re.M))
    assert named and named <= targets, named - targets


def test_environment_variable_table_matches_config():
    table = set(re.findall(r"^\| `(PYGRAPH_\w+)` \|", README, flags=re.M))
    read = set(re.findall(r"\"(PYGRAPH_\w+)\"", (ROOT / "pygraph" / "config.py").read_text()))
    assert table == read
    # the library and the demo read every variable through pygraph/config.py (tests only set them)
    elsewhere = [str(p.relative_to(ROOT)) for folder in ("pygraph", "codegen", "examples")
                 for p in (ROOT / folder).rglob("*.py")
                 if p != ROOT / "pygraph" / "config.py" and re.search(r"environ\.get\(\s*[\"']PYGRAPH_", p.read_text())]
    assert elsewhere == []
