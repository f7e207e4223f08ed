# Every target bootstraps .venv on a fresh machine that has only python3, pip and make.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONTRIB := $(sort $(dir $(wildcard contrib/*/pyproject.toml)))
STAMP := $(VENV)/.installed

.PHONY: install dist conformance test reliability lint typecheck mutation bench bench-startup backends-up backends-down provision clean docs
.PHONY: demo-bindings
.PHONY: demo-pubsub

$(STAMP): pyproject.toml interfaces/pyproject.toml conformance/pyproject.toml $(wildcard contrib/*/pyproject.toml)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e interfaces -e conformance $(addprefix -e ,$(CONTRIB)) --group dev
	touch $(STAMP)

install: $(STAMP)

# The documentation tools (MkDocs, Material, mkdocstrings, matplotlib, selenium): `make docs` and `make test`.
DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install -q --group docs
	touch $(DOCS_STAMP)

## The documentation site into site/ (warnings are errors); pages generated from the installed components,
## reports/report.json (make conformance) and bench/results/*.json.
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# Provisioning: on a machine that can (root on Debian) the README's commands install the backend
# servers they miss, and a backend that still cannot be had is a failure, not a skip.
# Elsewhere they run what the machine has and say, per backend, what is missing and how to enable it.
#   PROVISION=0          never install anything (default: 1 when root on Debian, else 0)
#   REQUIRE_BACKENDS=0|1 a missing backend fails the run (default: same as PROVISION)
#   EMBEDDED=1           `make conformance` runs only the cases that need no backend
CAN_PROVISION := $(shell [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && echo 1 || echo 0)
PROVISION ?= $(CAN_PROVISION)
REQUIRE_BACKENDS ?= $(PROVISION)
EMBEDDED ?= 0
NO_PROVISION_NOTE := not provisioning (needs root on Debian): real-backend tests this machine lacks are not run; enable them with: sudo make provision

## Publishable files: sdist + wheel (built from the sdist) of every distribution into dist/, twine-checked.
dist: $(STAMP)
	$(BIN)/python scripts/dist.py

## The main job: the conformance matrix on every component whose backend is available.
conformance: $(STAMP)
ifeq ($(EMBEDDED),1)
	$(BIN)/blockyard conformance run --report-dir reports $$($(BIN)/blockyard conformance list --embedded --ids)
else
	@if [ "$(PROVISION)" = 1 ]; then $(BIN)/blockyard backends install; else echo "$(NO_PROVISION_NOTE)"; fi
	BLOCKYARD_REQUIRE_BACKENDS=$(REQUIRE_BACKENDS) $(BIN)/blockyard conformance run --report-dir reports
endif

## The test-suite: core, embedded components, the kit's self-tests and every real-backend case.
test: $(STAMP) $(DOCS_STAMP)
	@if [ "$(PROVISION)" = 1 ]; then $(BIN)/blockyard backends install; else echo "$(NO_PROVISION_NOTE)"; fi
	BLOCKYARD_REQUIRE_BACKENDS=$(REQUIRE_BACKENDS) $(BIN)/python -m pytest --durations=30

## Full-size reliability scenarios (faults, SIGKILL, exact accounting of MESSAGES per scenario) on every
## case whose backend is available; reports/reliability/ has the reliability table. `make test` runs them small.
MESSAGES ?= 10000
RELIABILITY_TESTS := network_cut or latency_and_stalls or backend_kill or backend_restart or accounting or byte_exact or lose_no_update or hostile_keys or isolated_from_concurrent or no_leaks_after
RELIABILITY_TESTS += or no_delivery_after or in_flight_bound or poison_message or killed_subscriber
reliability: $(STAMP)
	@if [ "$(PROVISION)" = 1 ]; then $(BIN)/blockyard backends install; else echo "$(NO_PROVISION_NOTE)"; fi
	BLOCKYARD_RELIABILITY_MESSAGES=$(MESSAGES) PYTEST_ADDOPTS="--timeout=1800" BLOCKYARD_REQUIRE_BACKENDS=$(REQUIRE_BACKENDS) \
		$(BIN)/blockyard conformance run --report-dir reports/reliability -k "$(RELIABILITY_TESTS)"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## mypy --strict over the sources and the tests, then each test folder's conftest.py on its own (they share a module name).
CONFTESTS = $(sort $(wildcard tests/conftest.py tests/*/conftest.py contrib/*/tests/conftest.py))
typecheck: $(STAMP)
	$(BIN)/mypy
	for conftest in $(CONFTESTS); do $(BIN)/mypy $$conftest || exit 1; done

## Mutation testing of the reference components (contrib/local) with only the kit as tests; not part of CI.
## MODULES=state_memory limits it; prints the kill rate and the survivors, writes reports/mutation.json.
mutation: $(STAMP)
	$(BIN)/python -m pip install -q --group mutation
	$(BIN)/python scripts/mutation.py $(MODULES)

## Install the real backends natively (Debian packages as root, PyPI, npm, Maven Central).
provision: $(STAMP)
	$(BIN)/blockyard backends install

backends-up: provision
	$(BIN)/blockyard backends up

backends-down: $(STAMP)
	$(BIN)/blockyard backends down

## The Dapr demos (after make provision): Blockyard components served to daprd, apps in Python and Node.js.
demo-bindings: $(STAMP)
	$(BIN)/python examples/dapr/bindings/demo.py

demo-pubsub: $(STAMP)
	$(BIN)/python examples/dapr/pubsub/demo.py

bench-startup: $(STAMP)
	$(BIN)/python bench/startup.py

## Benchmarks: each prints its ratio against the raw client, measured side by side in one run.
bench: $(STAMP)
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/local_bench.py
	$(BIN)/python bench/redis_bench.py
	$(BIN)/python bench/resiliency_bench.py
	$(BIN)/python bench/rabbitmq_bench.py
	$(BIN)/python bench/kafka_bench.py
	$(BIN)/python bench/cassandra_bench.py
	$(BIN)/python bench/aws_bench.py
	$(BIN)/python bench/cosmos_bench.py
	$(BIN)/python bench/dapr_bench.py

clean:
	rm -rf $(VENV) dist reports site .pytest_cache .mypy_cache .ruff_cache

## Demo: a Dapr actor (proxy and plain HTTP) keeping its state in Blockyard's state.redis through daprd.
.PHONY: demo-actors
demo-actors: $(STAMP)
	$(BIN)/python examples/dapr/actors/run.py
