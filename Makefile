# make train: set up and run the main job; make test: set up and pass the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install train test test-fast docs clean

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

# Regenerates expkit.schema.json and the README's config reference from the config models.
docs: install
	$(VENV)/bin/expkit schema > expkit.schema.json
	$(PY) -c "from expkit.config.reference import update_readme; update_readme()"

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
