# Set-up is part of every target: a fresh clone needs only `make up` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install up test lint coverage bench protos clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	$(BIN)/cdp up

# On every core; a module's tests stay on one worker, as they share its module-scoped platforms.
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadscope

# Line coverage from the tests that start no process (the e2e tests prove the wiring in processes).
coverage: $(STAMP)
	$(BIN)/python -m pytest -q -m "not e2e" --cov=cdp --cov-report=term \
	  | grep -E '^(Name|-|TOTAL)|/(application|domain|service|servicer)\.py'

lint: $(STAMP)
	$(BIN)/ruff check services tests
	$(BIN)/ruff format --check services tests
	cd protos && $(abspath $(BIN))/buf lint
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/cdp bench ingest
	$(BIN)/cdp bench pipeline

protos: $(STAMP)
	$(BIN)/python -m cdp.platform.protogen

clean:
	rm -rf $(VENV) .cdp
