# Two commands do everything on a fresh machine: `make run` and `make test`.
# Use another interpreter with `make run PYTHON=python3.11`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# Test processes `make test` runs at once (pytest-xdist; 0 runs the suite in this process): one
# per core. Much of the suite waits on subprocesses, workers and browsers, and the other process
# runs meanwhile; more processes than cores only slow each other's timed worker tests down.
TEST_PROCESSES ?= 2

# pyproject.toml's requires-python, and the Python the lock files are compiled for.
PYTHON_VERSION := 3.11
# Pinned so that the same lock installs the same way everywhere.
PIP_VERSION := 26.3
PIP_TOOLS_VERSION := 7.6.2

.PHONY: install install-test install-dev run worker test lint typecheck layers check bench lock clean screenshots

# A .venv made by another Python, or whose Python has since been removed, would stay broken:
# when its interpreter is not $(PYTHON_VERSION), the venv is rebuilt (and so is everything in it).
VENV_PYTHON := $(shell $(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifneq ($(VENV_PYTHON),$(PYTHON_VERSION))
.PHONY: $(BIN)/python
endif

$(BIN)/python:
	@found=$$($(PYTHON) -c 'import sys; print("is Python %d.%d" % sys.version_info[:2])' 2>/dev/null); \
	if [ "$$found" != "is Python $(PYTHON_VERSION)" ]; then \
		echo "$(PYTHON) $${found:-was not found}; this project needs Python $(PYTHON_VERSION) (make $(or $(MAKECMDGOALS),run) PYTHON=python$(PYTHON_VERSION))." >&2; \
		exit 1; \
	fi
	@if [ -d $(VENV) ]; then echo "$(VENV) is not a Python $(PYTHON_VERSION) venv: rebuilding it with $(PYTHON)."; fi
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet pip==$(PIP_VERSION)

# Each install is a lock file, every file checked against its hash, then the project itself
# without resolving anything. run.txt is what runs; test.txt adds the test extra; dev.txt adds
# the dev extra on top of that. `pip check` stops a lock that no longer matches pyproject.toml.
$(VENV)/.installed-%: requirements/%.txt pyproject.toml $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $<
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	touch $@

install: $(VENV)/.installed-run
install-test: $(VENV)/.installed-test
install-dev: $(VENV)/.installed-dev

## Migrate, seed, create a console login, then serve http://127.0.0.1:$PORT (8000) with a worker and beat.
run: install
	$(BIN)/python manage.py runconsole

## The whole test suite (services the tests need are skipped when absent, except in CI).
test: install-test
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy .

## Layers run one way and no module imports one that imports it back (pyproject.toml).
layers: install-dev
	$(BIN)/lint-imports

check: lint typecheck layers

## The figures users wait for, against PostgreSQL, Redis and the two workers; prints a table,
## writes var/bench/results.json and fails when a goal is missed. BENCH_ARGS=--smoke: a quick run.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/planner_ops_bench
BENCH_BROKER_URL ?= redis://127.0.0.1:6379/12
bench: install
	DATABASE_URL=$(BENCH_DATABASE_URL) CELERY_BROKER_URL=$(BENCH_BROKER_URL) LOG_LEVEL=warning \
		$(BIN)/python manage.py bench $(BENCH_ARGS)

## Recompile the lock files from pyproject.toml. Existing pins are kept when they still fit;
## LOCK_ARGS=--upgrade moves everything to the newest allowed, or --upgrade-package NAME one package.
## Each file is constrained by the one before it, so a package has one version in all three.
## pip-tools gets its own venv inside .venv so it never becomes part of what the project installs.
LOCK_ARGS ?=
PIP_COMPILE := CUSTOM_COMPILE_COMMAND='make lock' $(VENV)/pip-tools/bin/pip-compile --quiet --generate-hashes --allow-unsafe \
	--strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_ARGS)
lock: $(BIN)/python
	$(BIN)/python -m venv $(VENV)/pip-tools
	$(VENV)/pip-tools/bin/python -m pip install --quiet pip==$(PIP_VERSION) pip-tools==$(PIP_TOOLS_VERSION)
	$(PIP_COMPILE) -o requirements/run.txt pyproject.toml
	$(PIP_COMPILE) --extra test -c requirements/run.txt -o requirements/test.txt pyproject.toml
	$(PIP_COMPILE) --extra test --extra dev -c requirements/test.txt -o requirements/dev.txt pyproject.toml

## The README's screenshots (dashboard, plan page, checklist) from the demo data, in docs/screenshots/.
screenshots: install-test
	$(BIN)/python -m tests.screenshots

## Remove the venv and everything the console keeps in var/ (database, broker, login, results).
clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
