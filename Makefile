# Set-up and everyday commands. Every target builds the virtual environment
# first, from this project's own files, so a fresh clone needs nothing else.
# scripts/setup_venv.py builds it under a lock, so targets may run at the same
# time (`make serve & make test`): the second waits for the first, then adds
# only what it needs.
PYTHON ?= python3
PORT ?= 5000
VENV := .venv
BIN := $(VENV)/bin
SETUP := $(PYTHON) scripts/setup_venv.py $(VENV)
# What serving needs: the package and its dependencies, nothing else.
SERVE_STAMP := $(VENV)/.installed-serve
# The test tools too (the `test` extra).
STAMP := $(VENV)/.installed
# The benchmark extra: LabThings-FastAPI 0.3.0 to compare with, matplotlib for charts.
BENCH_STAMP := $(VENV)/.installed-bench
# The fuzz extra: schemathesis, driven by the server's OpenAPI document.
FUZZ_STAMP := $(VENV)/.installed-fuzz

.PHONY: serve test check fuzz bench bench-quick clean

$(SERVE_STAMP): pyproject.toml
	$(SETUP) $@

$(STAMP): pyproject.toml
	$(SETUP) $@ test

$(BENCH_STAMP): pyproject.toml
	$(SETUP) $@ test bench

$(FUZZ_STAMP): pyproject.toml
	$(SETUP) $@ test fuzz

serve: $(SERVE_STAMP)
	$(BIN)/labthings-async serve labthings_async.examples.microscope:Microscope --name microscope --port $(PORT)

test: $(STAMP)
	$(BIN)/pytest

check: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/check

# schemathesis's full pass over the OpenAPI document, against a real server.
fuzz: $(FUZZ_STAMP)
	$(BIN)/pytest -m fuzz tests/security/test_fuzz.py

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks --json benchmarks/results/latest-full.json

# A smoke-sized run: checks the suite works end to end, never a timing.
bench-quick: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks --quick

clean:
	rm -rf $(VENV)
