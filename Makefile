# RefNet developer commands. `make demo` and `make test` set up .venv by themselves.
#
# requirements.lock pins what RefNet needs to run (what a user's install and the image get);
# requirements-dev.lock adds the test and lint tools at the same versions. Bytecode is compiled at
# install (ours too), so processes start from .pyc files even where PYTHONDONTWRITEBYTECODE is set.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
RUNTIME_STAMP := $(VENV)/.runtime-stamp
DEV_STAMP := $(VENV)/.dev-stamp
TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/refnet_test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: install install-dev demo test lint typecheck bench load drills lock clean dashboards up down

install: $(RUNTIME_STAMP)
install-dev: $(DEV_STAMP)

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Each stamp syncs the venv to exactly its lock file, so switching between them adds or removes
# the development tools.
$(RUNTIME_STAMP): requirements.lock pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q src
	rm -f $(DEV_STAMP)
	touch $@

$(DEV_STAMP): requirements-dev.lock pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements-dev.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q src
	touch $@ $(RUNTIME_STAMP)

lock: $(BIN)/uv
	$(BIN)/uv pip compile --quiet pyproject.toml --python-version 3.11 -o requirements.lock
	$(BIN)/uv pip compile --quiet pyproject.toml --extra dev --python-version 3.11 \
		-c requirements.lock -o requirements-dev.lock

demo: $(RUNTIME_STAMP)
	$(BIN)/refnet demo

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks monitoring
	$(BIN)/ruff format --check src tests benchmarks monitoring

typecheck: $(DEV_STAMP)
	$(BIN)/mypy
	MYPYPATH=monitoring/grafana $(BIN)/mypy --strict monitoring/grafana/generate_dashboards.py \
		monitoring/grafana/dashboards_src

test: lint typecheck
	REFNET_TEST_DATABASE_URL=$(TEST_DATABASE_URL) REFNET_TEST_REDIS_URL=$(TEST_REDIS_URL) \
		$(BIN)/pytest

bench: $(DEV_STAMP)
	$(BIN)/python -m benchmarks.crawl_economy
	$(BIN)/python -m benchmarks.vault_generation
	$(BIN)/python -m benchmarks.backup_restore
	$(BIN)/python -m benchmarks.extractive_summarizer
	$(BIN)/python -m benchmarks.search_latency
	$(BIN)/python -m benchmarks.api_throughput --reuse
	$(BIN)/python -m benchmarks.metrics_scrape --reuse

# The load test's three profiles (normal, peak, stress) through nginx and TLS on 100,000 papers
# and 1,000,000 edges; one JSON line each, checked against the service levels (exit 1 if one is
# missed). LOAD_DURATION: seconds per profile.
LOAD_DURATION ?= 60
load: $(DEV_STAMP)
	$(BIN)/python -m benchmarks.load_test --profile all --duration $(LOAD_DURATION)

# The failure drills on the Docker Compose stack (a Docker engine and root needed, as for the
# stack test); each prints its recovery time. `make test` runs them too.
drills: $(DEV_STAMP)
	REFNET_TEST_DATABASE_URL=$(TEST_DATABASE_URL) REFNET_TEST_REDIS_URL=$(TEST_REDIS_URL) \
		$(BIN)/pytest -s tests/deploy/test_drills.py

# Grafana's dashboards are Python (monitoring/grafana/dashboards_src); this writes the JSON that
# Grafana provisions. A test fails while the committed JSON is out of date.
dashboards: $(DEV_STAMP)
	$(BIN)/python monitoring/grafana/generate_dashboards.py

# The Docker Compose stack with the development override (scripts/docker-dev.sh --help).
up:
	scripts/docker-dev.sh up

down:
	scripts/docker-dev.sh down

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
