# The one source of truth for setting up, demonstrating, testing and benchmarking fedrender.
# Needs only Python 3.11+ and git; everything else is installed into .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_OUT ?= out/demo
DEMO_INPUTS := --specs examples/specs --clusters examples/clusters/clusters.yaml --overlay overlays/dev

.PHONY: demo test lint unit bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "fedrender needs Python 3.11+")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,lint]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fedrender render $(DEMO_INPUTS) --out $(DEMO_OUT)
	$(BIN)/fedrender explain $(DEMO_INPUTS)
	@echo; echo "Files in $(DEMO_OUT):"; cd $(DEMO_OUT) && find . -type f | sort

test: lint unit

unit: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check fedrender reconciler tests bench
	$(BIN)/mypy fedrender reconciler
	$(BIN)/lint-imports
	$(BIN)/fedrender rules check
	$(BIN)/fedrender rules test

bench: $(STAMP)
	$(BIN)/python bench/bench_render.py
	$(BIN)/python bench/bench_nodeports.py

clean:
	rm -rf $(VENV) out build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
