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
# What serving the example rig needs: the package, and Pillow to draw its camera's frames.
SERVE_STAMP := $(VENV)/.installed-serve
# The test tools too (the `test` extra).
STAMP := $(VENV)/.installed
# The benchmark extra: LabThings-FastAPI 0.3.0 to compare with, matplotlib for charts.
BENCH_STAMP := $(VENV)/.installed-bench
# The browser extra: Playwright (it drives the system's Chromium; it downloads no browser).
BROWSER_STAMP := $(VENV)/.installed-browser
# The fuzz extra: schemathesis, driven by the server's OpenAPI document.
FUZZ_STAMP := $(VENV)/.installed-fuzz

.PHONY: serve test test-faults test-stress test-browser check fuzz bench bench-quick clean

$(SERVE_STAMP): pyproject.toml
	$(SETUP) $@ examples

$(STAMP): pyproject.toml
	$(SETUP) $@ test

$(BENCH_STAMP): pyproject.toml
	$(SETUP) $@ test bench

$(BROWSER_STAMP): pyproject.toml
	$(SETUP) $@ test browser

$(FUZZ_STAMP): pyproject.toml
	$(SETUP) $@ test fuzz

serve: $(SERVE_STAMP)
	$(BIN)/labthings-async serve labthings_async/examples/rig.json --port $(PORT)

test: $(STAMP)
	$(BIN)/pytest

# The fault-injection suite: misbehaving Things, shutdown under real server
# processes (ours, uvicorn, hypercorn). A few minutes.
test-faults: $(STAMP)
	$(BIN)/pytest -m faults

# Stress and soak: 10,000 open streams, 100,000 invocations, 100,000 of 1 MiB
# outputs with 100 subscribers (memory flat). Tens of minutes on 2 cores.
test-stress: $(STAMP)
	$(BIN)/pytest -m stress

# The page in a real browser: needs `chromium` on PATH (Debian: apt-get install chromium).
test-browser: $(BROWSER_STAMP)
	$(BIN)/pytest -m browser tests/browser

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
