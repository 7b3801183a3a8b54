# Two commands do everything on a fresh machine:
#   make run    generate a month of shop data and take it through bronze, silver and gold
#   make test   lint and run the test suite
# Both build the environment first (make setup), which is safe to repeat.

PYTHON ?= python3
UV_VERSION := 0.13.8
UV := $(PYTHON) -m uv
RUN := $(UV) run --frozen

.PHONY: setup run test lint bench clean help

help:
	@echo "make run | make test | make bench | make lint | make setup | make clean"

setup:
	@command -v java >/dev/null 2>&1 || { echo "error: Spark needs Java 17: apt-get install -y openjdk-17-jre-headless" >&2; exit 1; }
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	@$(UV) sync --frozen --quiet
	@echo "environment ready: .venv ($$($(RUN) python --version))"

run: setup
	$(RUN) lakehouse generate --days 30 --if-empty
	$(RUN) lakehouse run

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) python -m lakehouse.sqllint

test: lint
	$(RUN) pytest

bench: setup
	$(RUN) lakehouse bench

clean:
	rm -rf data .pytest_cache .ruff_cache spark-warehouse metastore_db derby.log
