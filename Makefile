# Set-up and everyday commands. Every target builds the virtual environment
# first, from this project's own files, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test check bench-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/labthings-async serve labthings_async.example:Microscope --name microscope --port 5000

test: $(STAMP)
	$(BIN)/pytest

check: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/check

clean:
	rm -rf $(VENV)
