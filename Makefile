# Two commands on a fresh machine: `make book` and `make test`.
# Each creates .venv, installs the pinned stack and course_lib, and does its job.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# nbgrader runs `alembic` from PATH: the venv's bin comes first for every recipe.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: venv book test grade bench clean check-npm vendor release

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
	  echo "error: npm not found. The book vendors MathJax, RequireJS and the widget manager with npm"; \
	  echo "  so that it reads offline. Install Node.js 18+ with npm (e.g. 'apt-get install nodejs npm')."; exit 1; }

node_modules/.package-lock.json: package.json package-lock.json | check-npm
	npm ci --no-audit --no-fund --loglevel=error

# Copied next to the book sources; _config.yml puts this folder on Sphinx's static path.
VENDOR := _build/_vendor
$(VENDOR)/.done: node_modules/.package-lock.json
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/mathjax
	cp -r node_modules/mathjax/es5 $(VENDOR)/mathjax/
	cp node_modules/requirejs/require.js $(VENDOR)/require.js
	cp -r node_modules/@jupyter-widgets/html-manager/dist $(VENDOR)/html-manager
	rm -f $(VENDOR)/html-manager/*.map $(VENDOR)/html-manager/embed.js*
	touch $@

vendor: $(VENDOR)/.done

book: $(STAMP) vendor
	$(BIN)/jupyter-book build . -n -W --keep-going
	@echo "Open the book: file://$(CURDIR)/_build/html/index.html"

test: $(STAMP) vendor
	$(BIN)/python -m pytest

# make grade [SUBMISSIONS=dir] [ASSIGNMENT=rnn] [WORKERS=n] [GRADE_ARGS="--force ..."]
ASSIGNMENT ?= rnn
grade: $(STAMP)
	$(BIN)/course grade $(if $(SUBMISSIONS),--submissions $(SUBMISSIONS),--demo) \
	  --assignment $(ASSIGNMENT) $(if $(WORKERS),--workers $(WORKERS)) $(GRADE_ARGS)

# Benchmarks (not part of make test; a quick smoke run is): make bench [ONLY=p1,p2,p3,p4,p5] [QUICK=1] [TEXT=file].
# Results: benchmarks/results/latest.json and latest.md (quick.* with QUICK=1).
bench: $(STAMP) vendor
	$(BIN)/python benchmarks/bench.py $(if $(ONLY),--only $(ONLY)) $(if $(QUICK),--quick) $(if $(TEXT),--text $(TEXT))

# Regenerate the student releases in assignments/ from solutions/ (commit the result).
release: $(STAMP)
	for nb in solutions/*/*.ipynb; do a=$$(basename $$(dirname $$nb)); \
	  $(BIN)/nbgrader generate_assignment $$a --force || exit 1; done

clean:
	rm -rf _build node_modules
