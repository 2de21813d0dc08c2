# Two commands on a fresh machine: `make run` and `make test`. Each installs what it needs:
# `make run` only what running needs, `make test` the test tools on top.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.run-stamp
STAMP := $(VENV)/.installed-stamp
ARGS ?=
PYTEST_ARGS ?=

.PHONY: run test lint bench clean vendor frontend chromium-check example-config

# The dashboard's third-party files are committed under web/static/vendor/ (see its README.md),
# so neither running nor testing needs Node.js. `make vendor` refreshes them from the npm
# registry after a version change in package.json (maintainers only; needs npm).
NPM ?= npm
# The browser tests drive Debian's Chromium; ENSEMBLE_CHROMIUM points them at another binary.
CHROMIUM ?= $(or $(ENSEMBLE_CHROMIUM),/usr/bin/chromium)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUN_STAMP): setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(STAMP): setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(RUN_STAMP)

vendor:
	@command -v $(NPM) >/dev/null 2>&1 || { echo "npm is missing: refreshing the vendored" \
		"files needs Node.js and npm (Debian: apt-get install nodejs npm)." >&2; exit 1; }
	$(NPM) ci --no-audit --no-fund --loglevel=error
	$(NPM) run --silent vendor

# Kept for old instructions: the vendored files are in the repository, nothing to build.
frontend:
	@test -f web/static/vendor/lightweight-charts.mjs

chromium-check:
	@test -x "$(CHROMIUM)" || { \
		echo "NOTE: no Chromium at $(CHROMIUM), so the browser tests (tests/browser) will be SKIPPED."; \
		echo "      Install it with: apt-get install chromium   (Debian; as root, after apt-get update)"; \
		echo "      or set ENSEMBLE_CHROMIUM=/path/to/chromium."; }

run: $(RUN_STAMP)
	$(PY) run_system.py $(ARGS)

# The integration suite runs twice: once as on Linux, then with the portable mechanisms Windows
# uses forced (tests/integration/conftest.py). `make test PORTABLE_PASS=0` leaves the second out.
# The second pass runs beside the first, its report printed after the first's
# (tests/support/passes.py).
PORTABLE_PASS ?= 1

test: $(STAMP) chromium-check
	$(VENV)/bin/ruff check .
ifeq ($(PORTABLE_PASS),0)
	$(PY) -m pytest $(PYTEST_ARGS)
else
	$(PY) -m tests.support.passes $(PYTEST_ARGS)
endif

# ensemble.example.toml is generated from the settings models (a unit test checks it).
example-config: $(RUN_STAMP)
	$(PY) -m ensemble.example_config > ensemble.example.toml

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) -m bench.run_all

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis node_modules
