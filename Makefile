# One entry point for everything: `make run` and `make test` do all set-up on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SERVICES := intake risk referral marac repairs reporting
CONTRACTS := libs/contracts/src
PROTOS := $(shell find proto -name '*.proto' | sort)

.PHONY: install proto run test test-unit token lint system-deps lock asyncapi clean

# The virtualenv, pinned dependencies and the project's own source folders on its path.
$(VENV)/.installed: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.3
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -c "import site, pathlib; pathlib.Path(site.getsitepackages()[0], 'casework.pth').write_text('\n'.join(str(pathlib.Path(p).resolve()) for p in ['$(CONTRACTS)', 'libs/platform/src'] + ['services/' + s + '/src' for s in '$(SERVICES)'.split()]) + '\n')"
	touch $@

install: $(VENV)/.installed proto

# Generated code lives in libs/contracts (never hand-edited, never committed).
$(CONTRACTS)/.generated: $(VENV)/.installed $(PROTOS)
	rm -rf $(CONTRACTS) && mkdir -p $(CONTRACTS)
	$(PY) -m grpc_tools.protoc -Iproto --python_out=$(CONTRACTS) --pyi_out=$(CONTRACTS) --grpc_python_out=$(CONTRACTS) --descriptor_set_out=$(CONTRACTS)/casework.binpb --include_imports $(PROTOS)
	touch $@

proto: $(CONTRACTS)/.generated

# Re-pin: a throwaway virtualenv from requirements.in, every package frozen with ==.
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/pip install --quiet -r requirements.in
	{ echo "# Generated from requirements.in by 'make lock' — every package pinned, transitive ones included."; .lockvenv/bin/pip freeze; } > requirements.lock
	rm -rf .lockvenv

# The AsyncAPI document for outside subscribers (a test checks it is up to date).
asyncapi: install proto
	$(PY) -m caseplatform.asyncapi > docs/asyncapi.json

# The whole system in the foreground: broker, topics, six services; Ctrl-C stops it. Data stays in var/.
run: install proto
	$(PY) -m caseplatform.devstack

# Every test, including the system layer (real broker and service processes).
test: install proto system-deps
	$(PY) -m ruff check libs services tests
	$(PY) -m pytest

# The fast layer only: no broker, no service processes.
test-unit: install proto
	$(PY) -m pytest -m "not system"

# A token from the local dev issuer of `make run` (see README: dev identities).
token: install
	@$(PY) -m caseplatform.auth --agency "$(AGENCY)" --role "$(ROLE)" --user "$(USER)"

lint: install
	$(PY) -m ruff check libs services tests

# Debian packages some tests need (kcat, ...); reports what is missing when it cannot install.
system-deps:
	bash scripts/install-system-deps.sh

# `clean` deletes data: var/ holds every service's event store, as well as the venv and generated code.
clean:
	rm -rf $(VENV) $(CONTRACTS) var
