# One entry point for everything: `make run` and `make test` do all set-up on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SERVICES := intake risk referral marac repairs reporting
CONTRACTS := libs/contracts/src
PROTOS := $(shell find proto -name '*.proto' | sort)

.PHONY: install proto proto-baseline run test test-unit token lint system-deps lock lock-deploy deploy-tools asyncapi bench clean

# The virtualenv, pinned dependencies and the project's own source folders on its path.
$(VENV)/.installed: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.3
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -c "import site, pathlib; pathlib.Path(site.getsitepackages()[0], 'casework.pth').write_text('\n'.join(str(pathlib.Path(p).resolve()) for p in ['$(CONTRACTS)', 'libs/platform/src'] + ['services/' + s + '/src' for s in '$(SERVICES)'.split()]) + '\n')"
	touch $@

install: $(VENV)/.installed proto $(VENV)/bin/casectl

# `casectl` (the reporting command line) on the venv's PATH: .venv/bin/casectl.
$(VENV)/bin/casectl: $(VENV)/.installed
	printf '#!/bin/sh\nexec "$$(dirname "$$0")/python" -m reporting.cli "$$@"\n' > $@
	chmod +x $@

# Generated code lives in libs/contracts (never hand-edited, never committed).
$(CONTRACTS)/.generated: $(VENV)/.installed $(PROTOS)
	rm -rf $(CONTRACTS) && mkdir -p $(CONTRACTS)
	$(PY) -m grpc_tools.protoc -Iproto --python_out=$(CONTRACTS) --pyi_out=$(CONTRACTS) --grpc_python_out=$(CONTRACTS) --descriptor_set_out=$(CONTRACTS)/casework.binpb --include_imports $(PROTOS)
	touch $@

proto: $(CONTRACTS)/.generated

# Record proto/'s current shape as the compatibility baseline (tests/contract/test_compatibility.py),
# after a reviewed change: additions only, or a breaking change made in a new v2 package.
proto-baseline: proto
	$(PY) -m caseplatform.contract_shape --write

# Re-pin: a throwaway virtualenv from requirements.in, every package frozen with ==.
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/pip install --quiet -r requirements.in
	{ echo "# Generated from requirements.in by 'make lock' — every package pinned, transitive ones included."; .lockvenv/bin/pip freeze; } > requirements.lock
	rm -rf .lockvenv

lock-deploy:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/pip install --quiet -r tests/deploy/requirements.in
	{ echo "# Generated from tests/deploy/requirements.in (make lock-deploy) — every package pinned."; .lockvenv/bin/pip freeze; } > tests/deploy/requirements.lock
	rm -rf .lockvenv

# The AsyncAPI document for outside subscribers (a test checks it is up to date).
asyncapi: install proto
	$(PY) -m caseplatform.asyncapi > docs/asyncapi.json

# The whole system in the foreground: broker, topics, six services; Ctrl-C stops it. Data stays in var/.
run: install proto
	$(PY) -m caseplatform.devstack

# The deployment checks' tools (Helm SDK, kubernetes-validate, checkov) in a virtualenv of their own:
# checkov's pins would clash with the services' requirements.lock.
DEPLOY_VENV := .venv-deploy
$(DEPLOY_VENV)/.installed: tests/deploy/requirements.lock
	$(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/python -m pip install --quiet --upgrade pip==25.3
	$(DEPLOY_VENV)/bin/python -m pip install --quiet -r tests/deploy/requirements.lock
	touch $@

deploy-tools: $(DEPLOY_VENV)/.installed

# Every test, including the system layer (real broker and service processes), each system test on
# SQLite and on PostgreSQL (the configured server, else 127.0.0.1:5432, else a throwaway cluster
# from the machine's binaries; see caseplatform.devstack.postgres), and the chart/image checks.
test: install proto system-deps deploy-tools
	$(PY) -m ruff check libs services tests benches
	@$(PY) -m caseplatform.devstack.postgres || echo "PostgreSQL pass will not run (CI=true makes that a failure)"
	$(PY) -m pytest

# The fast layer only: no broker, no service processes.
test-unit: install proto
	$(PY) -m pytest -m "not system"

# A token from the local dev issuer of `make run` (see README: dev identities).
token: install
	@$(PY) -m caseplatform.auth --agency "$(AGENCY)" --role "$(ROLE)" --user "$(USER)"

lint: install
	$(PY) -m ruff check libs services tests benches

# Debian packages some tests need (kcat, ...); reports what is missing when it cannot install.
system-deps:
	bash scripts/install-system-deps.sh

# Benchmarks (docs/performance.md): a table of figures and ratios, JSON under var/bench/.
# BENCH_SCALE=0.1 make bench for a shorter run; BENCH_ARGS=--quick for a smoke run.
bench: install proto
	$(PY) -m benches $(BENCH_ARGS)

# `clean` deletes data: var/ holds every service's event store, as well as the venv and generated code.
clean:
	rm -rf $(VENV) $(DEPLOY_VENV) $(CONTRACTS) var
