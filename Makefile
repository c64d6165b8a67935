# The two commands of this project:
#   make book   build the book (HTML in _build/html), warnings are errors
#   make test   run every test: unit tests and every notebook (nbval)
# Each creates the virtual environment .venv from requirements-lock.txt if it
# is missing or out of date.
# No chapter runs twice: `make test` stores each chapter it executed (all cells
# passed) in .jupyter_cache/, and `make book` (execute_notebooks: cache) takes the
# outputs from there, executing only the chapters not in it.  Before the book
# reads anything, gancomp_lite.booktools (a Sphinx extension) drops every cached
# run whose chapter source, gancomp_lite/, data/, lock or GANCOMP_* variables
# changed since; `make book` alone (a fresh clone) executes every chapter.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)
# Built and tested pages cannot run widgets: chapters show their static panels instead
# (gancomp_lite.viz.widgets_enabled); a notebook a reader runs shows the live widgets.
export GANCOMP_STATIC := 1

.PHONY: book test venv lock colab clean

book: $(STAMP)
	rm -rf _build
	$(BIN)/jupyter-book build --all -W -n --keep-going .

# Two passes (conftest.py, "what runs alone"): the suite on two workers of one thread
# each, then, alone, the chapter that times networks on several threads.  `pytest` by
# itself runs everything serially.
test: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -m "not solo" -n 2 --dist loadfile
	$(BIN)/python -m pytest -m solo

venv: $(STAMP)

$(STAMP): requirements-lock.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements-lock.txt
	$(BIN)/python -m pip install --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Re-resolve the environment from pyproject.toml's ranges and rewrite the lock.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install "torch==2.14.1" "torchvision==0.29.1" -e ".[book,test]"
	{ echo "# Exact pins for make and CI (Python 3.11, x86_64): regenerate with 'make lock'."; \
	  echo "# torch/torchvision are the CUDA builds this machine's pip serves; they run on the CPU."; \
	  .venv-lock/bin/pip freeze --all | grep -v -i -E "^(gancomp|pip==|-e )"; } > requirements-lock.txt
	rm -rf .venv-lock

# Regenerate the output-free .ipynb copies that the Colab buttons open.
colab: $(STAMP)
	$(BIN)/python -m gancomp_lite.booktools sync-colab
	$(BIN)/python -m gancomp_lite.booktools sync-readme

clean:
	rm -rf _build .pytest_cache .jupyter_cache
