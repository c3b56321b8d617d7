# hookgate developer entry points. Everything installs into .venv; Kafka runs from deploy/kafka-local.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
KAFKA := deploy/kafka-local/kafka.sh
PY_PATHS := $(wildcard services tests bench examples deploy/monitoring)

.PHONY: help install dev dev-down test test-unit test-integration test-e2e lint fmt kafka-up kafka-down bench clean dashboards chart openapi

help:
	@echo "make dev        install, start Kafka, gateway, consumer and example receiver (Ctrl-C stops them)"
	@echo "make test       install what tests need and run unit, integration and e2e tests"
	@echo "make lint       ruff (lint + format check) and mypy --strict on services/"
	@echo "make bench      gateway and consumer benchmarks against a bare-server baseline"
	@echo "make dashboards regenerate the Grafana dashboards (deploy/monitoring) and the chart's copies"
	@echo "make chart      regenerate the chart's values.schema.json and values table (after config model changes)"
	@echo "make openapi    regenerate docs/admin-openapi.json (after changing the admin API)"
	@echo "make kafka-up / kafka-down   the local single-node broker (KAFKA_PORT, default 9092)"

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "python3 (>= 3.11) is required"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "python >= 3.11 is required"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

kafka-up:
	@$(KAFKA) up

kafka-down:
	@$(KAFKA) down

dev: install kafka-up
	@bash examples/dev.sh

dev-down:
	@for s in consumer gateway receiver; do \
	  if [ -f .run/$$s.pid ]; then kill $$(cat .run/$$s.pid) 2>/dev/null || true; rm -f .run/$$s.pid; echo "dev: stopped $$s"; fi; \
	done
	@$(KAFKA) down

# Tests run on TEST_WORKERS pytest-xdist processes (0: in this one), which share one broker and keep each
# module on one worker (tests/conftest.py). The tests mostly wait on Kafka and subprocesses: two workers
# take the wall time down by about 40 % even on two cores.
TEST_WORKERS ?= 2
PARALLEL := -n $(TEST_WORKERS) --dist loadfile

test: install
	$(PY) -m pytest tests $(PARALLEL)

test-unit: install
	$(PY) -m pytest tests/unit

test-integration: install
	$(PY) -m pytest tests/integration $(PARALLEL)

test-e2e: install
	$(PY) -m pytest tests/e2e $(PARALLEL)

lint: install
	$(VENV)/bin/ruff check $(PY_PATHS)
	$(VENV)/bin/ruff format --check $(PY_PATHS)
	@# mypy cannot follow setuptools' editable finder (package-dir maps services/ to hookgate), so it reads the
	@# package through a link made here, outside the repo's tracked files.
	@mkdir -p $(VENV)/mypy && ln -sfn "$(CURDIR)/services" $(VENV)/mypy/hookgate
	MYPYPATH=$(VENV)/mypy $(VENV)/bin/mypy -p hookgate
	$(VENV)/bin/mypy deploy/monitoring/build.py

fmt: install
	$(VENV)/bin/ruff format $(PY_PATHS)
	$(VENV)/bin/ruff check --fix $(PY_PATHS)

bench: install
	@bash bench/run.sh

# Grafana dashboards from deploy/monitoring/build.py, and the chart's copies of them and of alerts.yaml.
dashboards: install
	$(PY) deploy/monitoring/build.py

# The chart's values.schema.json and README values table, from values.yaml and the services' config models:
# run after changing either (tests/deploy fails while they are out of date).
chart: install
	$(PY) deploy/tools/chart_gen.py

# The admin API's OpenAPI document, checked in (tests/unit/test_admin_openapi.py fails while it is out of date).
openapi: install
	$(PY) -m hookgate.admin.openapi docs/admin-openapi.json

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist *.egg-info
