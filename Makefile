# One target per check; `make check` runs them all (it is what CI runs).
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: check lint format typecheck test fuzz examples bench

check: lint typecheck test

lint:
	$(BIN)/ruff check src tests tasks benchmarks infra
	$(BIN)/ruff format --check src tests tasks benchmarks infra

format:
	$(BIN)/ruff check --fix src tests tasks benchmarks infra
	$(BIN)/ruff format src tests tasks benchmarks infra

typecheck:
	$(BIN)/mypy

test:
	$(PY) -m pytest -q

# More generated ledger histories and forgery seeds than CI runs, from a random seed (SEED=<n> replays one):
#   make fuzz SEEDS=50 [SEED=1234]
SEEDS ?= 20
fuzz:
	QLDB_DR_FUZZ_EXAMPLES=$(SEEDS) $(PY) -m pytest -q tests/differential tests/tamper tests/faults tests/local/test_durability.py $(if $(SEED),--hypothesis-seed=$(SEED))

# The sample vault shipped in examples/ is generated, never hand-edited.
examples:
	rm -rf examples/sample-vault
	$(PY) -m qldb_dr.journal.synthetic examples/sample-vault

# Benchmarks run on demand, never in `make check`.
bench:
	$(PY) benchmarks/verify.py
