# The two commands: `make demo` runs the gateway with the three stand-ins,
# `make test` runs lint, types and the test suite. Each builds .venv first
# when it is missing or older than pyproject.toml. `make test-fast` runs the
# tests but the proofs over real gateway processes (docs/testing.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast bench lint types pytest venv clean

# xdist workers: the suite mostly waits on processes, sockets and timeouts, so
# more workers than the machine's two cores pay (measured in docs/testing.md).
PYTEST_WORKERS ?= 4

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hrss-gateway serve --demo

lint: $(STAMP)
	$(BIN)/ruff check gateway adapters tests benchmarks
	$(BIN)/ruff format --check gateway adapters tests benchmarks

types: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test: lint types pytest

test-fast: $(STAMP)
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) -m "not proof" $(PYTEST_ARGS)

# Benchmarks: ratios measured side by side in one run (results in docs/benchmarks.md).
bench: $(STAMP)
	$(BIN)/python -m benchmarks.graph
	$(BIN)/python -m benchmarks.registrations
	$(BIN)/python -m benchmarks.resilience

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
