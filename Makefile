# RefNet developer commands. `make demo` and `make test` set up .venv by themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed-stamp
TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/refnet_test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: install demo test lint typecheck unit bench lock clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

lock: $(VENV)
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

demo: $(STAMP)
	$(BIN)/refnet demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	REFNET_TEST_DATABASE_URL=$(TEST_DATABASE_URL) REFNET_TEST_REDIS_URL=$(TEST_REDIS_URL) \
		$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.crawl_economy
	$(BIN)/python -m benchmarks.vault_generation
	$(BIN)/python -m benchmarks.extractive_summarizer

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
