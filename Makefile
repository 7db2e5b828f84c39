# Two commands for a learner and for CI; each creates .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_LAB  := $(VENV)/.installed-lab
STAMP_TEST := $(VENV)/.installed-test
STAMP_SITE := $(VENV)/.installed-site

.PHONY: lab lab-down test notebooks doctor bench site clean

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

# make lab: JupyterLab beside one Dask cluster for the whole walkthrough, a `dask scheduler`
# on 127.0.0.1:$(LAB_SCHEDULER_PORT) (dashboard on $(LAB_DASHBOARD_PORT)) and two `dask worker`s,
# stopped when JupyterLab exits; the chapters reach it through DISTLAB_SCHEDULER (one set
# by hand wins: no cluster is started). JupyterLab opens with lab/'s workspace (the Dask
# panes beside chapter 00) and settings (closing a tab shuts its kernel down), written to
# $(LAB_RUN) at each start so that what JupyterLab saves stays out of the repository.
# Jupyter refuses to run as root (containers, CI) unless told to; LAB_ARGS adds options.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_SCHEDULER_PORT ?= 8786
LAB_DASHBOARD_PORT ?= 8787
LAB_RUN := $(CURDIR)/$(VENV)/lab
EXTERNAL := $(DISTLAB_SCHEDULER)$(DASK_SCHEDULER_ADDRESS)
lab: $(STAMP_LAB)
	$(BIN)/python lab/prepare.py --settings-dir $(LAB_RUN)/settings \
	    --workspaces-dir $(LAB_RUN)/workspaces \
	    $(if $(EXTERNAL),--no-dashboard,--dashboard-port $(LAB_DASHBOARD_PORT))
	$(BIN)/python -m distlab cluster run --port $(LAB_SCHEDULER_PORT) \
	    --dashboard-port $(LAB_DASHBOARD_PORT) -- \
	    $(BIN)/jupyter lab $(ROOT_FLAG) --ServerApp.root_dir=notebooks \
	    --LabApp.app_settings_dir=$(LAB_RUN)/settings \
	    --LabApp.workspaces_dir=$(LAB_RUN)/workspaces \
	    --LabApp.default_url=/lab/tree/00_start_here.ipynb $(LAB_ARGS)

# stops a walkthrough cluster that `make lab` left running (it was killed with SIGKILL)
lab-down: | $(BIN)/python
	$(BIN)/python -m distlab cluster down --port $(LAB_SCHEDULER_PORT)

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
