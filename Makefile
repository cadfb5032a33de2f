# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8866

.PHONY: demo test test-fast lint bench venv chromium postgres clean plotly-bundle

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "pir needs Python 3.11 or newer: set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,team]'
	touch $(STAMP)

demo: venv
	$(BIN)/pir init
	$(BIN)/pir demo
	@echo "Dashboards: http://127.0.0.1:$(PORT)/  (Ctrl-C stops the server)"
	$(BIN)/pir serve --port $(PORT)

# Browser tests drive Debian's chromium; install it when missing (needs root, as in CI).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "browser tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

# pytest-xdist: one worker per core; tests marked xdist_group (tests/conftest.py groups the browser tests, and
# the tests of a module that share a module-scoped server or database) run on one worker.
XDIST ?= -n auto --dist loadgroup

# Team mode's tests start their own PostgreSQL from Debian's package (tests/support/postgres.py); install it when
# missing and run as root (as in CI). Elsewhere those tests are skipped with the install command as the reason.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq postgresql-15 >/dev/null; \
	  else echo "team-mode tests are skipped without PostgreSQL: sudo apt-get install postgresql-15" >&2; fi; }

test: venv chromium postgres
	$(BIN)/pytest -q -p no:cacheprovider $(XDIST)

# The quick loop: everything but the browser tests and the ones marked slow (over 5 s), on the solo store only
# (make test runs the store-facing tests on PostgreSQL too): no chromium and no PostgreSQL needed.
test-fast: venv
	PIR_TEST_STORES=duckdb $(BIN)/pytest -q -p no:cacheprovider $(XDIST) -m "not browser and not slow"

# The guard rails CI runs before the tests; settings in pyproject.toml ([tool.ruff], [tool.mypy]).
# All three run even when one fails, so one run shows every finding.
lint: venv
	@status=0; \
	echo "ruff check"; $(BIN)/ruff check . || status=1; \
	echo "ruff format --check"; $(BIN)/ruff format --check . || status=1; \
	echo "mypy"; $(BIN)/mypy || status=1; \
	exit $$status

bench: venv
	$(BIN)/python -m bench

# Rebuild the plotly.js bundle that dashboard pages load (committed; needs node and npm, not run by test or demo).
plotly-bundle:
	cd tools/plotly && npm ci --no-audit --no-fund && node build.js

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache data/pir.duckdb data/pir.duckdb.wal data/sample data/published tests/artifacts
