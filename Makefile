# `make run` and `make test` set everything up on a fresh machine: a .venv, PyTorch (the CPU
# build unless a CUDA GPU is present), the project in editable mode, and the test tools.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# On a machine without an NVIDIA GPU, pin the CPU build of PyTorch (see constraints-cpu.txt).
# Set TORCH_CONSTRAINTS= (empty) to let pip choose, e.g. for a CUDA build on a GPU machine.
TORCH_CONSTRAINTS ?= $(if $(shell command -v nvidia-smi 2>/dev/null),,-c constraints-cpu.txt)
# Without an NVIDIA GPU, also offer pip the PyTorch CPU wheel index when it answers within a few
# seconds (the default index's Linux torch is the multi-GB CUDA build); else nothing changes.
# Set TORCH_INDEX= (empty) to skip the probe. See scripts/choose_torch_index.py.
TORCH_INDEX ?= $(shell $(PYTHON) scripts/choose_torch_index.py)
STAMP  := $(VENV)/.installed

.PHONY: setup run test lint bench wheel bundle clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints-cpu.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_CONSTRAINTS) $(TORCH_INDEX) -e '.[test]'
	touch $(STAMP)

run: setup
	$(BIN)/python -m app --demo

test: setup
	QT_QPA_PLATFORM=offscreen $(BIN)/python scripts/run_tests.py

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: setup
	$(BIN)/python -m sagan_engine bench

wheel: setup
	bash packaging/build_wheel.sh

bundle: setup
	bash packaging/build_bundle.sh

clean:
	rm -rf $(VENV) build dist *.egg-info
