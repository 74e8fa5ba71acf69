# Closeout — `make run` starts the add-on with the sandbox; `make test` runs every test on SQLite and PostgreSQL.
VENV ?= .venv
PY := $(VENV)/bin/python
ADDON_PORT ?= 5000
SANDBOX_PORT ?= 5001
export FLASK_DEBUG ?= 1

.PHONY: setup run prod test test-sqlite test-postgresql coverage check bench migrate browser clean

## setup: virtualenv with Closeout and its dev tools, htmx from the npm registry
setup: $(VENV)/.installed static/vendor/htmx.min.js

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

static/vendor/htmx.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js

## browser: Chromium from Debian's packages for the browser tests (needs root or an existing install)
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

## migrate: bring the database at DATABASE_URL (default: SQLite in instance/) to the latest schema
migrate: setup
	$(PY) -m flask --app addon db upgrade

## run: Closeout on :$(ADDON_PORT), its worker, and the sandbox (a local Clockify) on :$(SANDBOX_PORT)
run: setup migrate
	ADDON_PORT=$(ADDON_PORT) SANDBOX_PORT=$(SANDBOX_PORT) $(PY) -m sandbox.run

## prod: as production runs it, against the sandbox: gunicorn (2 workers), 2 consumers, PostgreSQL and Redis
## on 127.0.0.1 (DATABASE_URL, REDIS_URL, QUEUE_URL move them), migrations first, JSON logs
prod: setup
	ADDON_PORT=$(ADDON_PORT) SANDBOX_PORT=$(SANDBOX_PORT) $(PY) -m sandbox.prod

## test: the whole suite on SQLite, then on PostgreSQL (127.0.0.1:5432), then coverage of addon/ per package
test: setup browser test-sqlite test-postgresql coverage

test-sqlite:
	CLOSEOUT_TEST_DB=sqlite $(PY) -m pytest --cov --cov-report= $(PYTEST_ARGS)

test-postgresql:
	CLOSEOUT_TEST_DB=postgresql $(PY) -m pytest --cov --cov-append --cov-report= $(PYTEST_ARGS)

## coverage: line and branch coverage per package from the last test run; fails under the pyproject floor
coverage:
	$(PY) -m tests.coverage_report

## check: lint, format, types, and no pending migration
check: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	DATABASE_URL=sqlite:///$(CURDIR)/instance/check.sqlite3 $(PY) -m flask --app addon db upgrade
	DATABASE_URL=sqlite:///$(CURDIR)/instance/check.sqlite3 $(PY) -m flask --app addon db check
	rm -f instance/check.sqlite3

## bench: benchmarks that print their figures (client pacing, webhook intake, billing calls)
bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) node_modules static/vendor instance .pytest_cache .ruff_cache .mypy_cache .coverage
