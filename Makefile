# `make test` is the whole suite: lint, types, and the project's tests (stubs todo, references
# pass, mutants fail in their category, alternatives pass, CLI, worker fault handling), in as many
# parallel workers as there are cores. The hf extra is installed too: rung 09-hf needs it.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: test test-slow lint bootstrap bench clean

test: bootstrap lint
	$(PY) -m pytest -n auto

test-slow: bootstrap
	$(PY) -m pytest -m slow

lint: bootstrap
	$(PY) -m ruff check grader tests reference benchmarks
	$(PY) -m mypy

bench: bootstrap
	$(PY) -m pytest benchmarks --benchmark-only -p no:randomly

bootstrap:
	@./scripts/bootstrap hf

clean:
	rm -rf $(VENV) .kata .pytest_cache .hypothesis
