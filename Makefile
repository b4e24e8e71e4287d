# snaproom-gateway — the commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK := $(PYTHON) deploy/local/stack.py
PYTEST_ARGS ?=
WEB_PORT ?= 3000

.DEFAULT_GOAL := help
.PHONY: help install run serve test test-unit services-up services-down services-status services-env \
        migrate lint

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed ## Create .venv with the package and test tools
	@true

run: install ## Run the gateway on embedded defaults (SQLite, in-process cache and bus) on :8000
	@# With a built web app (make frontend) it is served on :3000 too, and stops with the gateway.
	@web=; if [ -f frontend/dist/index.html ]; then $(PY) deploy/local/web_app.py --port $(WEB_PORT) & web=$$!; fi; \
	trap 'if [ -n "$$web" ]; then kill $$web 2>/dev/null; fi' EXIT; \
	$(VENV)/bin/snaproom-gateway serve

serve: run

services-up: ## Install (if missing) and start PostgreSQL, Redis + Sentinels, 3 Kafka brokers on 127.0.0.1
	$(STACK) install
	$(STACK) up

services-down: ## Stop the local services
	$(STACK) down

services-status: ## Show which local services run
	$(STACK) status

services-env: ## Print the environment that points the gateway at the local services
	@$(STACK) env

test: install ## Install what is missing, start the services, run the whole suite, stop them
	$(VENV)/bin/lint-imports  # the layer contracts first: no servers needed to fail on them
	$(STACK) install
	$(STACK) up
	status=0; $(VENV)/bin/pytest $(PYTEST_ARGS) || status=$$?; $(STACK) down; exit $$status

test-unit: install ## Only the tests that need no servers
	$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

migrate: install ## Apply migrations to DATABASE_URL (default: the SQLite file)
	$(VENV)/bin/snaproom-gateway migrate

lint: install ## ruff over src and tests; the layer contracts of pyproject.toml (import-linter)
	$(VENV)/bin/ruff check src tests migrations bench deploy/health_check.py deploy/local/stack.py
	$(VENV)/bin/lint-imports

-include deploy/make/*.mk
