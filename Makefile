# The two commands every new user and CI rely on: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.test-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@ $(VENV)/.run-deps

## run: install, create ./instance, load the example round, serve web on :8000 until Ctrl-C
run: $(VENV)/.run-deps
	$(BIN)/intake serve

## test: install what the tests need (Python packages; PostgreSQL, Redis, Chromium as root) and run them
test: $(VENV)/.test-deps
	bash scripts/test.sh

lint: $(VENV)/.test-deps
	$(BIN)/ruff check .

bench: $(VENV)/.test-deps
	$(BIN)/python bench/api_throughput.py
	$(BIN)/python bench/queue_paging.py
	$(BIN)/python bench/ledger.py
	$(BIN)/python bench/reports.py
	$(BIN)/python bench/export.py
	$(BIN)/python bench/stats.py
	$(BIN)/python bench/classify_dev.py
	$(BIN)/python bench/classify_cv.py
	$(BIN)/python bench/ocr_pages.py
	$(BIN)/python bench/upload_throughput.py
	$(BIN)/python bench/duplicates.py
	$(BIN)/python bench/audit_chain.py

clean:
	rm -rf $(VENV) .pytest_cache
