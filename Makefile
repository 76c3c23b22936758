# Every target does its own set-up: a virtual environment in .venv with the
# CPU build of torch (pinned, so pip never pulls the CUDA stack) and sciml.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.sciml-installed

.PHONY: setup demo test bench-tests bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check "$(TORCH_SPEC)"
	$(PY) -m pip install -q --disable-pip-version-check -e ".[test,all]"
	touch $(STAMP)

demo: setup
	$(PY) -m sciml demo --out demo_out

test: setup
	OMP_NUM_THREADS=2 $(PY) -m pytest -q --doctest-modules sciml
	OMP_NUM_THREADS=2 $(PY) -m pytest -q -m "not slow" tests

bench-tests: setup
	$(PY) -m pytest -q -m slow tests

bench: setup
	for f in benchmarks/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) demo_out .pytest_cache
