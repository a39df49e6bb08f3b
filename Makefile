# motifgrader: set up, grade the bundled submissions, test.
# `make setup` once on a fresh machine, then `make grade` or `make test`.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= grading_output
SUBMISSIONS ?= student_submissions

.PHONY: setup system-deps grade test test-fast lint format bench reference clean

# Set-up brings the sandbox: `grade` refuses to run student code that is not isolated.
setup: system-deps $(VENV)/.installed
	@$(BIN)/motifgrader sandbox || echo "WARNING: student notebooks cannot be isolated here, so \
	'motifgrader grade' will refuse to run them (the lines above say why and how to fix it)."

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,dask]"
	touch $@

# bubblewrap isolates each student kernel (no network, read-only system, nothing of the
# grader's visible). Root installs it with the system's package manager; anyone else is
# told the one command to run. `motifgrader sandbox` then measures that it isolates here.
system-deps:
	@if command -v bwrap >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" != "0" ]; then \
		echo "motifgrader needs bubblewrap to isolate student notebooks, and installing it needs root:"; \
		echo "    sudo apt-get install bubblewrap   (or: sudo dnf/apk/zypper install bubblewrap)"; \
		exit 0; \
	fi; \
	if command -v apt-get >/dev/null 2>&1; then \
		apt-get install -y -q bubblewrap >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && apt-get install -y -q bubblewrap; }; \
	elif command -v dnf >/dev/null 2>&1; then dnf install -y bubblewrap; \
	elif command -v apk >/dev/null 2>&1; then apk add bubblewrap; \
	elif command -v zypper >/dev/null 2>&1; then zypper --non-interactive install bubblewrap; \
	else echo "No known package manager: install bubblewrap, which isolates student notebooks."; fi

grade: setup
	$(BIN)/motifgrader grade $(SUBMISSIONS) --out $(OUT)

test: setup
	$(BIN)/python -m pytest --durations=15

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
