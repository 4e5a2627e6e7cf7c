# Lotse — the two contract commands plus a few helpers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test
RUN_STAMP := $(VENV)/.installed-run
PYTEST_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint install clean bench stress translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# make run needs the runtime dependencies only; make test adds the test extras.
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP) $(RUN_STAMP)

install: $(STAMP)

## make run [PORT=8000]: secrets, database, demo catalogue, ranker, demo credentials, then serve
run: $(RUN_STAMP)
	$(BIN)/lotse demo bootstrap --host $(HOST) --port $(PORT)
	$(BIN)/lotse serve --host $(HOST) --port $(PORT)

## make test: the whole suite (PostgreSQL too when LOTSE_TEST_POSTGRES_URL is set)
test: $(STAMP)
	$(BIN)/ruff check .
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
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

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
