# Quick start: `make book` builds the book, `make test` runs every test.
# Both create .venv on first use; nothing has to be installed by hand.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
JOBS   ?= auto

.PHONY: help setup book test test-fast lab release browsers clean clean-book

help:
	@echo "make book     set up .venv and build the book into _build/html"
	@echo "make test     set up .venv and run the whole test suite"
	@echo "make lab      open JupyterLab on exercises/ (students)"
	@echo "make release  regenerate exercises/ from solutions/ (instructors)"

setup: $(STAMP)

# torch is installed first, pinned by constraints.txt: the package itself only asks for a
# range, and on a CPU-only machine an unpinned resolve would pull several GB of CUDA wheels.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt torch
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "Open _build/html/index.html"

test: $(STAMP) browsers
	$(BIN)/python -m pytest

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=exercises

release: $(STAMP)
	$(BIN)/course release

# Browser tests drive Debian's Chromium through playwright; no browser is ever downloaded.
browsers:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium could not be installed; browser tests will skip"; \
	  else echo "chromium is not installed (apt-get install chromium); browser tests will skip"; fi; }

clean-book:
	rm -rf _build

clean: clean-book
	rm -rf $(VENV) *.egg-info
