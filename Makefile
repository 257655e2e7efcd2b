# Every target installs what it needs into .venv first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install up down test unit integration lint format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,benchmarks]"
	touch $(STAMP)

up: install            ## run the service in the foreground (Ctrl-C stops it)
	$(BIN)/vokaflow up

down: install          ## stop what `vokaflow up --detach` started
	$(BIN)/vokaflow down

test: install          ## unit and integration tests against real Redis, Ray and Serve
	$(BIN)/pytest tests

unit: install
	$(BIN)/pytest tests/unit

integration: install
	$(BIN)/pytest tests/integration

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy vokaflow

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .vokaflow .pytest_cache .mypy_cache .ruff_cache
