# Two commands do all the set-up on a fresh machine:
#   make demo   bootstrap .venv, start the embedded stack and run the pipeline
#   make test   bootstrap .venv and run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-unit test-integration chaos soak bench clean

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

# longer fault-injection runs (not part of make test): repeated worker takeovers under load; sink SIGKILLs,
# broker and store frozen and 10^4 malformed records against ground truth; every alert at a webhook exactly
# once across a streams and a notifier SIGKILL. One summary line per run.
chaos: $(STAMP)
	$(BIN)/python -m pytest -q -s -p no:cacheprovider -m "not soak" tests/chaos

# the bounded soak (about 20 minutes; TRTLENS_SOAK_MINUTES=N to change): memory and lag over time
soak: $(STAMP)
	$(BIN)/python -m pytest -q -s -p no:cacheprovider -m soak tests/chaos

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

test-integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration tests/e2e

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info
