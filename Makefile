# make train: set up and run the main job; make test: set up and pass the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install system-data train test test-fast docs clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

train: install
	$(VENV)/bin/expkit train configs/mnist_cnn.yaml

# Real data the tests read from Debian packages: Fashion-MNIST and the King James Bible (`bible`).
system-data:
	@if command -v bible >/dev/null && [ -d /usr/share/datasets/fashion-mnist ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q dataset-fashion-mnist bible-kjv; \
	else echo "the tests read Debian's dataset-fashion-mnist and bible-kjv:" \
	  "sudo apt-get install dataset-fashion-mnist bible-kjv" >&2; exit 1; fi

test: install system-data
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

# Regenerates the Keras catalogue (every layer's arguments, from the installed Keras), then
# expkit.schema.json and the README's config reference from the config models.
docs: install
	$(PY) -m expkit.model.keras_catalog
	$(VENV)/bin/expkit schema > expkit.schema.json
	$(PY) -c "from expkit.config.reference import update_readme; update_readme()"

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
