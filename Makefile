# Every target does its own set-up: a virtual environment in .venv with the
# CPU build of torch (pinned, so pip never pulls the CUDA stack) and sciml.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.sciml-installed
# The peers' own readers, used by the interop tests (tests/datasets/_peers.py): installed without
# dependencies into their own folders (they use this venv's torch/numpy/h5py; the_well pins an
# older fsspec and pdebench declares Python < 3.11, so neither goes into the venv itself).
PEERS := .test-deps
PEER_STAMP := $(PEERS)/.installed
WELL_SPEC ?= the_well==1.2.0 fsspec==2024.10.0 einops==0.8.2
PDEBENCH_SPEC ?= pdebench==0.1.0

.PHONY: setup demo test test-deps bench-tests bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check "$(TORCH_SPEC)"
	$(PY) -m pip install -q --disable-pip-version-check -e ".[test,all]"
	touch $(STAMP)

demo: setup
	$(PY) -m sciml demo --out demo_out

test-deps: $(PEER_STAMP)

$(PEER_STAMP): Makefile $(STAMP)
	rm -rf $(PEERS)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --target $(PEERS)/well $(WELL_SPEC)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --ignore-requires-python --target $(PEERS)/pdebench $(PDEBENCH_SPEC)
	touch $(PEER_STAMP)

test: setup test-deps
	$(PY) -m ruff check sciml tests benchmarks
	OMP_NUM_THREADS=2 $(PY) -m pytest -q --doctest-modules sciml
	SCIML_REQUIRE_PEERS=1 OMP_NUM_THREADS=2 $(PY) -m pytest -q -m "not slow" tests

bench-tests: setup
	$(PY) -m pytest -q -m slow tests

bench: setup
	for f in benchmarks/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) $(PEERS) demo_out .pytest_cache
