# Set-up is part of every target: a fresh clone needs only `make up` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install up test lint bench protos clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	$(BIN)/cdp up

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check services tests
	$(BIN)/ruff format --check services tests
	cd protos && $(abspath $(BIN))/buf lint

bench: $(STAMP)
	$(BIN)/cdp bench ingest
	$(BIN)/cdp bench pipeline

protos: $(STAMP)
	$(BIN)/python -m cdp.platform.protogen

clean:
	rm -rf $(VENV) .cdp
