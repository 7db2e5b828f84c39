# Two commands for a learner and for CI; each creates .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_LAB  := $(VENV)/.installed-lab
STAMP_TEST := $(VENV)/.installed-test
STAMP_SITE := $(VENV)/.installed-site

.PHONY: lab test notebooks doctor bench site clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip

$(STAMP_LAB): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -qq -e '.[lab]'
	touch $@

# the test extra brings the site extra too: tests/test_site.py builds the site
$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -qq -e '.[lab,test,site]'
	touch $@ $(STAMP_LAB) $(STAMP_SITE)

$(STAMP_SITE): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -qq -e '.[lab,site]'
	touch $@ $(STAMP_LAB)

# Jupyter refuses to run as root (containers, CI) unless told to; LAB_ARGS adds options.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
lab: $(STAMP_LAB)
	$(BIN)/jupyter lab $(ROOT_FLAG) --ServerApp.root_dir=notebooks \
	    --LabApp.default_url=/lab/tree/00_start_here.ipynb $(LAB_ARGS)

test: $(STAMP_TEST)
	$(BIN)/python -m pytest

notebooks: $(STAMP_LAB)
	$(BIN)/python -m distlab notebooks

doctor: $(STAMP_LAB)
	$(BIN)/python -m distlab doctor

bench: $(STAMP_LAB)
	$(BIN)/python -m distlab bench

# The book as a static site in site/_build/html, from the committed outputs (nothing runs);
# Mermaid, MathJax and the widget embedder come from the npm registry (needs npm).
site: $(STAMP_SITE)
	$(BIN)/python site/build_site.py

clean:
	rm -rf $(VENV) build *.egg-info site/_build
