# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install run worker test lint typecheck layers check bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

install: $(STAMP)

## Migrate, seed, create a console login, then serve http://127.0.0.1:8000 with a worker and beat.
run: install
	$(BIN)/python manage.py runconsole

## The whole test suite (services the tests need are skipped when absent, except in CI).
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy .

## Layers run one way and no module imports one that imports it back (pyproject.toml).
layers: install
	$(BIN)/lint-imports

check: lint typecheck layers

## Benchmarks against PostgreSQL and Redis; prints a table and writes var/bench/results.json.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/planner_ops_bench
BENCH_BROKER_URL ?= redis://127.0.0.1:6379/12
bench: install
	DATABASE_URL=$(BENCH_DATABASE_URL) CELERY_BROKER_URL=$(BENCH_BROKER_URL) LOG_LEVEL=warning \
		$(BIN)/python manage.py bench $(BENCH_ARGS)

clean:
	rm -rf var/test-db var/screenshots .pytest_cache .mypy_cache .ruff_cache
