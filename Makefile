# lth-book: `make book` sets everything up and builds the book; `make test` runs all tests.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NOTEBOOKS := background frankle_carbin liu_comparison our_experiments supermasks benchmark
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0

.PHONY: book test setup data legacy-env notebooks html test-unit test-notebooks test-book clean sweep-seed figures

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
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

# Execute every chapter at its published parameters (book/params/*.yaml), reading stored results.
# The executed chapters go to book/chapters/ (not tracked); the sources in notebooks/ keep quick outputs.
notebooks: data
	mkdir -p book/chapters
	for nb in $(NOTEBOOKS); do \
	  $(VENV)/bin/papermill --cwd notebooks -f book/params/$$nb.yaml notebooks/$$nb.ipynb book/chapters/$$nb.ipynb || exit 1; \
	done

book: notebooks
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@echo "book: open _build/html/index.html"

# Unit tests, papermill runs of every notebook at quick parameters, the strict book build,
# then nbval on the committed notebooks; quick runs use a throw-away results store.
test: data
	$(VENV)/bin/pytest -q tests
	LTH_RESULTS_DIR=$$(mktemp -d) $(VENV)/bin/pytest -q --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg notebooks

sweep-seed: data
	scripts/seed_sweep.sh 10

figures: $(STAMP)
	$(PY) -m lth figures

clean:
	rm -rf _build
