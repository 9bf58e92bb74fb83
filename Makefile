# The two commands the README promises: `make server` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: server test lint services clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

server: $(STAMP)
	$(BIN)/tumbler server $(ARGS)

services:
	bash scripts/start-services

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

test: $(STAMP) services
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q --durations=15 $(ARGS)

clean:
	rm -rf $(VENV) .tumbler .pytest_cache .mypy_cache .ruff_cache
