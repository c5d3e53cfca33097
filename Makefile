# contact-router: every task bootstraps its own virtual environment from pinned requirements.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
SECURITY_VENV := .venv-security
BIN := $(VENV)/bin
# sam build needs the Lambda runtime's interpreter (python3.13) on PATH: tools/find-python3.13 looks on PATH,
# in pyenv and in uv, or says in one line what to install. PY313_BIN=/path/to/bin overrides the search.
PY313_BIN ?=

.PHONY: run test lint types validate build ci bench clean venv sam-venv lock-check security security-venv sqs-events

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

# checkov and cfn-lint-serverless pin their own boto3 and packaging: a third environment, apart from both.
# It ignores itself in git (a .gitignore of its own), as virtualenv does.
$(SECURITY_VENV)/.done: requirements/security.txt
	$(PYTHON) -m venv $(SECURITY_VENV)
	echo '*' > $(SECURITY_VENV)/.gitignore
	$(SECURITY_VENV)/bin/pip install --quiet --upgrade pip==25.3
	$(SECURITY_VENV)/bin/pip install --quiet -r requirements/security.txt
	touch $@

security-venv: $(SECURITY_VENV)/.done

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
	@bin="$(PY313_BIN)"; [[ -n "$$bin" ]] || bin=$$(tools/find-python3.13) || exit 1; \
	  echo "sam build with $$bin/python3.13"; \
	  PATH="$$bin:$$PATH" $(SAM_VENV)/bin/sam build --parallel

## make sqs-events: events/sqs/*.json, the fixtures wrapped as SQS events (sam local invoke --event ...)
sqs-events: venv
	$(BIN)/python -m contact_router_cli.sqs_events

## make security: cfn-lint with the serverless rules and checkov on template.yaml, zero findings allowed.
## checkov drops resources whose Condition is false with the defaults, so it also scans a copy with every
## optional part switched on, rules from SSM and from AppConfig (tests/support/template_variants.py).
## Suppressions live in template.yaml.
security: security-venv
	$(SECURITY_VENV)/bin/cfn-lint --append-rules cfn_lint_serverless.rules --regions eu-west-2 us-east-1 -- template.yaml
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true $(SECURITY_VENV)/bin/checkov --config-file .checkov.yaml --file template.yaml
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  for variant in everything appconfig-rules; do \
	    $(SECURITY_VENV)/bin/python tests/support/template_variants.py template.yaml "$$tmp/$$variant.yaml" $$variant && \
	    echo "checkov, variant $$variant (every optional part on):" && \
	    CKV_SKIP_PACKAGE_UPDATE_CHECK=true $(SECURITY_VENV)/bin/checkov --config-file .checkov.yaml \
	      --file "$$tmp/$$variant.yaml" || exit 1; \
	  done

bench: venv
	$(BIN)/python bench/run.py --json out/bench.json

ci: test lint types validate security build

clean:
	rm -rf $(VENV) $(SAM_VENV) $(SECURITY_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache out
