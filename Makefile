# Two commands do everything on a fresh machine:
#   make run    generate a shop with a year of past orders and a month of days, take it through bronze, silver
#               and gold, and serve the dashboards
#   make test   lint and run the test suite (the stack's tests included: the first run fetches Trino and the jars)
# Both build the environments first (make setup), which is safe to repeat.
#   make stack  the same month on the stack: S3 (SeaweedFS), Trino and delta-spark as local processes

PYTHON ?= python3
UV_VERSION := 0.13.8
UV := $(PYTHON) -m uv
RUN := $(UV) run --frozen

SUPERSET_VENV := .venv-superset

.PHONY: setup browser stack-deps run stack test lint bench clean help

help:
	@echo "make run | make test | make stack | make bench | make lint | make setup | make clean"

setup:
	@command -v java >/dev/null 2>&1 || { echo "error: Spark needs Java 17: apt-get install -y openjdk-17-jre-headless" >&2; exit 1; }
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	@# Bytecode is compiled once here: where PYTHONDONTWRITEBYTECODE is set (containers, CI), every process would
	@# otherwise compile each module it imports (dbt's alone take seconds).
	@$(UV) sync --frozen --quiet --compile-bytecode
	@# Superset pins SQLAlchemy 1.4 and much else: it gets an environment of its own.
	@$(UV) venv $(SUPERSET_VENV) --python 3.11 --allow-existing --quiet
	@$(UV) pip sync --python $(SUPERSET_VENV)/bin/python superset/requirements.txt --quiet --compile-bytecode
	@echo "environments ready: .venv ($$($(RUN) python --version)), $(SUPERSET_VENV) (Superset $$($(SUPERSET_VENV)/bin/python -c 'import importlib.metadata as m; print(m.version("apache-superset"))'))"

# Debian's Chromium and chromedriver, for the dashboard tests and the render benchmark.
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
		if [ "$$(id -u)" = "0" ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else \
			echo "error: the dashboard tests need Chromium: sudo apt-get install -y chromium chromium-driver" >&2; exit 1; \
		fi; \
	fi
	@echo "browser ready: $$(chromium --version 2>/dev/null | head -1)"

# The stack's JVM parts (Trino, the delta-spark and s3a jars) into ~/.cache/lakehouse with mvn, once; and Debian's
# docker-compose, which the tests use to validate docker-compose.yml (no Docker engine is needed for that).
stack-deps: setup
	@command -v mvn >/dev/null 2>&1 || { echo "error: fetching Trino and the Spark jars needs Maven: apt-get install -y maven" >&2; exit 1; }
	@$(RUN) lakehouse stack fetch
	@if ! command -v docker-compose >/dev/null 2>&1; then \
		if [ "$$(id -u)" = "0" ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; \
		else \
			echo "error: the compose test needs docker-compose: sudo apt-get install -y docker-compose" >&2; exit 1; \
		fi; \
	fi

run: setup
	$(RUN) lakehouse generate --days 30 --history-months 12 --if-empty
	$(RUN) lakehouse run
	$(RUN) lakehouse superset up

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) python -m lakehouse.devtools.sqllint
	$(RUN) python -m lakehouse.dictionary --check

stack: stack-deps
	$(RUN) lakehouse stack up
	LAKEHOUSE_ENV=stack $(RUN) lakehouse generate --days 30 --history-months 12 --if-empty
	LAKEHOUSE_ENV=stack $(RUN) lakehouse run
	@echo "Query Trino: LAKEHOUSE_ENV=stack .venv/bin/lakehouse sql \"show tables from silver\"  (stop: .venv/bin/lakehouse stack down)"

test: lint browser stack-deps
	$(RUN) pytest

bench: setup browser
	$(RUN) lakehouse bench

clean:
	-@[ -x .venv/bin/lakehouse ] && [ -d data ] && .venv/bin/lakehouse superset stop
	-@[ -x .venv/bin/lakehouse ] && [ -d .stack ] && .venv/bin/lakehouse stack down
	rm -rf data .stack .pytest_cache .ruff_cache spark-warehouse metastore_db derby.log
