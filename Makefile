# facewire: `make demo` and `make test` each set everything up first (apt, venv, pip).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.facewire-installed
PIP_QUIET := --quiet --disable-pip-version-check

.PHONY: setup system test test-slow demo lint bench clean

setup: system $(STAMP)

system:
	@bash scripts/setup-system.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_QUIET) --upgrade pip
	$(PY) -m pip install $(PIP_QUIET) torch==2.13.0
	$(PY) -m pip install $(PIP_QUIET) -e '.[train,dev,words,batch,foxglove,pipecat]'
	touch $(STAMP)

test: setup
	$(PY) -m pytest -q

test-slow: setup
	$(PY) -m pytest -q -m slow

lint: setup
	$(VENV)/bin/ruff check facewire tests benchmarks

demo: setup
	$(PY) -m facewire demo

bench: setup
	$(PY) benchmarks/bus.py

clean:
	rm -rf $(VENV) build *.egg-info
