# Two entry points for a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.instrec-installed
DEMO_DIR ?= demo

.PHONY: setup system-deps musicnn-weights demo model test test-fast clean-demo serve stop

setup: system-deps $(STAMP) musicnn-weights

system-deps:
	@bash scripts/install-system-deps.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

# The musicnn checkpoints (features/MUSICNN.md), from the musicnn 0.1.0 wheel on the package index,
# into $$INSTREC_MUSICNN_DIR or .venv/share/instrec/musicnn; checked and skipped when already there.
# Without the index the setup goes on: the musicnn feature set and its tests wait for this target.
musicnn-weights: $(STAMP)
	@$(BIN)/instrec fetch-musicnn || echo "instrec: warning: musicnn weights not fetched (is the package index reachable?); --features musicnn and its tests are unavailable until \`make musicnn-weights\` succeeds" >&2

demo: setup
	$(BIN)/instrec demo --out $(DEMO_DIR)

# The shipped model: the recipe in models/recipes/gm-families.json (corpora -> stem stores -> remix
# training -> held-out-timbre reports), written to models/gm-families/ with its card. MODEL_DEVICE=cuda on a GPU.
MODEL_DIR ?= build/model
MODEL_DEVICE ?= auto
model: setup
	$(BIN)/instrec recipe --config models/recipes/gm-families.json --out $(MODEL_DIR) --device $(MODEL_DEVICE) \
		--export models/gm-families --name gm-families

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
