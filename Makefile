# make train: set up and run the main job; make test: set up and pass the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install train test test-fast schema clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

train: install
	$(VENV)/bin/expkit train configs/mnist_cnn.yaml

test: install
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

schema: install
	$(VENV)/bin/expkit schema > expkit.schema.json

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
