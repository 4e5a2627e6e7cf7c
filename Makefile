# Lotse — the two contract commands plus a few helpers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test
RUN_STAMP := $(VENV)/.installed-run
LOCK := requirements.lock
TEST_LOCK := requirements-test.lock
PYTEST_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck install lock clean bench stress translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Every dependency comes from a lock file, checked against its hashes; then this checkout is
# installed editable without dependencies, built by the locked setuptools. Our own package never
# comes from an index: the name lotse on PyPI belongs to another project (docs/operations.md).
# make run needs the runtime lock only; make test takes the test lock (runtime + test extras).
define install_locked
	$(BIN)/pip install --quiet --require-hashes -r $(1)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
endef

$(RUN_STAMP): $(LOCK) pyproject.toml | $(BIN)/python
	$(call install_locked,$(LOCK))
	touch $(RUN_STAMP)

$(STAMP): $(TEST_LOCK) pyproject.toml | $(BIN)/python
	$(call install_locked,$(TEST_LOCK))
	touch $(STAMP) $(RUN_STAMP)

install: $(STAMP)

## make run [PORT=8000]: secrets, database, demo catalogue, ranker, demo credentials, then serve
run: $(RUN_STAMP)
	$(BIN)/lotse demo bootstrap --host $(HOST) --port $(PORT)
	$(BIN)/lotse serve --host $(HOST) --port $(PORT)

## make test: ruff, mypy, then the whole suite (PostgreSQL too when LOTSE_TEST_POSTGRES_URL is set)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

## make translations: extract every marked text (babel.cfg: staff; babel-person.cfg: the
## person's printouts), merge it into each language's .po, fill English, compile the .mo files
## and list what is still untranslated (docs/pages.md, "Languages")
TR := lotse/translations
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k Nn_:1,2 -c TRANSLATORS: --no-location \
		--sort-output --project=Lotse -o $(TR)/messages.pot .
	$(BIN)/pybabel extract -F babel-person.cfg -k Nn_:1,2 -c TRANSLATORS: --no-location \
		--sort-output --project=Lotse -o $(TR)/person.pot .
	$(BIN)/pybabel update -D messages -i $(TR)/messages.pot -d $(TR) --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel update -D person -i $(TR)/person.pot -d $(TR) --no-fuzzy-matching --ignore-obsolete
	$(BIN)/python -m lotse.i18n english
	$(BIN)/pybabel compile -D messages -d $(TR) --statistics
	$(BIN)/pybabel compile -D person -d $(TR) --statistics
	$(BIN)/python -m lotse.i18n missing || true

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

## make typecheck: mypy over the packages [tool.mypy] names (lotse, catalog, matcher, models)
typecheck: $(STAMP)
	$(BIN)/mypy

## make lock: resolve pyproject.toml again into both lock files, with hashes, for CPython 3.11 on
## Linux x86_64; pins already in the locks are kept unless LOCK_ARGS=--upgrade (or
## LOCK_ARGS='--upgrade-package NAME'). uv itself is pinned in requirements-tools.txt.
LOCK_ARGS ?=
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --group pyproject.toml:build --generate-hashes \
	--python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	--custom-compile-command 'make lock' --quiet $(LOCK_ARGS)
lock: | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements-tools.txt
	$(UV_COMPILE) --extra test -o $(TEST_LOCK)
	$(UV_COMPILE) --constraint $(TEST_LOCK) -o $(LOCK)

bench: $(STAMP)
	$(BIN)/python bench/import_bench.py

## make stress: the full forms of stress/ (docs/reliability.md) on SQLite, and on PostgreSQL
## too when LOTSE_STRESS_POSTGRES_URL (or LOTSE_TEST_POSTGRES_URL) names a server; the
## several-server run (HAProxy) on that server, else on a private cluster of its own
STRESS_PG := $(or $(LOTSE_STRESS_POSTGRES_URL),$(LOTSE_TEST_POSTGRES_URL))
stress: $(STAMP)
	$(BIN)/python stress/schema_fuzz.py --requests 1000 --sqlite
	$(BIN)/python stress/load.py --duration 60 --sqlite
	$(BIN)/python stress/faults.py all --sqlite
ifneq ($(STRESS_PG),)
	$(BIN)/python stress/schema_fuzz.py --requests 1000 --postgres '$(STRESS_PG)'
	$(BIN)/python stress/load.py --duration 60 --postgres '$(STRESS_PG)'
	$(BIN)/python stress/faults.py import-kill --postgres '$(STRESS_PG)'
	$(BIN)/python stress/cluster.py --duration 60 --postgres '$(STRESS_PG)'
else
	$(BIN)/python stress/cluster.py --duration 60
endif

clean:
	rm -rf $(VENV) data .pytest_cache
