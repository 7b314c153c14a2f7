# Stratum. `make demo` and `make test` are all a new machine needs (Python 3.11+).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-local
# The trial: one protocol file (STRATUM_PROTOCOL for every process). `make demo PROTOCOL=protocols/infliximab_trd_dose.toml`
# runs the second trial in its own SQLite file, since one database runs one trial.
PROTOCOL ?= protocols/infliximab_trd.toml
export STRATUM_PROTOCOL := $(PROTOCOL)
PROTOCOL_NAME := $(basename $(notdir $(PROTOCOL)))
ifneq ($(PROTOCOL),protocols/infliximab_trd.toml)
DEMO_DB := sqlite:///$(CURDIR)/var/demo-$(PROTOCOL_NAME).sqlite3
demo: export DATABASE_URL = $(DEMO_DB)
demo: export STRATUM_BROKER_DIR = $(CURDIR)/var/celery-broker-$(PROTOCOL_NAME)
endif

.PHONY: demo demo-closed test test-fast lint check bench install clean run prod-local

$(STAMP): requirements/base.txt requirements/local.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/local.txt
	touch $(STAMP)

install: $(STAMP)

## demo: install, migrate SQLite, load the protocol, seed if empty, run web + Celery worker (Ctrl-C stops both)
demo: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_protocol
	$(PY) manage.py seed_demo --participants 60 --seed 2013 --if-empty
	$(PY) manage.py collectstatic --noinput --verbosity 0
	bash scripts/run_demo.sh

## demo-closed: a finished trial, closed through the services (verified, signed, locked, unblinded), in its own
## SQLite file on port 8001, beside `make demo` and without touching it
CLOSED_DB := sqlite:///$(CURDIR)/var/demo-closed$(if $(DEMO_DB),-$(PROTOCOL_NAME)).sqlite3
demo-closed: $(STAMP)
	DATABASE_URL=$(CLOSED_DB) $(PY) manage.py migrate --noinput
	DATABASE_URL=$(CLOSED_DB) $(PY) manage.py load_protocol
	DATABASE_URL=$(CLOSED_DB) $(PY) manage.py seed_demo --participants 60 --seed 2013 --closed --if-empty
	$(PY) manage.py collectstatic --noinput --verbosity 0
	DATABASE_URL=$(CLOSED_DB) STRATUM_BROKER_DIR=$(CURDIR)/var/celery-broker-closed$(if $(DEMO_DB),-$(PROTOCOL_NAME)) STRATUM_PORT=8001 bash scripts/run_demo.sh

## test: the whole suite on SQLite, one pytest worker per core (pytest-xdist; TEST_WORKERS=0 runs it in one process)
## Whole files per worker, in collection order, where the files with a test marked slow come first (tests/conftest.py).
TEST_WORKERS ?= auto
test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

## lint: ruff, the format check, mypy, and the layer contract (import-linter)
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

## check: what a reviewer checks besides lint: no missing migration, and a clean deploy check
check: $(STAMP)
	$(PY) manage.py makemigrations --check --dry-run
	bash scripts/check_deploy.sh

## prod-local: the production shape on this machine: PostgreSQL + Redis (running or started), gunicorn x4 over
## HTTPS (local certificate), two Celery workers and beat, production settings. benchmarks/load.py drives it.
PROD_STAMP := $(VENV)/.installed-production
$(PROD_STAMP): $(STAMP) requirements/production.txt
	$(PY) -m pip install --quiet -r requirements/production.txt
	touch $(PROD_STAMP)

prod-local: $(PROD_STAMP)
	bash scripts/prod_local.sh

## bench: the benchmarks (speed is measured here, never asserted in tests)
bench: $(STAMP)
	$(PY) benchmarks/mmrm.py
	$(PY) benchmarks/randomization.py
	$(PY) benchmarks/forms.py
	$(PY) benchmarks/growth.py --sizes 60,1000,10000 --explain 3
	$(PY) benchmarks/exports.py --participants 10000
	$(PY) benchmarks/powersim.py
	$(PY) benchmarks/calibration.py

clean:
	rm -rf var db.sqlite3 db.sqlite3-wal db.sqlite3-shm staticfiles
