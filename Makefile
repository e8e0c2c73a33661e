# Two commands set everything up: `make demo` and `make test`. Each creates .venv when missing.
# The repository root, wherever make runs (`sam build` runs the build-* targets from its own working directory).
ROOT := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck templates unit bench clean lambda-package \
	build-OrchestratorFunction build-WorkerFunction build-ReportFunction

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
	$(BIN)/cfn-lint template.yaml infra/*.yaml
	$(BIN)/python scripts/check_policies.py template.yaml infra/*.yaml

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
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .aws-sam

# The Lambda functions' package. template.yaml gives each function `BuildMethod: makefile`, so `sam build` runs
# build-<LogicalId> with ARTIFACTS_DIR set to that function's artefact; it holds the `scheduler` package (without
# the CLI and the demo, which the functions never import) and requirements.txt installed as wheels for the Lambda
# runtime (python3.12 on arm64, from PyPI): nothing else of the repository. tests/integration/test_lambda_build.py
# runs this build the way `sam build` does and imports the handlers from the artefact in a clean interpreter.
LAMBDA_PYTHON_VERSION ?= 3.12
LAMBDA_PLATFORM ?= manylinux2014_aarch64
LAMBDA_PIP ?= $(PYTHON) -m pip

build-OrchestratorFunction build-WorkerFunction build-ReportFunction:
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 2; }
	mkdir -p "$(ARTIFACTS_DIR)"
	rm -rf "$(ARTIFACTS_DIR)/scheduler"
	cp -R "$(ROOT)scheduler" "$(ARTIFACTS_DIR)/scheduler"
	rm -rf "$(ARTIFACTS_DIR)/scheduler/cli" "$(ARTIFACTS_DIR)/scheduler/demo"
	find "$(ARTIFACTS_DIR)/scheduler" -name __pycache__ -prune -exec rm -rf {} +
	$(LAMBDA_PIP) install --quiet --disable-pip-version-check --upgrade --target "$(ARTIFACTS_DIR)" \
		--platform $(LAMBDA_PLATFORM) --implementation cp --python-version $(LAMBDA_PYTHON_VERSION) \
		--only-binary=:all: --requirement "$(ROOT)requirements.txt"

# The same package without sam: .aws-sam/lambda (e.g. to inspect it, or zip it yourself).
lambda-package:
	$(MAKE) --no-print-directory -f "$(ROOT)Makefile" build-WorkerFunction ARTIFACTS_DIR="$(ROOT).aws-sam/lambda"
