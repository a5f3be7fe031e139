"""Helpers shared by the project's own tests: grading once per session, reading KATA_EXPECT."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path
from typing import Any

from grader import runner
from grader.catalog import REPO_ROOT, Rung, load_catalog, resolve
from grader.results import RungResult
from grader.runner import check_rung

MUTANTS_DIR = REPO_ROOT / "tests" / "mutants"
AVAILABLE = [rung for rung in load_catalog() if rung.available]


@cache
def _graded(rung_id: str, impl: str, timeout: float | None,
            task: str | None) -> tuple[RungResult, dict]:
    result, _ = check_rung(resolve(rung_id), impl=impl, timeout=timeout, task=task)
    return result, dict(runner.last_kill_margins)


def grade(rung_id: str, impl: str, timeout: float | None = None,
          task: str | None = None) -> RungResult:
    """Grade once per session (with `task`, that task's checks alone, as `kata check --task`
    does); several tests read the same verdict."""
    return _graded(rung_id, impl, timeout, task)[0]


def kill_margins(rung_id: str, impl: str, task: str | None = None) -> dict[str, dict[str, Any]]:
    """How far each failed check of that grading failed (grader.runner.last_kill_margins)."""
    return _graded(rung_id, impl, None, task)[1]


def kata_expect(path: Path) -> dict[str, Any]:
    """The KATA_EXPECT literal of a mutant or alternative, read without importing the file."""
    return dict(_kata_expect(Path(path)))


@cache
def _kata_expect(path: Path) -> dict[str, Any]:
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "KATA_EXPECT" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path} has no KATA_EXPECT = {{...}} literal")


def mutant_files(rung: Rung) -> list[Path]:
    return sorted((MUTANTS_DIR / rung.id).glob("*.py"))


def describe(result: RungResult) -> str:
    """A failure message for the project's tests: what the grader said, test by test."""
    lines = [f"{result.id}: {result.status} {result.message}"]
    lines += [f"  {t.status:<7} {t.category:<10} {t.task}::{t.name} {t.message[:400]}"
              for t in result.tests]
    return "\n".join(lines)


def texts(value: str | list[str]) -> list[str]:
    """KATA_EXPECT's message and not_message: one text or a list of them, compared lowercased."""
    return [text.lower() for text in ([value] if isinstance(value, str) else value)]
