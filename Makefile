# One target per check; `make check` runs them all (it is what CI runs).
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: check lint format typecheck test fuzz examples bench chromium screenshots compiled

check: lint typecheck test

lint:
	$(BIN)/ruff check src tests tasks benchmarks infra
	$(BIN)/ruff format --check src tests tasks benchmarks infra

format:
	$(BIN)/ruff check --fix src tests tasks benchmarks infra
	$(BIN)/ruff format src tests tasks benchmarks infra

typecheck:
	$(BIN)/mypy

test: chromium compiled
	$(PY) -m pytest -q

# The hot Ion modules compiled with mypyc (about twice as fast) when this machine has a C
# compiler and Python's headers; otherwise it says so and qldb-dr runs them as Python.
# QLDB_DR_ION=pure runs Python even when they are built (qldb_dr/ion/compiled.py).
compiled:
	$(PY) -m qldb_dr.ion.build

# The console's browser tests drive Debian's Chromium (Playwright with executable_path; never a
# browser download). Installed here when missing, so that they run — never skip — in CI.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || { echo "installing Debian's chromium (apt-get)"; \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
	  $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@test -x $(CHROMIUM)

# The README's pictures of the console: the browser test, saving a PNG of each main page.
screenshots: chromium
	QLDB_DR_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q tests/console

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
