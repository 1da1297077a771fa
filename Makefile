# make demo: set up .venv and run the lecture's programs.  make test: set up .venv and run the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SOURCES := pyproject.toml CMakeLists.txt codegen/templates/random.h.j2 $(wildcard runtime/src/*) $(wildcard runtime/include/pygraph/*) \
           $(wildcard runtime/include/pygraph/tf/*) $(shell find runtime/include/tensorflow -name "*.h")

.PHONY: demo test test-sanitize bench bench-peers lint clean wheel

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Editable install: Python and template edits apply at once; runtime/ changes rebuild through this rule.
# compileall writes the .pyc files pip writes for an installed wheel (an editable install has none, and
# with PYTHONDONTWRITEBYTECODE set every `import pygraph` would compile the sources again).
$(STAMP): $(PY) $(SOURCES)
	$(PY) -m pip install -q scikit-build-core pybind11 cmake ninja
	$(PY) -m pip install -q --no-build-isolation -e '.[test]'
	$(PY) -m compileall -q pygraph codegen
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/lecture.py

test: $(STAMP)
	$(PY) -m pytest tests

# make test-sanitize: the runtime and every generated kernel built with AddressSanitizer and UBSan (own venv
# and build dir, so `make test` is untouched), the op and thread tests run under them (pygraph.sanitize preloads
# libasan). SANITIZE_TESTS picks other tests.
ASAN_VENV := .venv-asan
ASAN_PY := $(ASAN_VENV)/bin/python
SANITIZE := address,undefined
SANITIZE_TESTS ?= tests/test_elementwise.py tests/test_ops_array.py tests/test_ops_linalg.py tests/test_ops_random.py \
	tests/test_ops_reduce.py tests/test_nn.py tests/test_threads.py tests/test_fast_path.py

$(ASAN_VENV)/.installed: $(SOURCES)
	test -x $(ASAN_PY) || $(PYTHON) -m venv $(ASAN_VENV)
	$(ASAN_PY) -m pip install -q --upgrade pip scikit-build-core pybind11 cmake ninja
	$(ASAN_PY) -m pip install -q --no-build-isolation -e '.[test]' -C build-dir=build/asan-{wheel_tag} \
		-C cmake.build-type=RelWithDebInfo -C "cmake.define.CMAKE_CXX_FLAGS=-fsanitize=$(SANITIZE) -fno-omit-frame-pointer"
	touch $@

# The launcher runs from .venv: importing the sanitized runtime before libasan is preloaded would abort.
test-sanitize: $(STAMP) $(ASAN_VENV)/.installed
	PYGRAPH_SANITIZE=$(SANITIZE) $(PY) -m pygraph.sanitize $(ASAN_PY) -m pytest --capture=sys $(SANITIZE_TESTS)

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
	$(PY) -m compileall -q pygraph codegen
	$(PY) -m benchmarks $(BENCH_ARGS)

# The peers (TensorFlow CPU, PyTensor, JAX, numexpr, matplotlib) go into their own venv, never into .venv.
bench-peers:
	test -x .venv-peers/bin/python || $(PYTHON) -m venv .venv-peers
	.venv-peers/bin/python -m pip install -q --upgrade pip
	.venv-peers/bin/python -m pip install -q -r benchmarks/requirements-peers.txt

clean:
	rm -rf $(VENV) $(ASAN_VENV) build dist
