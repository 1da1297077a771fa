# make demo: set up .venv and run the lecture's programs.  make test: set up .venv and run the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SOURCES := pyproject.toml CMakeLists.txt $(wildcard runtime/src/*) $(wildcard runtime/include/pygraph/*)

.PHONY: demo test bench bench-peers lint clean wheel

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Editable install: Python and template edits apply at once; runtime/ changes rebuild through this rule.
$(STAMP): $(PY) $(SOURCES)
	$(PY) -m pip install -q scikit-build-core pybind11 cmake ninja
	$(PY) -m pip install -q --no-build-isolation -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/lecture.py

test: $(STAMP)
	$(PY) -m pytest tests

lint: $(STAMP)
	$(PY) -m ruff check pygraph codegen tests benchmarks examples

# make wheel: dist/pygraph-*-manylinux_*.whl for this venv's Python, a tag PyPI accepts (auditwheel repair
# checks the runtime's library symbols and names the oldest glibc it runs on).
wheel: $(STAMP)
	rm -rf build/wheel-raw
	$(PY) -m pip wheel -q --no-deps --no-build-isolation -w build/wheel-raw .
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m auditwheel repair -w dist build/wheel-raw/pygraph-*.whl

# make bench: the full table (benchmarks/RESULTS.md, benchmarks/results/); BENCH_ARGS=--quick for the smoke test.
bench: $(STAMP)
	$(PY) -m benchmarks $(BENCH_ARGS)

# The peers (TensorFlow CPU, PyTensor, JAX, numexpr, matplotlib) go into their own venv, never into .venv.
bench-peers:
	test -x .venv-peers/bin/python || $(PYTHON) -m venv .venv-peers
	.venv-peers/bin/python -m pip install -q --upgrade pip
	.venv-peers/bin/python -m pip install -q -r benchmarks/requirements-peers.txt

clean:
	rm -rf $(VENV) build dist
