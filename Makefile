# Relais developer entry points. `make test` is what CI runs (via .ci/run).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv lint typecheck test run clean

venv: $(STAMP)

# Re-install whenever pyproject.toml changes (new dependency, new extra).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { \
	  $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	    || { echo "$(PY) is older than 3.11; run: make PY=python3.11 ..." >&2; exit 1; }; \
	  $(PY) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

lint: venv
	$(BIN)/ruff check contracts services tests

typecheck: venv
	$(BIN)/mypy

test: venv lint typecheck
	$(BIN)/pytest -q tests

run: venv
	$(BIN)/relais dev $(ARGS)

clean:
	rm -rf var/
