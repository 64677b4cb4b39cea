# The one source of truth for setting up, demonstrating, testing and benchmarking fedrender.
# Needs only Python 3.11+ and git; everything else is installed into .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_OUT ?= out/demo
IMAGE_REGISTRY ?= ghcr.io/fedrender
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
DEMO_INPUTS := --specs examples/specs --clusters examples/clusters/clusters.yaml --overlay overlays/dev

.PHONY: demo test lint unit wheel image bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "fedrender needs Python 3.11+")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,lint]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fedrender render $(DEMO_INPUTS) --out $(DEMO_OUT)
	$(BIN)/fedrender explain $(DEMO_INPUTS)
	@echo; echo "Files in $(DEMO_OUT):"; cd $(DEMO_OUT) && find . -type f | sort

test: lint unit wheel

unit: $(STAMP)
	$(BIN)/python -m pytest

# Build the sdist and the wheel into dist/, install the wheel into a fresh venv, run it from outside the clone.
wheel: $(STAMP)
	$(BIN)/python tests/wheel_check.py --dist dist

# The reconciler image and the Argo CD plugin sidecar image (images/*.Dockerfile); needs a running docker.
image:
	@docker info >/dev/null 2>&1 || { echo "make image: no container builder: docker is not installed or its daemon is not running" >&2; exit 1; }
	docker build -f images/reconciler.Dockerfile -t $(IMAGE_REGISTRY)/fedrender-reconciler:$(VERSION) .
	docker build -f images/cmp.Dockerfile -t $(IMAGE_REGISTRY)/fedrender-cmp:$(VERSION) .

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
	rm -rf $(VENV) out build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis .import_linter_cache
