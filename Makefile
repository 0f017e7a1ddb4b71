# Setup makes .venv, installs the pinned CPU torch first when no torch is present (the CPU wheel
# is found locally on the project machines; elsewhere pip picks the platform's build), then the
# package with its dev extras.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TORCH_PIN := torch==2.13.0

.PHONY: setup test demo lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

setup: $(PY)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet $(TORCH_PIN)
	$(PY) -m pip install --quiet -e ".[dev]"

test: setup
	$(PY) -m ruff check src tests benchmarks
	OMP_NUM_THREADS=2 $(PY) -m pytest

demo: setup
	$(VENV)/bin/mimicgait demo --out runs/demo

lint: setup
	$(PY) -m ruff check src tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
