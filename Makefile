# The two commands: `make demo` runs the gateway with a seeded stand-in per system,
# `make test` runs lint, types and the test suite. Each builds .venv first
# when it is missing or older than pyproject.toml. `make test-fast` runs the
# tests but the proofs over real gateway processes (docs/testing.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast bench lint types pytest venv clean

# xdist workers. The tests mostly wait (stand-ins, sockets, deadlines) and each worker
# pays its own collection and stand-ins; with the proofs dealt out to several
# workers the whole run is bound by the two cores' CPU. On the 2-core machine, on
# fresh clones, `bash .ci/run` took 3 min 37 s with 3 workers (358 s of CPU) and
# 4 min 10 s to 4 min 25 s with 4 (455 to 475 s of CPU): see docs/testing.md.
PYTEST_WORKERS ?= 3

# The tests write thousands of small files (SQLite stores, stand-ins' data files,
# logs) under pytest's temporary directory, and the processes they start under
# theirs: on a machine with /dev/shm (memory) rather than a disk shared with the
# databases, the SQLite tests of a sample took 15 to 40 % less time. pytest keeps
# the last three runs' directories there; TEST_TMPDIR= keeps the system's default.
TEST_TMPDIR ?= $(if $(wildcard /dev/shm/.),/dev/shm)
TEST_ENV := $(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR))

# Python may be told not to write compiled modules (PYTHONDONTWRITEBYTECODE): the
# tests start many Python processes (xdist workers, stand-ins, gateways, commands)
# that would each compile the project again, and pytest's rewritten test modules
# too, so they keep them (__pycache__, ignored by git).
unexport PYTHONDONTWRITEBYTECODE

# How the venv gets the project and its dependencies. uv (installed into the venv by
# pip) resolves, downloads and installs in parallel: on the 2-core machine the
# install took 16 s instead of pip's 53 s (docs/testing.md). uv does not read pip's
# configuration (pip.conf, PIP_*): where an index, certificate or constraints set
# there matter, `make venv VENV_INSTALLER=pip` installs with pip as before.
# --compile-bytecode: uv, unlike pip, leaves the dependencies uncompiled, and every
# process the tests start at once (workers, stand-ins, gateways) compiled the same
# modules on its own: a fresh clone's run spent 100 s more CPU than the next.
# The venv is made without pip where this Python's own pip can install into it
# (`pip --python`, pip 22.3 or newer): ensurepip alone took 7.6 s of the 19.5 s a
# venv took; uv then puts pip in with the rest. Elsewhere the venv's pip, as before.
VENV_INSTALLER ?= uv

venv: $(STAMP)

$(STAMP): pyproject.toml
ifeq ($(VENV_INSTALLER),pip)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
else
	test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV)
	test -x $(BIN)/uv || $(PYTHON) -m pip --python $(BIN)/python install --quiet uv \
		|| { $(BIN)/python -m ensurepip --default-pip && $(BIN)/python -m pip install --quiet uv; }
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]' pip
endif
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hrss-gateway serve --demo

lint: $(STAMP)
	$(BIN)/ruff check gateway adapters tests benchmarks
	$(BIN)/ruff format --check gateway adapters tests benchmarks

types: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(TEST_ENV) $(BIN)/pytest -q -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# mypy (about 10 s of CPU on a fresh clone, no cache) runs beside the tests rather
# than before them: the tests leave the cores idle while they wait. Lines of output
# are kept whole; the target fails if either does.
test: lint
	$(MAKE) --no-print-directory -j2 --output-sync=line types pytest

test-fast: $(STAMP)
	$(TEST_ENV) $(BIN)/pytest -q -n $(PYTEST_WORKERS) -m "not proof" $(PYTEST_ARGS)

# Benchmarks: ratios measured side by side in one run (results in docs/benchmarks.md).
bench: $(STAMP)
	$(BIN)/python -m benchmarks.graph
	$(BIN)/python -m benchmarks.registrations
	$(BIN)/python -m benchmarks.workers
	$(BIN)/python -m benchmarks.resilience
	$(BIN)/python -m benchmarks.recovery
	$(BIN)/python -m benchmarks.forms
	$(BIN)/python -m benchmarks.subscriptions
	$(BIN)/python -m benchmarks.workbooks
	$(BIN)/python -m benchmarks.submissions
	$(BIN)/python -m benchmarks.statements

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
