# Two commands set everything up: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck templates unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the project's metadata changes, not on every run.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/isched demo

lint: $(STAMP)
	$(BIN)/ruff check scheduler tests benchmarks scripts
	$(BIN)/ruff format --check scheduler tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy scheduler benchmarks scripts

# cfn-lint for CloudFormation validity, then our own least-privilege rules (no wildcard actions; start/stop/modify
# only on resources carrying the schedule tag).
templates: $(STAMP)
	$(BIN)/cfn-lint template.yaml infra/spoke.yaml
	$(BIN)/python scripts/check_policies.py template.yaml infra/spoke.yaml

# pytest exits 5 when it collected nothing: that is a broken suite, not a pass.
unit: $(STAMP)
	$(BIN)/python -m pytest -n auto -p no:cacheprovider; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

test: lint typecheck templates unit

bench: $(STAMP)
	$(BIN)/python benchmarks/engine.py
	$(BIN)/python benchmarks/pass.py
	$(BIN)/python benchmarks/cost.py
	$(BIN)/python benchmarks/demo.py
	$(BIN)/python benchmarks/latency.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
