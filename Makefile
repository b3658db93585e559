# Two entry points for a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.instrec-installed
DEMO_DIR ?= demo

.PHONY: setup system-deps demo test test-fast clean-demo serve stop

setup: system-deps $(STAMP)

system-deps:
	@bash scripts/install-system-deps.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

demo: setup
	$(BIN)/instrec demo --out $(DEMO_DIR)

test: setup
	@bash scripts/install-system-deps.sh --test
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

serve: setup
	@bash scripts/serve.sh

stop:
	@bash scripts/stop.sh

clean-demo:
	rm -rf $(DEMO_DIR)
