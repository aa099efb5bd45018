# Two commands do all the set-up on a fresh machine:
#   make demo   bootstrap .venv, start the embedded stack and run the pipeline
#   make test   bootstrap .venv and run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-unit test-integration chaos bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

# extra options: make demo ARGS="--duration-s 120 --keep"
demo: $(STAMP)
	$(BIN)/trtlens demo $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests --ignore=tests/chaos

# longer fault-injection runs (not part of make test): repeated worker takeovers under load, ...
chaos: $(STAMP)
	$(BIN)/python -m pytest -q -s -p no:cacheprovider tests/chaos

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

test-integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration tests/e2e

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info
