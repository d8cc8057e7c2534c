# Deployment part: packaging and the offline infrastructure checks.
# Included by the Makefile (`make test` depends on test-infra); also runs on its own:
#   make -f mk/infra.mk test-infra
# Each tool lives in its own venv, made on first use (stamp files make it idempotent):
#   .venv-tfschema  the google 6.50.0 and time 0.13.1 provider schemas (cdktf-cdktf-provider-google,
#                   cdktf-cdktf-provider-time) + python-hcl2 + PyYAML
#   .venv-checkov   checkov (its forked hcl2 clashes with python-hcl2)

# The tool venvs use the Makefile's PYTHON (the deployed runtime's version) when included by it.
INFRA_PYTHON ?= $(or $(PYTHON),python3)
INFRA_PY ?= .venv/bin/python
TERRAFORM ?= terraform

TFSCHEMA_VENV := .venv-tfschema
TFSCHEMA_REQS := cdktf-cdktf-provider-google==16.12.1 cdktf-cdktf-provider-time==11.0.1 python-hcl2==8.1.4 PyYAML==6.0.3
TFSCHEMA_STAMP := $(TFSCHEMA_VENV)/.installed-cdktf16.12.1-time11.0.1-hcl8.1.4-yaml6.0.3

CHECKOV_VENV := .venv-checkov
CHECKOV_REQS := checkov==3.3.30
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-checkov3.3.30

PIP_QUIET := --quiet --disable-pip-version-check

# When included by the Makefile, pytest comes from its .venv stamp target.
INFRA_PY_STAMP := $(if $(STAMP),$(STAMP),)

.PHONY: infra-tools package tfschema-check checkov cloudbuild-check terraform-fmt test-infra

$(TFSCHEMA_STAMP):
	test -x $(TFSCHEMA_VENV)/bin/python || $(INFRA_PYTHON) -m venv $(TFSCHEMA_VENV)
	$(TFSCHEMA_VENV)/bin/python -m pip install $(PIP_QUIET) $(TFSCHEMA_REQS)
	touch $@

$(CHECKOV_STAMP):
	test -x $(CHECKOV_VENV)/bin/python || $(INFRA_PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install $(PIP_QUIET) $(CHECKOV_REQS)
	touch $@

infra-tools: $(TFSCHEMA_STAMP) $(CHECKOV_STAMP)

# Deterministic deploy zips + build/packages/packages.tfvars.json (for terraform -var-file).
package:
	$(INFRA_PYTHON) tools/build_package.py --out build/packages

tfschema-check: $(TFSCHEMA_STAMP)
	$(TFSCHEMA_VENV)/bin/python tools/tfschema_check.py infra/terraform

checkov: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov -d infra/terraform --framework terraform --skip-download --compact --quiet

cloudbuild-check: $(TFSCHEMA_STAMP)
	$(TFSCHEMA_VENV)/bin/python tools/cloudbuild_check.py cloudbuild.yaml cloudbuild-pr.yaml

terraform-fmt:
	$(TERRAFORM) fmt -check -recursive infra/terraform

# All offline deployment checks, as pytest tests (tests/infra): terraform fmt, the schema
# check on the real tree and on fixtures that must fail, checkov, cloudbuild.yaml, and the
# deploy zips served by functions-framework from a clean venv.
test-infra: $(INFRA_PY_STAMP) $(TFSCHEMA_STAMP) $(CHECKOV_STAMP)
	TFSCHEMA_PYTHON=$(TFSCHEMA_VENV)/bin/python CHECKOV_BIN=$(CHECKOV_VENV)/bin/checkov \
		$(INFRA_PY) -m pytest tests/infra -q -ra -p no:cacheprovider
