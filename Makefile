# dasha — the two README commands (`make demo`, `make test`) do all set-up themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

EXTRAS := .venv-extras

.PHONY: demo test test-fast test-extras lint format bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Reinstall when the project metadata changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --upgrade "setuptools>=77"  # PEP 639 licence fields; tests build the wheel with it
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/dasha demo

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q

# Optional extras (torchvision 0.29.1 needs torch 2.14.1; ultralytics) in their own venv, then their tests.
$(EXTRAS)/.installed: pyproject.toml
	$(PYTHON) -m venv $(EXTRAS)
	$(EXTRAS)/bin/pip install -q --upgrade pip
	$(EXTRAS)/bin/pip install -q "torch==2.14.1" "torchvision==0.29.1"
	$(EXTRAS)/bin/pip install -q -e ".[dev,torchvision,yolo]"
	# ultralytics pulls opencv-python 5 (no Haar cascades): keep the headless 4.x build dasha needs
	$(EXTRAS)/bin/pip uninstall -q -y opencv-python opencv-python-headless
	$(EXTRAS)/bin/pip install -q "opencv-python-headless>=4.10,<5"
	touch $@

test-extras: $(EXTRAS)/.installed
	DASHA_REQUIRE_EXTRAS=1 $(EXTRAS)/bin/python -m pytest -q -m extras -p no:cacheprovider

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_capture.py

clean:
	rm -rf $(VENV) $(EXTRAS) runs .pytest_cache
