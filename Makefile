# Two commands on a fresh machine: `make run` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
ARGS ?=
PYTEST_ARGS ?=

.PHONY: run test lint bench clean frontend chromium-check

# The dashboard's third-party files come from the npm registry (package.json + lockfile) and are
# copied into web/static/vendor/ (git-ignored) by `npm run vendor`.
NPM ?= npm
VENDOR_STAMP := web/static/vendor/.installed-stamp
# The browser tests drive Debian's Chromium; ENSEMBLE_CHROMIUM points them at another binary.
CHROMIUM ?= $(or $(ENSEMBLE_CHROMIUM),/usr/bin/chromium)

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(VENDOR_STAMP): package.json package-lock.json
	@command -v $(NPM) >/dev/null 2>&1 || { echo "npm is missing: the dashboard needs Node.js and npm" \
		"(Debian: apt-get install nodejs npm)." >&2; exit 1; }
	$(NPM) ci --no-audit --no-fund --loglevel=error
	$(NPM) run --silent vendor
	touch $@

frontend: $(VENDOR_STAMP)

chromium-check:
	@test -x "$(CHROMIUM)" || { \
		echo "NOTE: no Chromium at $(CHROMIUM), so the browser tests (tests/browser) will be SKIPPED."; \
		echo "      Install it with: apt-get install chromium   (Debian; as root, after apt-get update)"; \
		echo "      or set ENSEMBLE_CHROMIUM=/path/to/chromium."; }

run: $(STAMP) $(VENDOR_STAMP)
	$(PY) run_system.py $(ARGS)

test: $(STAMP) $(VENDOR_STAMP) chromium-check
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) -m bench.run_all

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis node_modules web/static/vendor
