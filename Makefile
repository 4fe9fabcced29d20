# SIKS-NG on a message bus. `make demo` and `make test` are the two commands a newcomer needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
STACK := $(PY) deploy/local/stack.py
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
# A moment inside the bansos window (days 15-25), used when `make test` or `make demo` has to
# start the stack itself and the caller set no SIKS_NOW.
WINDOW_NOW := 2026-12-16T09:00:00+07:00
# Services refuse to start without SIKS_ENV; here, on a developer's machine, it is development
# (the development signing key), whatever the calling shell holds.
DEV_ENV := SIKS_ENV=development

.PHONY: help install up down status test unit demo bench schemas clean

help:
	@echo "make demo     install everything, start the stack, run a month's cycle for ~50 households"
	@echo "make test     the whole test suite (starts the stack it needs, stops what it started)"
	@echo "make up | down | status   the local stack (Kafka, FerretDB, stand-ins, four services)"
	@echo "make bench    throughput and latency against raw Kafka and database baselines"

# The Python environment, from the committed lock file; uv itself comes from PyPI if missing.
.venv/.synced: uv.lock pyproject.toml $(wildcard */pyproject.toml services/*/pyproject.toml deploy/*/pyproject.toml)
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --frozen
	@touch $@

install: .venv/.synced
	@bash deploy/local/install_kafka.sh
	@bash deploy/local/install_ferretdb.sh

up: install
	$(DEV_ENV) $(STACK) up

down:
	@if [ -x $(PY) ]; then $(STACK) down; else echo "nothing to stop (no environment yet)"; fi

status: .venv/.synced
	$(STACK) status

unit: .venv/.synced
	$(DEV_ENV) $(PY) -m pytest -m "not stack" -q

test: install
	$(DEV_ENV) SIKS_NOW="$${SIKS_NOW:-$(WINDOW_NOW)}" $(STACK) run -- $(PY) -m pytest -q -p no:cacheprovider

demo: install
	$(DEV_ENV) SIKS_NOW="$${SIKS_NOW:-$(WINDOW_NOW)}" $(STACK) up
	$(DEV_ENV) $(PY) deploy/demo/demo.py

bench: install
	$(DEV_ENV) SIKS_NOW="$${SIKS_NOW:-$(WINDOW_NOW)}" $(STACK) run -- $(PY) deploy/bench/bench.py

schemas: .venv/.synced
	.venv/bin/siks schemas --out contracts/schemas

clean: down
	rm -rf var .venv
