# Berth: the two commands in the README are `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
SANITY := bash scripts/sanity.sh

.PHONY: setup demo test unit functional integration sanity bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(VENV)/bin/ansible-playbook -i playbooks/inventory.ini playbooks/demo.yml

# Sanity runs even when pytest failed; the target fails if either did.
test: setup
	rc=0; $(PYTEST) -q -p no:cacheprovider tests/unit tests/functional tests/integration || rc=$$?; \
	$(SANITY) || rc=$$((rc ? rc : 1)); exit $$rc

sanity: setup
	bash scripts/sanity.sh

unit: setup
	$(PYTEST) -q tests/unit

functional: setup
	$(PYTEST) -q tests/functional

integration: setup
	$(PYTEST) -q tests/integration

bench: setup
	$(PY) bench/pull.py

clean:
	rm -rf $(VENV) tests/output
