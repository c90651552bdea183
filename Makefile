# Two commands do everything on a fresh machine (Linux or macOS, Python 3.10+):
#   make lab   -- set up .venv, then open JupyterLab on the course
#   make test  -- set up .venv, then run every check
# Set-up is idempotent: it reinstalls only when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# torch is pinned here as well as in pyproject: installing it first, alone, makes pip take the
# CPU wheel and never resolve a different build through another package.
TORCH  := torch==2.13.0
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
# Tests run two workers on two cores: one BLAS/OpenMP thread each, or small convolutions spend
# their time with threads waiting on each other (measured: 10-20x slower).
# Their kernels read tests/ipython/ (log errors only: a kernel log line such as ipykernel 7's
# TCP warning would otherwise land in a cell's output and break the comparison).
PYTEST := OMP_NUM_THREADS=1 IPYTHONDIR="$(CURDIR)/tests/ipython" $(BIN)/pytest -p no:cacheprovider
NBVAL  := --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=900
export CNNCOURSE_PROFILE ?= quick

.PHONY: lab reset test setup-lab setup-test lint unit notebooks exercises book pdf browser mutation clean \
	classroom classroom-env classroom-test

# JupyterLab opens the student's own copies in my-work/ (git-ignored; created from chapters/ on
# first use, new chapters added later, existing copies never overwritten), so chapters/ stays as
# committed and `git pull` never conflicts. `make reset CHAPTER=03` gives a fresh copy of one
# chapter and keeps the old one in my-work/backups/.
lab: setup-lab
	$(PYTHON) scripts/my_work.py sync
	$(BIN)/jupyter lab $(ROOT_FLAG) --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/my-work

CHAPTER ?=
reset:
	@test -n "$(CHAPTER)" || { echo "usage: make reset CHAPTER=03"; exit 2; }
	$(PYTHON) scripts/my_work.py reset "$(CHAPTER)"

# The classroom's end-to-end test creates OS accounts: it is part of `make test` when run as root
# (as CI does), and `sudo make classroom-test` runs it on its own.
test: setup-test lint unit notebooks book browser $(if $(ROOT_FLAG),classroom-test)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.lab-installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[lab]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (cnncourse)"
	touch $@

$(VENV)/.test-installed: pyproject.toml $(VENV)/.lab-installed
	$(BIN)/pip install --quiet -e ".[lab,test]"
	touch $@

setup-lab: $(VENV)/.lab-installed
setup-test: $(VENV)/.test-installed

lint: setup-test
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

unit: setup-test
	$(PYTEST) -n 2 tests --ignore=tests/browser --ignore=tests/classroom

notebooks: setup-test
	$(PYTEST) -n 2 --dist loadfile $(NBVAL) chapters solutions

# Regenerate the student notebooks in exercises/ from solutions/ (executes the solutions first).
exercises: setup-test
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/generate_exercises.py --execute

# The website: Jupyter Book 1.x from the committed, executed notebooks; warnings are errors.
book: setup-test
	$(BIN)/python scripts/vendor_web_assets.py
	rm -rf _build/html
	$(BIN)/jupyter-book build . --config jupyter-book.yml --toc _toc.yml -W --keep-going

# The whole book as one PDF (_build/pdf/cnncourse.pdf), printed offline by the system chromium.
pdf: setup-test
	$(BIN)/python scripts/vendor_web_assets.py
	$(BIN)/python scripts/build_pdf.py

# Real-browser tests (Debian chromium + playwright): JupyterLab widgets and the built website.
browser: setup-test
	$(PYTEST) tests/browser

# A JupyterHub class on this machine (classroom/README.md); run as root. classroom-env installs
# the course (not editable) in a shared environment that student accounts can read, with
# configurable-http-proxy from npm; classroom starts a demo class (CLASSROOM_STUDENTS students) on
# 127.0.0.1:CLASSROOM_PORT until Ctrl-C; classroom-test is the end-to-end test of a class.
# The shared environment must be reachable by student accounts: in the checkout when every
# parent folder is world-searchable, else (a checkout under /root, say) in /opt.
ifndef CLASSROOM_PREFIX
CLASSROOM_PREFIX := $(shell $(PYTHON) -c 'import pathlib, sys; p = pathlib.Path(sys.argv[1]); print(p / ".classroom" if all(q.stat().st_mode & 1 for q in (p, *p.parents)) else "/opt/cnncourse-classroom")' "$(CURDIR)")
endif
CLASSROOM_PYTHON   ?= /usr/bin/python3
CLASSROOM_STUDENTS ?= 3
CLASSROOM_PORT     ?= 8000
CLASSROOM_CTL := $(CLASSROOM_PYTHON) classroom/classroomctl.py --prefix "$(CLASSROOM_PREFIX)"

$(CLASSROOM_PREFIX)/.installed: pyproject.toml nbgrader_config.py $(wildcard classroom/*.py) \
		$(wildcard cnncourse/*.py cnncourse/*/*.py solutions/*/*.ipynb exercises/*/*.ipynb)
	$(CLASSROOM_CTL) install --exchange "$(CLASSROOM_PREFIX)/exchange"
	touch $@

classroom-env: $(CLASSROOM_PREFIX)/.installed

classroom: classroom-env
	$(CLASSROOM_CTL) demo --students $(CLASSROOM_STUDENTS) --port $(CLASSROOM_PORT)

classroom-test: setup-test classroom-env
	CNNCOURSE_CLASSROOM_PREFIX="$(CLASSROOM_PREFIX)" $(PYTEST) -s tests/classroom

# Mutation testing (mutmut) of the from-scratch modules, each against its own test file; prints
# the mutation score per module. Slow (hours on 2 cores), so not part of `make test`. One module:
# make mutation MODULES=metrics. One function: make mutation MODULES=conv
# MUTANTS='cnncourse.conv.x_corr2d_naive__mutmut_*'. Equivalent mutants are listed in
# tests/mutation_equivalents.md. A run capped by time continues with RESUME=1.
MODULES ?=
MUTANTS ?=
RESUME ?=
mutation: setup-test
	nice -n 19 $(BIN)/python scripts/mutation_report.py $(MODULES) $(if $(MUTANTS),--mutants $(foreach m,$(MUTANTS),'$(m)')) $(if $(RESUME),--resume)

clean:
	rm -rf $(VENV) _build .pytest_cache .hypothesis .classroom
