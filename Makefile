# fraglib — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.fraglib-installed

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# Byte code is written by the first process that imports a module, into
# .venv and the gitignored __pycache__ directories, also where the
# environment sets PYTHONDONTWRITEBYTECODE: without it every one of the
# suite's hundred Python processes (workers, notebook kernels, fleet
# workers) would compile numpy, pandas and scipy from source again.  Only
# what is imported gets compiled: pip's own byte-compiling (40 s on one
# CPU) or compileall (30 s on two) would compile all of JupyterLab too.
unexport PYTHONDONTWRITEBYTECODE

$(STAMP): pyproject.toml
	@command -v cc >/dev/null || command -v gcc >/dev/null || \
	  { echo "fraglib: no C compiler: install gcc (apt-get install gcc) or use environment.yml"; exit 1; }
	@command -v valgrind >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; \
	  fi; \
	  command -v valgrind >/dev/null || \
	    echo "fraglib: valgrind not installed: the deterministic mode will report 'not measured'"; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --no-compile -e '.[test]'
	touch $@

env: $(STAMP) ## create the virtual environment (.venv) with every dependency

build: $(STAMP) ## build the library and every design's engine (cached by source hash)
	$(PY) -c "from fraglib._build import build_all; print(len(build_all()), 'builds ready')"

test: $(STAMP) ## run the test suite (Python, C under ASan/UBSan, TSan)
	$(PY) -m pytest -q -n 2 --dist loadgroup --no-loadscope-reorder -m "not serial"
	$(PY) -m pytest -q -m serial

sweep: build ## execute every notebook with papermill (BUDGET=seconds for 0.0-summary)
	$(VENV)/bin/fraglib sweep $(if $(BUDGET),-p budget_s=$(BUDGET))

report: sweep ## run the default sweep and render reports/index.html
	$(VENV)/bin/fraglib report
	@echo "open reports/index.html"

bench: build ## benchmarks that print ratios (not tests)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# JupyterLab refuses to start as root unless told to (containers often run as root).
LAB_UID := $(shell id -u)

lab: $(STAMP) ## start JupyterLab on the notebooks (as root too: adds --allow-root)
	$(VENV)/bin/jupyter lab$(if $(filter 0,$(LAB_UID)), --allow-root) notebooks

info: $(STAMP) ## machine, TSC, counters and how to enable what is missing
	$(VENV)/bin/fraglib info

clean: ## remove builds and executed notebooks (keeps data/runs)
	rm -rf build reports/executed reports/failed .pytest_cache

.PHONY: help env build test sweep report bench lab info clean
