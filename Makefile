# s3plan: `make install`, `make demo` and `make test` work on a machine with only python3 and make.
PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
RUNTIME := $(VENV)/.installed
STAMP   := $(VENV)/.installed-dev
DEMO    := demo

.PHONY: install demo test lint typecheck bench golden docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# runtime dependencies only: what `s3plan` needs to run (.venv/bin/s3plan)
$(RUNTIME): pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME)

# the developer tools on top (tests, linters, moto, parliament)
$(STAMP): pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $(RUNTIME)

install: $(RUNTIME)
	@echo "Installed: $(BIN)/s3plan ($$($(BIN)/s3plan --version))"

demo: $(RUNTIME)
	rm -rf $(DEMO)/logs
	$(BIN)/s3plan sample-logs $(DEMO)/logs --records 20000 --seed 7
	$(BIN)/s3plan plan --cloudtrail $(DEMO)/logs --out $(DEMO)/out
	@echo "Open $(DEMO)/out/migration-plan.xlsx; policy drafts are in $(DEMO)/out/policies/."

lint: $(STAMP)
	$(BIN)/ruff check planner tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/bench_scan.py
	$(BIN)/python bench/bench_scan.py --shape busy --records 1000000 --no-pruning
	$(BIN)/python bench/bench_tail.py
	$(BIN)/python bench/bench_access_logs.py
	$(BIN)/python bench/bench_inventory.py

golden: $(STAMP)
	$(BIN)/python tests/regenerate_golden.py

docs: $(STAMP)
	$(BIN)/python -m planner.outputs.clients_doc docs/clients.md

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache
