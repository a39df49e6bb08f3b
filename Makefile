# motifgrader: set up, grade the bundled submissions, test.
# `make setup` once on a fresh machine, then `make grade` or `make test`.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= grading_output
SUBMISSIONS ?= student_submissions

.PHONY: setup system-deps grade test test-fast lint format bench reference clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,dask]"
	touch $@

# Optional: bubblewrap gives each student kernel its own namespaces (no network,
# read-only system). Without it the grader falls back to resource limits.
system-deps:
	@if command -v apt-get >/dev/null 2>&1; then \
		apt-get install -y -q bubblewrap || echo "bubblewrap not installed; the fallback sandbox will be used"; \
	else echo "no apt-get: install bubblewrap with your package manager (optional)"; fi

grade: setup
	$(BIN)/motifgrader grade $(SUBMISSIONS) --out $(OUT)

test: setup
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python -m pytest benchmarks --benchmark-enable --benchmark-only -p no:cacheprovider

reference: setup
	$(BIN)/motifgrader reference --out reference_output

clean:
	rm -rf $(OUT) reference_output .pytest_cache .ruff_cache
