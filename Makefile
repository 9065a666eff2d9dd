# s3plan: `make demo` and `make test` work on a machine with only python3 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
DEMO   := demo

.PHONY: demo test lint typecheck bench golden docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
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
	$(BIN)/python bench/bench_workbook.py

golden: $(STAMP)
	$(BIN)/python tests/regenerate_golden.py

docs: $(STAMP)
	$(BIN)/python -m planner.outputs.clients_doc docs/clients.md

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache
