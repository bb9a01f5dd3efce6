# markovdwp_nb: every set-up step a fresh machine needs is here.
#   make demo   create .venv if missing, install the package, run `markovdwp demo`
#   make test   create .venv if missing, install with dev extras, check that the
#               notebooks and the library agree, run every notebook as a test, then
#               build the documentation site from those runs and check it in Chromium
#   make docs   build the site (docs/) offline; runs only the notebooks changed since the last test run
# SLOW=1 also runs the cells flagged `#| slow`; `#| cuda` cells run when torch sees a GPU,
# `#| fashion` cells where Debian's Fashion-MNIST is installed.
# demo, test and docs first install Debian's Fashion-MNIST (dataset-fashion-mnist) when it
# is missing and this runs as root on Debian; elsewhere they go on without it.

SHELL  := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
SLOW   ?= 0
JOBS   ?= 2
# pip, with the warnings about this machine's local package mirrors filtered out (it compiles the bytecode: where
# PYTHONDONTWRITEBYTECODE is set, as here, imports never write it, and every process would compile torch & co. again)
PIP    = $(BIN)/python -m pip install --quiet 2> >(grep -v "^WARNING: Location 'file://" >&2)

.PHONY: demo test sync export clean-nbs readme docs check-site chromium bench install dev clean help fashion-mnist test-packages

help:
	@sed -n '2,10p' Makefile

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

# Debian packages: the real Fashion-MNIST offline (dataset-fashion-mnist puts the four .gz files in FASHION_DIR) and
# the chromium that reads the site. $(call debian,PACKAGES) installs those of PACKAGES that are missing, in one apt-get
# run, when this runs as root with apt-get; it never fails the build (no root, no apt-get or no registry: a note, and
# the tests skip the real data; the site check says it has no chromium)
FASHION_DIR := /usr/share/datasets/fashion-mnist
debian = @want=""; for pkg in $(1); do case $$pkg in \
	    dataset-fashion-mnist) [ -d $(FASHION_DIR) ] || want="$$want $$pkg";; \
	    *) command -v $$pkg >/dev/null || want="$$want $$pkg";; esac; done; \
	  if [ -n "$$want" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq >/dev/null 2>&1; \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$want) >/dev/null 2>&1 || for pkg in $$want; do \
	      (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkg) >/dev/null 2>&1 \
	      || echo "note: could not install $$pkg (Fashion-MNIST then needs MARKOVDWP_DATA/FashionMNIST/raw/ or download=true; the site check needs chromium)"; done; \
	  fi; true

fashion-mnist:
	$(call debian,dataset-fashion-mnist)

chromium:
	$(call debian,chromium)

test-packages:
	$(call debian,dataset-fashion-mnist chromium)

demo: fashion-mnist $(VENV)/.installed
	$(BIN)/markovdwp demo

sync: $(VENV)/.installed-dev
	$(BIN)/python tools/check_sync.py
	$(BIN)/python tools/render_docs.py --check

# the Debian packages install while pip installs the package (two jobs: apt-get and pip each keep a core busy);
# the notebooks run once: each that passes is saved as a page of the site, which is then built and read
test:
	@$(MAKE) --no-print-directory -j2 test-packages sync
	SLOW=$(SLOW) $(BIN)/python tools/nbtest.py --jobs $(JOBS)
	$(BIN)/python tools/site.py --cached
	$(BIN)/python tools/check_site.py

export: $(VENV)/.installed-dev
	$(BIN)/nbdev_export
	$(BIN)/nbdev_clean
	$(BIN)/python tools/render_docs.py --readme

readme: $(VENV)/.installed-dev
	$(BIN)/python tools/render_docs.py --readme

docs: fashion-mnist $(VENV)/.installed-dev
	$(BIN)/python tools/render_docs.py --readme
	$(BIN)/python tools/site.py --jobs $(JOBS)

check-site: chromium $(VENV)/.installed-dev
	$(BIN)/python tools/check_site.py

bench: $(VENV)/.installed
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) *.egg-info build dist docs _docs _proc
