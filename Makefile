# markovdwp_nb: every set-up step a fresh machine needs is here.
#   make demo   create .venv if missing, install the package, run `markovdwp demo`
#   make test   create .venv if missing, install with dev extras, check that the
#               notebooks and the library agree, then run every notebook as a test
# SLOW=1 also runs the cells flagged `#| slow`; `#| cuda` cells run when torch sees a GPU.

SHELL  := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
SLOW   ?= 0
JOBS   ?= 2
# pip, with the warnings about this machine's local package mirrors filtered out
PIP    = $(BIN)/python -m pip install --quiet 2> >(grep -v "^WARNING: Location 'file://" >&2)

.PHONY: demo test sync export clean-nbs readme docs bench install dev clean help

help:
	@sed -n '2,6p' Makefile

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

# the stamps re-run pip only when the package metadata changes
$(VENV)/.installed: settings.ini setup.py | $(BIN)/python
	$(PIP) -e .
	@touch $@

$(VENV)/.installed-dev: settings.ini setup.py | $(BIN)/python
	$(PIP) -e ".[dev]"
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(BIN)/markovdwp demo

sync: $(VENV)/.installed-dev
	$(BIN)/python tools/check_sync.py
	$(BIN)/python tools/render_docs.py --check

test: sync
	SLOW=$(SLOW) $(BIN)/python tools/nbtest.py --jobs $(JOBS)

export: $(VENV)/.installed-dev
	$(BIN)/nbdev_export
	$(BIN)/nbdev_clean
	$(BIN)/python tools/render_docs.py --readme

readme: $(VENV)/.installed-dev
	$(BIN)/python tools/render_docs.py --readme

docs: $(VENV)/.installed-dev
	$(BIN)/python tools/render_docs.py

bench: $(VENV)/.installed
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) *.egg-info build dist
