# Two commands on a fresh machine: `make book` and `make test`.
# Each creates .venv, installs the pinned stack and course_lib, and does its job.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Pages executed at a time by `make book` (course_lib.book_build): one per core, at most 2 by default.
JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$(( n < 2 ? n : 2 )))
# nbgrader runs `alembic` from PATH: the venv's bin comes first for every recipe.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: venv book test grade bench clean check-npm vendor release chromium student-pack lab pdf

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "error: $(PYTHON) not found. This course needs Python 3.11:"; \
	  echo "  install it (e.g. 'apt-get install python3.11 python3.11-venv', or 'pyenv install 3.11')"; \
	  echo "  or point make at it: make PYTHON=/path/to/python3.11 ..."; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { \
	  echo "error: $(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'), expected 3.11."; \
	  echo "  Install Python 3.11 and run: make PYTHON=/path/to/python3.11 ..."; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $@

venv: $(STAMP)

check-npm:
	@command -v npm >/dev/null 2>&1 || { \
	  echo "error: npm not found. The book vendors MathJax with npm so that it reads offline."; \
	  echo "  Install Node.js 18+ with npm (e.g. 'apt-get install nodejs npm')."; exit 1; }

node_modules/.package-lock.json: package.json package-lock.json | check-npm
	npm ci --no-audit --no-fund --loglevel=error

# Copied next to the book sources; _config.yml puts this folder on Sphinx's static path, so the
# build ships all of it: only what pages load. MathJax 3: the tex-chtml component, the fonts its
# CHTML output asks for, and the TeX packages it autoloads (\boldsymbol, \cancel, ...). Not the
# accessibility add-ons (a11y/, sre/) that its menu can switch on: 4 MB no page loads.
VENDOR := _build/_vendor
MATHJAX := node_modules/mathjax/es5
$(VENDOR)/.done: node_modules/.package-lock.json Makefile
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/mathjax/es5/output/chtml/fonts $(VENDOR)/mathjax/es5/input/tex
	cp $(MATHJAX)/tex-chtml.js $(VENDOR)/mathjax/es5/
	cp -r $(MATHJAX)/output/chtml/fonts/woff-v2 $(VENDOR)/mathjax/es5/output/chtml/fonts/
	cp -r $(MATHJAX)/input/tex/extensions $(VENDOR)/mathjax/es5/input/tex/
	touch $@

vendor: $(VENDOR)/.done

# The browser tests (tests/test_browser.py) drive Debian's Chromium; as root this installs it.
CHROMIUM_BINS := /usr/bin/chromium /usr/bin/chromedriver
chromium:
	@missing=$$(for b in $(CHROMIUM_BINS); do test -x $$b || echo $$b; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium chromium-driver (missing: $$missing)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver || exit 1; \
	  else \
	    echo "error: $$missing not found. The browser tests need Debian's Chromium and its driver:"; \
	    echo "  run as root: apt-get install -y chromium chromium-driver   (then make test again)"; exit 1; \
	  fi; \
	fi

book: $(STAMP) vendor
	$(BIN)/python -m course_lib.book_build --jobs $(JOBS)
	COURSE_PROGRESS=0 $(BIN)/jupyter-book build . -n -W --keep-going
	@echo "Open the book: file://$(CURDIR)/_build/html/index.html"

test: $(STAMP) vendor chromium
	$(BIN)/python -m pytest

# The whole book as one PDF, printed offline by headless Chromium from the built pages: _build/pdf/book.pdf
pdf: book chromium
	$(BIN)/python -m course_lib.book_pdf

# make grade [SUBMISSIONS=dir] [ASSIGNMENT=rnn] [WORKERS=n] [GRADE_ARGS="--force ..."]
ASSIGNMENT ?= rnn
grade: $(STAMP)
	$(BIN)/course grade $(if $(SUBMISSIONS),--submissions $(SUBMISSIONS),--demo) \
	  --assignment $(ASSIGNMENT) $(if $(WORKERS),--workers $(WORKERS)) $(GRADE_ARGS)

# Benchmarks (not part of make test; a quick smoke run is): make bench [ONLY=p1,p2,p3,p4,p5,p7] [QUICK=1] [TEXT=file].
# Results: benchmarks/results/latest.json and latest.md (quick.* with QUICK=1).
bench: $(STAMP) vendor
	$(BIN)/python benchmarks/bench.py $(if $(ONLY),--only $(ONLY)) $(if $(QUICK),--quick) $(if $(TEXT),--text $(TEXT))

# Regenerate the student releases in assignments/ from solutions/ (commit the result).
release: $(STAMP)
	for nb in solutions/*/*.ipynb; do a=$$(basename $$(dirname $$nb)); \
	  $(BIN)/nbgrader generate_assignment $$a --force || exit 1; done

# What students get, without solutions/ or the grader: _build/student-pack/ and its .tar.gz, with
# the freshly built book (course_lib/student_pack.py; its own `make setup` and `make lab`).
student-pack: book
	$(BIN)/python -m course_lib.student_pack

# JupyterLab on this folder: the assignments, and the book's pages opened as notebooks (jupytext).
# make lab LAB_ARGS="--no-browser --port 9999"
lab: $(STAMP)
	$(BIN)/jupyter lab --ip=127.0.0.1 --ServerApp.root_dir=$(CURDIR) \
	  --LabApp.app_settings_dir=$(CURDIR)/student_pack/jupyter/lab $(LAB_ARGS)

clean:
	rm -rf _build node_modules
