# One-liners. Each target installs into .venv first when pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
# The console's browser tests drive Debian's chromium; a fresh machine gets it from apt.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: serve test check bench install clean

$(STAMP): pyproject.toml clients/python/pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet torch==2.13.0
	$(VENV)/bin/pip install --quiet -e '.[dev]' -e 'clients/python[langchain]'
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/cmem serve

$(CHROMIUM):
	$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium chromium-driver

test: $(STAMP) $(CHROMIUM)
	$(VENV)/bin/python -m pytest -q

check: $(STAMP)
	$(VENV)/bin/ruff format --check service workers harness tests bench clients
	$(VENV)/bin/ruff check service workers harness tests bench clients
	$(VENV)/bin/mypy service workers harness clients/python/coherent_memory_client

bench: $(STAMP)
	$(VENV)/bin/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
