# contact-router: every task bootstraps its own virtual environment from pinned requirements.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
BIN := $(VENV)/bin
# sam build needs the Lambda runtime's interpreter (python3.13) on PATH; pyenv provides it on these machines.
PY313_BIN ?= $(shell pyenv prefix 3.13.0 2>/dev/null || echo /root/.pyenv/versions/3.13.0)/bin

.PHONY: run test lint types validate build ci bench clean venv sam-venv lock-check

$(VENV)/.done: requirements/lambda.txt requirements/dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

venv: $(VENV)/.done

$(SAM_VENV)/.done: requirements/sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet -r requirements/sam.txt
	touch $@

sam-venv: $(SAM_VENV)/.done

## make run: the local pipeline on the embedded Connect emulator with the sample world, rules and events/
run: venv
	$(BIN)/contact-router run

## make test: every test (unit, integration, contract, template, emulator)
test: venv lock-check
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: venv
	$(BIN)/mypy

lock-check:
	@diff -u requirements/lambda.txt functions/requirements.txt >/dev/null || \
	  { echo "functions/requirements.txt differs from requirements/lambda.txt: copy it over"; exit 1; }

validate: sam-venv
	$(SAM_VENV)/bin/sam validate --lint

build: sam-venv
	PATH="$(PY313_BIN):$$PATH" $(SAM_VENV)/bin/sam build --parallel

bench: venv
	$(BIN)/python bench/run.py

ci: test lint types validate build

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
