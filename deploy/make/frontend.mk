# The web app (frontend/: React + TypeScript + Vite). Included by the top-level Makefile.
#
#   make frontend                  build frontend/dist (VITE_API_URL=https://api.example.org to bake another gateway URL)
#   make frontend-dev              Vite's dev server on http://localhost:3000 (the gateway: make run)
#   make frontend-test             type check + Vitest (no servers)
#   make frontend-browser-test     the browser tests on the local stack (tests/e2e)
#
# `make test` needs what the browser tests use, so it gets frontend-deps first: Debian's chromium
# (Playwright drives it; Playwright's own browser download cannot work on these machines) and the
# app's npm packages from the lockfile.

NPM ?= npm
FRONTEND_DIR := frontend
FRONTEND_MODULES := $(FRONTEND_DIR)/node_modules/.package-lock.json
CHROMIUM ?= /usr/bin/chromium

.PHONY: frontend frontend-deps frontend-dev frontend-test frontend-browser-test chromium

# npm writes node_modules/.package-lock.json on every install: newer than the lockfile means
# node_modules is current, and `npm ci` (which starts from scratch) is skipped.
$(FRONTEND_MODULES): $(FRONTEND_DIR)/package-lock.json $(FRONTEND_DIR)/package.json
	cd $(FRONTEND_DIR) && $(NPM) ci --no-audit --no-fund
	touch $@

chromium: ## Install Debian's chromium for the browser tests (if missing)
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "chromium is missing: apt-get install chromium (as root)"; exit 1; fi; \
	  echo "+ apt-get install chromium"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
	  || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }; \
	fi

frontend-deps: chromium $(FRONTEND_MODULES) ## chromium and the web app's npm packages

frontend: $(FRONTEND_MODULES) ## Build the web app into frontend/dist
	cd $(FRONTEND_DIR) && $(NPM) run build

frontend-dev: $(FRONTEND_MODULES) ## Vite's dev server on :3000
	cd $(FRONTEND_DIR) && $(NPM) run dev

frontend-test: install $(FRONTEND_MODULES) ## Type check and Vitest component tests
	$(VENV)/bin/pytest tests/frontend $(PYTEST_ARGS)

frontend-browser-test: install frontend-deps ## The browser tests against the gateway on the local stack
	$(STACK) install
	$(STACK) up
	status=0; $(VENV)/bin/pytest tests/e2e $(PYTEST_ARGS) || status=$$?; $(STACK) down; exit $$status

test: frontend-deps
