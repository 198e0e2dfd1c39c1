# figway: `make run` serves the app on embedded defaults; `make test` runs the suite.
# Both set up the virtual environment in .venv/ from pyproject.toml on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed-stamp

BENCH_STAMP := $(VENV)/.bench-stamp

.PHONY: run test test-flask-free lint format install clean bench bench-smoke wrk chromium

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,demo,legacy]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/figway run --host 127.0.0.1 --port $(PORT)

# The second pass runs every test of the legacy app again through the gateway, each route
# with a FastAPI twin served by the twin: it must answer exactly as Flask alone (on MariaDB
# when FIGWAY_TEST_DATABASE_URL names one; test-flask-free takes SQLite).
test: $(STAMP) chromium
	$(BIN)/pytest $(PYTEST_ARGS)
	FIGWAY_TEST_THROUGH_GATEWAY=1 $(BIN)/pytest -q $(PYTEST_ARGS)

# The end of the migration: a second environment with neither Flask nor werkzeug (figway
# without its `legacy` extra) runs the legacy suite of the gateway pass against the FastAPI
# app served alone (tests/flask_free.py).
FLASK_FREE := .venv-flask-free
FLASK_FREE_STAMP := $(FLASK_FREE)/.installed-stamp

$(FLASK_FREE_STAMP): pyproject.toml
	test -x $(FLASK_FREE)/bin/python || $(PYTHON) -m venv $(FLASK_FREE)
	$(FLASK_FREE)/bin/python -m pip install --quiet --upgrade pip
	$(FLASK_FREE)/bin/python -m pip install --quiet -e '.[demo,testing]'
	@! $(FLASK_FREE)/bin/python -c "import flask" 2>/dev/null || { echo "flask is installed in $(FLASK_FREE)"; exit 1; }
	@! $(FLASK_FREE)/bin/python -c "import werkzeug" 2>/dev/null || { echo "werkzeug is installed in $(FLASK_FREE)"; exit 1; }
	touch $(FLASK_FREE_STAMP)

test-flask-free: $(FLASK_FREE_STAMP)
	FIGWAY_TEST_FLASK_FREE=1 $(FLASK_FREE)/bin/pytest -q $(PYTEST_ARGS)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,demo,legacy,bench]'
	touch $(BENCH_STAMP)

# Side-by-side measurements, written to bench/results/latest.md (needs wrk: the script
# says how to install it). bench-smoke runs every scenario briefly; its figures mean little.
# The search benchmark runs on MariaDB, as deployed (a database of its own on this server,
# dropped after); FIGWAY_BENCH_DATABASE_URL= (empty) measures on SQLite instead.
FIGWAY_BENCH_DATABASE_URL ?= mysql://root@127.0.0.1:3306/test
export FIGWAY_BENCH_DATABASE_URL
# The downloads benchmark adds the FastAPI side as deployed with Celery (a `figway worker`
# on this Redis, a queue of its own); empty, or no Redis answering, leaves that side out.
FIGWAY_BENCH_REDIS_URL ?= redis://127.0.0.1:6379/0
export FIGWAY_BENCH_REDIS_URL

# wrk is a Debian package, not a PyPI one: installed here when missing and this machine
# can (root with apt-get, as on CI); otherwise the bench says how to get it.
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing wrk (apt-get)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
		fi; }

# Chromium, for the browser tests (tests/browser/: Playwright drives Debian's build, as
# Playwright's own browser downloads cannot be had everywhere): a Debian package, installed
# here like wrk; without it those tests skip, or fail with FIGWAY_REQUIRE_SERVICES=1.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing chromium (apt-get)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		fi; }

bench: $(BENCH_STAMP) wrk
	$(BIN)/python -m bench

bench-smoke: $(BENCH_STAMP) wrk
	$(BIN)/python -m bench --quick

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(FLASK_FREE) var .pytest_cache .mypy_cache .ruff_cache *.egg-info
