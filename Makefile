# Set-up and everyday commands. Every target builds the virtual environment
# first, from this project's own files, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
BROWSER_STAMP := $(VENV)/.installed-browser

.PHONY: serve test test-browser check bench bench-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

# The benchmark extra: LabThings-FastAPI 0.3.0 to compare with, matplotlib for charts.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e ".[test,bench]"
	touch $(BENCH_STAMP)

# The browser extra: Playwright (it drives the system's Chromium; it downloads no browser).
$(BROWSER_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e ".[test,browser]"
	touch $(BROWSER_STAMP)

serve: $(STAMP)
	$(BIN)/labthings-async serve labthings_async.examples.microscope:Microscope --name microscope --port 5000

test: $(STAMP)
	$(BIN)/pytest

# The page in a real browser: needs `chromium` on PATH (Debian: apt-get install chromium).
test-browser: $(BROWSER_STAMP)
	$(BIN)/pytest -m browser tests/browser

check: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/check

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks --json benchmarks/results/latest-full.json

# A smoke-sized run: checks the suite works end to end, never a timing.
bench-quick: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks --quick

clean:
	rm -rf $(VENV)
