# Quick start: `make book` builds the book, `make test` runs every test.
# Both create .venv on first use; nothing has to be installed by hand.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
JOBS   ?= auto

.PHONY: help setup book test lab formgrader release system-deps clean clean-book

help:
	@echo "make book     set up .venv and build the book into _build/html"
	@echo "make test     set up .venv and run the whole test suite"
	@echo "make lab      open JupyterLab on your own copies of the exercises, in work/ (students)"
	@echo "make formgrader  open JupyterLab with nbgrader's Formgrader on the course (instructors)"
	@echo "make release  regenerate exercises/ from solutions/ (instructors)"

setup: $(STAMP)

# torch is installed first, pinned by constraints.txt: the package itself only asks for a
# range, and on a CPU-only machine an unpinned resolve would pull several GB of CUDA wheels.
$(STAMP): pyproject.toml constraints.txt lab/course_lib.json
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt torch
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,cluster]'
	@# The Formgrader's autograde and feedback actions go through the course's judge (course_lib.grading.formgrader).
	@mkdir -p $(VENV)/etc/jupyter/jupyter_server_config.d
	cp lab/course_lib.json $(VENV)/etc/jupyter/jupyter_server_config.d/course_lib.json
	@touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "Open _build/html/index.html"

# The book build is part of the tests: a page whose code raises or warns fails it, and the
# browser tests read the built pages.
test: $(STAMP) system-deps book
	$(BIN)/python -m pytest -n auto --dist loadfile --no-loadscope-reorder

# Students work in their own git-ignored copies (work/), filled from exercises/ and never
# overwritten; lab/student turns off the instructor's extensions (Formgrader, Create Assignment).
# JupyterLab refuses to run as root unless told; a student's own account needs no flag.
WORK ?= work
lab: $(STAMP)
	$(BIN)/course workspace --folder $(WORK)
	JUPYTER_CONFIG_PATH=$(CURDIR)/lab/student $(BIN)/jupyter lab --notebook-dir=$(WORK) $$([ "$$(id -u)" = 0 ] && echo --allow-root)

formgrader: $(STAMP)
	$(BIN)/jupyter lab $$([ "$$(id -u)" = 0 ] && echo --allow-root)

release: $(STAMP)
	$(BIN)/course release

# Programs some tests need, from Debian: Chromium (browser tests, driven by playwright; no
# browser is ever downloaded), bubblewrap (the grading sandbox) and PostgreSQL (gradebook
# tests). Installed when missing and run as root; otherwise those tests skip and say why.
SYSTEM_PROGRAMS := chromium:chromium bwrap:bubblewrap initdb:postgresql
system-deps:
	@missing=""; for pair in $(SYSTEM_PROGRAMS); do prog=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$prog >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/$$prog >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing from Debian"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	      || echo "could not install$$missing; the tests that need them will skip"; \
	  else echo "missing$$missing (apt-get install$$missing); the tests that need them will skip"; fi; fi

clean-book:
	rm -rf _build

clean: clean-book
	rm -rf $(VENV) *.egg-info
