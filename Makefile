# The two commands: `make dev` runs the whole system locally, `make test` runs every check.
# Both install what they need into .venv (and the infra tool venvs) on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv dev test test-python lint typecheck unit integration e2e bench smoke clean

help:
	@echo "make dev    - run Firestore emulator, Cloud Tasks emulator, Mercado Pago simulator"
	@echo "              and the three functions locally, with a walk-through"
	@echo "make test   - lint, type check, unit/integration/e2e tests, offline infra checks"
	@echo "make bench  - cold start and webhook throughput benchmark"

$(STAMP): requirements.in requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e . --config-settings editable_mode=compat
	touch $@

venv: $(STAMP)

dev: $(STAMP)
	$(PY) -m local.dev

smoke: $(STAMP)
	$(PY) -m local.dev --smoke

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest tests/unit -q

test-python: $(STAMP)
	$(PY) -m pytest tests --ignore=tests/infra -q -ra

test: lint typecheck test-python test-infra

bench: $(STAMP)
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) .venv-* .pytest_cache .mypy_cache .ruff_cache build .local-run

-include mk/*.mk
