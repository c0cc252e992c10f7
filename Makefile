# The two commands: `make run` (start everything on the embedded SQLite default) and
# `make test` (the whole suite on PostgreSQL and SQLite).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run demo test lint migrate bench image-check clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

run: install
	$(VENV)/bin/riskwatch run

# On top of `make run` (in another terminal) or any stack: GATEWAY=… KEY=… make demo
demo: install
	$(VENV)/bin/riskwatch demo $(if $(GATEWAY),--gateway $(GATEWAY)) $(if $(KEY),--key $(KEY)) $(DEMO_ARGS)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check riskwatch shared gateway services tests bench
	$(VENV)/bin/mypy riskwatch shared gateway services

migrate: install
	$(VENV)/bin/riskwatch migrate

bench: install
	$(PY) -m bench.run_all $(BENCH_ARGS)

# A built image run for real, every process in its own container (deploy/check-image.sh; needs
# Docker and a PostgreSQL on this host): IMAGE=… make image-check
IMAGE ?= riskwatch:0.1.0
image-check:
	deploy/check-image.sh $(IMAGE)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
