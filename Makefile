# `make test` is the whole suite: lint, types, and the project's tests (stubs todo, references
# pass, mutants fail in their category, alternatives pass, CLI, worker fault handling), in as many
# parallel workers as there are cores. `make test` and `make lint` add the dev extra (ruff, mypy,
# pytest-xdist, jsonschema, xmlschema) to what ./kata installs (the grader and the hf extra).
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: test test-slow lint bootstrap bench bench-loop mutation clean

test: bootstrap lint
	$(PY) -m pytest -n auto

test-slow: bootstrap
	$(PY) -m pytest -m slow

lint: bootstrap
	$(PY) -m ruff check grader tests reference benchmarks
	$(PY) -m mypy

bench: bootstrap
	$(PY) -m pytest benchmarks --benchmark-only -p no:randomly

# the learner's loop (warm and cold checks, --all, watch) as ratios to a bare `import torch`
bench-loop: bootstrap
	@mkdir -p .kata
	$(PY) -m pytest benchmarks/test_loop.py --benchmark-only -p no:randomly -p no:xdist -s \
		--benchmark-json .kata/bench-loop.json
	$(PY) -m benchmarks.report .kata/bench-loop.json

# the mutation score of every reference (not part of `make test`: minutes, not seconds); one rung
# with `make mutation ARGS="--rung 01"`, the mutants without grading with ARGS=--list
mutation: bootstrap
	$(PY) -m grader.mutation $(ARGS)

bootstrap:
	@./scripts/bootstrap dev

clean:
	rm -rf $(VENV) .kata .pytest_cache .hypothesis
