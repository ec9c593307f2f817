# lth-book: `make book` sets everything up and builds the book; `make test` runs all tests.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NOTEBOOKS := background frankle_carbin liu_comparison our_experiments supermasks benchmark
export TF_USE_LEGACY_KERAS := 1
export PYTHONHASHSEED := 0
# oneDNN's kernels: the stacked engine's grouped convolutions need them on CPUs without AVX-512 (lth/__init__.py)
export TF_ENABLE_ONEDNN_OPTS ?= 1
# Quiet by default: TensorFlow's C++ log (oneDNN notices, failed cuInit calls, absl warnings) stays
# out of the terminal; VERBOSE=1 brings it back. Only logging is changed here, never numerics.
VERBOSE ?=
export VERBOSE
export TF_CPP_MIN_LOG_LEVEL := $(if $(filter-out 0,$(VERBOSE)),0,3)

.PHONY: book test setup data legacy-env notebooks html test-unit test-notebooks test-book clean sweep-seed figures \
	browser-deps browser-test

# requirements.txt is a lock file (every package pinned) made from requirements.in. After editing requirements.in,
# regenerate it with pip-tools from a scratch venv (not .venv):
#   python3.11 -m venv /tmp/piptools && /tmp/piptools/bin/pip install pip-tools
#   /tmp/piptools/bin/pip-compile --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
#     --no-emit-trusted-host --annotation-style=line --output-file requirements.txt requirements.in
setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet pip==26.3
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

# The seed authors' environment (Python 3.7, TF 2.1, TF-MOT 0.3) for lth.seed.screen; pyenv's 3.7 by default.
PYTHON37 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.7*/bin/python) $(shell command -v python3.7))
LEGACY := .venv-legacy
legacy-env: $(LEGACY)/.installed

$(LEGACY)/.installed: requirements-legacy.txt
	@test -n "$(PYTHON37)" || { echo "legacy-env needs Python 3.7 (pyenv install 3.7, or PYTHON37=/path/to/python3.7)"; exit 1; }
	test -x $(LEGACY)/bin/python || $(PYTHON37) -m venv $(LEGACY)
	$(LEGACY)/bin/python -m pip install --quiet "pip<24"
	$(LEGACY)/bin/python -m pip install --quiet -r requirements-legacy.txt
	$(LEGACY)/bin/python -c "import tensorflow as tf, tensorflow_model_optimization; assert tf.__version__ == '2.1.0', tf.__version__"
	touch $@

data: $(STAMP)
	$(PY) -c "from lth import data; [print('data ready:', data.ensure_idx_files(n)) for n in ('mnist',)]"

# Execute every chapter at its published parameters (book/params/*.yaml), reading stored results,
# one progress bar per chapter; each kernel's own log goes to book/chapters/NAME.log (VERBOSE=1: the terminal).
# The executed chapters go to book/chapters/ (not tracked); the sources in notebooks/ keep quick outputs.
notebooks: data
	$(PY) scripts/execute_chapters.py $(NOTEBOOKS)

book: notebooks
	@$(MAKE) --no-print-directory html

# The HTML from the chapters already executed in book/chapters/ (after re-running some of them).
html:
	$(VENV)/bin/jupyter-book build . -W -n --keep-going $(if $(filter-out 0,$(VERBOSE)),,--quiet)
	@echo "book: open _build/html/index.html"

# Unit tests, papermill runs of every notebook at quick parameters, the strict book build of those
# (tests/test_notebooks.py), nbval on the committed notebooks, then the published book built by
# `make book` and opened page by page in headless Chromium. Quick runs use a throw-away results store.
test: data browser-deps
	$(VENV)/bin/pytest -q tests --ignore=tests/browser
	LTH_RESULTS_DIR=$$(mktemp -d) $(VENV)/bin/pytest -q --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg notebooks
	$(MAKE) --no-print-directory book
	$(MAKE) --no-print-directory browser-test

# Headless Chromium from Debian (no browser download) driven by Selenium, for tests/browser.
CHROMIUM ?= /usr/bin/chromium
CHROMEDRIVER ?= /usr/bin/chromedriver
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser-deps: $(STAMP)
	@test -x $(CHROMIUM) -a -x $(CHROMEDRIVER) || { $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }
	@$(PY) -c "import selenium" 2>/dev/null || $(PY) -m pip install --quiet -c requirements.txt "selenium==4.50.0"

# Serve _build/html on localhost and load every page in Chromium (built by `make book` if missing);
# screenshots in _build/screenshots/, external links or assets that fail are listed, not failed.
browser-test: browser-deps
	@test -f _build/html/index.html || $(MAKE) --no-print-directory book
	CHROMIUM=$(CHROMIUM) CHROMEDRIVER=$(CHROMEDRIVER) $(VENV)/bin/pytest -q -p no:cacheprovider tests/browser

sweep-seed: data
	scripts/seed_sweep.sh 10

figures: $(STAMP)
	$(PY) -m lth figures

clean:
	rm -rf _build
