# The two commands: `make dev` runs the whole system locally, `make test` runs every check.
# Both install what they need into .venv (and the infra tool venvs) on first use.

# Tests run on the deployed runtime's Python (Terraform's `runtime = "python312"`; pyproject's
# requires-python, ruff's target-version and mypy's python_version name it too, and
# tests/infra/test_python_version.py checks they agree). PYTHON=... overrides the search.
PYTHON_VERSION := 3.12
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell sh tools/find_python.sh $(PYTHON_VERSION))
endif
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYVERSION = $(shell $(1) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
PYTHON_FOUND := $(call PYVERSION,$(PYTHON))
VENV_FOUND := $(call PYVERSION,$(PY))

ifneq ($(PYTHON_FOUND),$(PYTHON_VERSION))
$(warning ******** NOT THE DEPLOYED PYTHON: $(PYTHON) is Python $(or $(PYTHON_FOUND),?), the functions \
	run on $(PYTHON_VERSION); the venv and the tests use it anyway. Install Python $(PYTHON_VERSION) \
	(e.g. `pyenv install $(PYTHON_VERSION)`) or set PYTHON=/path/to/python$(PYTHON_VERSION). ********)
# pyproject's requires-python names the deployed version: let pip install on this one anyway
EDITABLE_FLAGS := --ignore-requires-python
endif

# A venv on another Python than $(PYTHON) (e.g. made before the switch to $(PYTHON_VERSION)) is made anew.
ifneq ($(VENV_FOUND),$(PYTHON_FOUND))
$(STAMP): venv-python-changed
.PHONY: venv-python-changed
venv-python-changed: ;
endif

.DEFAULT_GOAL := help
.PHONY: help venv dev test test-python lint typecheck unit integration e2e bench load smoke \
	clean browser-deps

help:
	@echo "make dev    - run Firestore emulator, Cloud Tasks emulator, Mercado Pago simulator"
	@echo "              and the four functions locally, with a walk-through"
	@echo "make test   - lint, type check, unit/integration/e2e tests, offline infra checks"
	@echo "make bench  - cold start and webhook throughput benchmark"
	@echo "make load   - buyers against the whole local stack (LOAD_ARGS=\"--total 1000 --concurrency 20\";"
	@echo "              faults: --mp-faults --drop-notifications --kill N)"

$(STAMP): requirements.in requirements.txt requirements-dev.txt
	@if [ -x $(PY) ] && [ "$(VENV_FOUND)" != "$(PYTHON_FOUND)" ]; then \
		echo "$(VENV) is Python $(or $(VENV_FOUND),?), not $(PYTHON_FOUND) ($(PYTHON)): making it anew"; \
		rm -rf $(VENV); \
	fi
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps $(EDITABLE_FLAGS) -e . \
		--config-settings editable_mode=compat
	touch $@

venv: $(STAMP)

dev: $(STAMP)
	$(PY) -m local.dev

smoke: $(STAMP)
	$(PY) -m local.dev --smoke

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-logo

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# The use cases on in-memory fakes, no service: the plugins only the fuzz tests use stay off.
unit: $(STAMP)
	$(PY) -m pytest -p no:schemathesis -p no:anyio -p no:hypothesispytest tests/unit -q

# The browser tests drive Debian's Chromium (never `playwright install`: its CDN is
# unreachable). Installed here when missing and running as root; otherwise make fails naming
# the packages: the browser tests are never skipped.
CHROMIUM ?= /usr/bin/chromium
BROWSER_PACKAGES := chromium fonts-liberation

browser-deps:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing $(BROWSER_PACKAGES) for the browser tests"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $(BROWSER_PACKAGES) \
			&& test -x "$(CHROMIUM)" || { echo "no Chromium at $(CHROMIUM)" >&2; exit 1; }; \
	else \
		echo "The browser tests need Chromium at $(CHROMIUM). Install the Debian packages:" >&2; \
		echo "  sudo apt-get update && sudo apt-get install -y $(BROWSER_PACKAGES)" >&2; \
		echo "(or set CHROMIUM=/path/to/chromium)" >&2; \
		exit 1; \
	fi

test-python: $(STAMP) browser-deps
	CHROMIUM_PATH=$(CHROMIUM) $(PY) -m pytest tests --ignore=tests/infra -q -ra

test: lint typecheck test-python test-infra

bench: $(STAMP)
	$(PY) -m bench.run

LOAD_ARGS ?=
load: $(STAMP)
	$(PY) -m bench.load $(LOAD_ARGS)

clean:
	rm -rf $(VENV) .venv-* .pytest_cache .mypy_cache .ruff_cache .import_linter_cache build .local-run

-include mk/*.mk
