"""`kata solution`: the reference beside the learner's file, once the rung passes.

The files are read as text; neither is imported or run.
"""

from __future__ import annotations

import difflib
from itertools import zip_longest

from grader.catalog import REPO_ROOT, Rung
from grader.progress import Progress

SIDE_BY_SIDE_COLUMNS = 160  # narrower terminals get the reference, then a unified diff


class SolutionRefused(Exception):
    """The solution is not shown: the rung has not passed, or this copy has no reference."""


def _relative(path_text: str) -> str:
    return path_text.removeprefix(str(REPO_ROOT) + "/")


def check_solution_allowed(rung: Rung, progress: Progress, force: bool) -> None:
    """Raise SolutionRefused, saying why, unless the reference may be shown now."""
    if not rung.available:
        raise SolutionRefused(f"{rung.id}: planned, not available yet")
    if not rung.reference_path.is_file():
        if rung.oracle_path.is_file():
            raise SolutionRefused(f"{rung.id}: this course copy ships without readable "
                                  "reference solutions, so there is none to show (--force "
                                  "cannot change that)")
        raise SolutionRefused(f"{rung.id}: no reference file "
                              f"{_relative(str(rung.reference_path))}")
    best = progress.best_status(rung.id)
    if best != "pass" and not force:
        so_far = f"your best so far: {best}" if best else "not checked yet"
        raise SolutionRefused(f"{rung.id}: the solution is shown once the rung passes "
                              f"({so_far}); `kata check {rung.id}`, or add --force to look now")


def _fit(text: str, width: int) -> str:
    text = text.expandtabs(4)
    return text if len(text) <= width else text[:width - 1] + "…"


def side_by_side(left: list[str], right: list[str], width: int, left_title: str,
                 right_title: str) -> list[str]:
    """Two columns, matching lines level: `|` between lines that differ, `<`/`>` one side only."""
    column = (width - 3) // 2
    rows = [f"{_fit(left_title, column):<{column}}   {_fit(right_title, column)}",
            f"{'-' * column}   {'-' * column}"]
    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        mark = {"equal": " ", "replace": "|", "delete": "<", "insert": ">"}[tag]
        for a, b in zip_longest(left[a0:a1], right[b0:b1]):
            this_mark = mark if a is not None and b is not None else ("<" if b is None else ">")
            rows.append(f"{_fit(a or '', column):<{column}} {this_mark} "
                        f"{_fit(b or '', column)}".rstrip())
    return rows


def solution_lines(rung: Rung, columns: int) -> list[str]:
    """The reference and the learner's file: side by side when `columns` allows, else the
    reference followed by a unified diff of the learner's file against it."""
    reference_name = _relative(str(rung.reference_path))
    learner_name = _relative(str(rung.exercise_path))
    reference = rung.reference_path.read_text(encoding="utf-8", errors="replace").splitlines()
    if rung.exercise_path.is_file():
        learner = rung.exercise_path.read_text(encoding="utf-8", errors="replace").splitlines()
    else:
        learner = []
        learner_name += " (missing)"
    if columns >= SIDE_BY_SIDE_COLUMNS:
        return side_by_side(reference, learner, columns, f"reference: {reference_name}",
                            f"yours: {learner_name}")
    lines = [f"── {reference_name} (the reference) ──", *reference, "",
             f"── your {learner_name} against it (- reference, + yours) ──"]
    diff = list(difflib.unified_diff(reference, learner, fromfile=reference_name,
                                     tofile=learner_name, lineterm=""))
    return lines + (diff or ["(identical)"])
