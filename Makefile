# mlworkflow — `make help` lists the verbs. Each verb creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PARAMS ?= params/default.yaml
SANITIZE := tests/nbval_sanitize.cfg
export OMP_NUM_THREADS ?= 1  # the CLI caps its kernels and workers itself; this caps pytest, which calls lib directly

.DEFAULT_GOAL := help
.PHONY: help run smoke test lint unit nbval lab check notebooks bench clean

help: ## list the verbs
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(STAMP) ## run the whole workflow on the default data (PARAMS=… for another file)
	$(BIN)/mlworkflow run $(PARAMS)

smoke: $(STAMP) ## run the whole workflow on a 2,000-row sample (fast)
	$(BIN)/mlworkflow run params/smoke.yaml

check: $(STAMP) ## validate a params file (PARAMS=…) without running anything
	$(BIN)/mlworkflow check $(PARAMS)

test: lint unit nbval ## lint, type-check, unit + end-to-end tests, nbval over the notebooks

lint: $(STAMP) ## ruff and mypy over lib/ (and ruff over tests/), the import layers (lint-imports)
	$(BIN)/ruff check lib tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: $(STAMP) ## unit, contract and end-to-end tests
	$(BIN)/pytest -n 2 --dist loadfile tests

nbval: $(STAMP) ## re-execute the committed notebooks and compare their outputs
	$(BIN)/pytest --nbval notebooks --nbval-sanitize-with $(SANITIZE) -p no:cacheprovider -p no:xdist

notebooks: $(STAMP) ## re-execute the committed notebooks in place with their defaults (after a stage change)
	$(BIN)/python -m mlworkflow.workflow.refresh refresh notebooks

lab: $(STAMP) ## open the notebooks in JupyterLab with the project's kernel (no news pop-up: jupyter/labconfig)
	JUPYTER_CONFIG_PATH=$(CURDIR)/jupyter$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH)) \
	  $(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

bench: $(STAMP) ## run the benchmarks (needs ../shared/data)
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean: ## remove generated runs and reports (keeps .venv)
	rm -rf runs reports/*/
