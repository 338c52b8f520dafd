# make run: Redis and both services on this machine.  make test: the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench redis-server docker-compose faketime chromium clean

$(STAMP): pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,lint]' -e ./clients/python
	touch $(STAMP)

redis-server:
	@command -v redis-server >/dev/null || { \
	  echo "redis-server is missing: installing it with apt-get"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq redis-server >/dev/null; }

# The clock-skew and chaos tests run auth replicas under libfaketime's `faketime`.
faketime:
	@command -v faketime >/dev/null || { \
	  echo "faketime is missing: installing it with apt-get"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq faketime >/dev/null; }

# The tests validate docker-compose.yml with it (no Docker engine needed). Without
# --no-install-recommends apt would also pull in the whole Docker engine.
docker-compose:
	@command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || { \
	  echo "docker-compose is missing: installing it with apt-get"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends docker-compose >/dev/null; }

# The browser tests drive Debian's Chromium (Playwright's own browser builds cannot be downloaded).
chromium:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  echo "chromium is missing: installing chromium and chromium-driver with apt-get"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

run: $(STAMP) redis-server
	PATH="$(CURDIR)/$(BIN):$$PATH" ./scripts/run-local.sh

test: $(STAMP) redis-server docker-compose faketime chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP) redis-server
	@command -v wrk >/dev/null || { echo "wrk is missing: installing it with apt-get"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get install -y -qq wrk >/dev/null; }
	@$(BIN)/python -c "import flask_jwt_extended" 2>/dev/null || $(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/run.py
	$(BIN)/python bench/revocation.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
