"""`--format gradescope`: the `results.json` Gradescope reads from `/autograder/results/`.

What Gradescope expects (research/autograding-formats.md §3.2, its `docs/specs.md`): a top-level
`score` (it overrides the sum of the tests when present), `execution_time` in seconds as a
number (gradescope-utils writes a string, the spec says number), `output`, `visibility`,
`stdout_visibility` and `tests[]` of `{score, max_score, status, name, number, output, tags,
visibility}`; a test's `status` defaults to passed ⇔ score == max_score, and we always set it so.

Credit lives on tasks (`RungResult.task_scores()`), so there is one scored entry per task. A
hidden spec test (`TestResult.visibility == "hidden"`) gets one more entry worth 0 points with
`visibility: "after_due_date"`, carrying its real message; the scored task entry never shows
that message before the due date. stdout (the CLI's text report, which does show hidden
messages) is kept instructor-only with `stdout_visibility: "hidden"`.
"""

from __future__ import annotations

import json
from typing import Any

from grader.catalog import resolve
from grader.reports.learner_view import HIDDEN_UNTIL_DUE, withhold_hidden_details
from grader.reports.text import printed_block
from grader.results import Result, RungResult, TaskScore


def task_output(rung: RungResult, score: TaskScore) -> str:
    """What a learner reads under a task: why it earned what it earned."""
    if rung.status == "skipped":
        return f"not graded here, so no points: {rung.message}"
    if score.status == "error" and rung.first_problem(score.task) is None:
        return f"the rung could not run, so no points: {rung.message}"
    if score.status == "todo":
        return f"still todo, so no points: {score.message}"
    if score.status in ("fail", "error"):
        problem = rung.first_problem(score.task)
        printed = printed_block(problem.output) if problem else ""
        return score.message + (f"\n\n{printed}" if printed else "")
    if score.status == "skipped":
        reasons = sorted({t.message for t in rung.tests if t.task == score.task and t.message})
        return "its checks were skipped here, and the task keeps its points: " + "; ".join(reasons)
    if score.status == "untested":
        return "no check of this task ran, so no points"
    return "all checks passed"


def task_entry(rung: RungResult, index: int, score: TaskScore) -> dict[str, Any]:
    problem = rung.first_problem(score.task)
    tags = [rung.id, score.task] + ([problem.category] if problem else [])
    return {
        "name": f"{rung.id} · {score.task}",
        "number": f"{resolve(rung.id).number}.{index}",
        "score": score.points,
        "max_score": score.max_points,
        "status": "passed" if score.points == score.max_points else "failed",
        "output": task_output(rung, score),
        "tags": tags,
        "visibility": "visible",
    }


def hidden_entries(rung: RungResult) -> list[dict[str, Any]]:
    """Informational entries (0 of 0 points) for hidden checks, shown after the due date."""
    entries = []
    for index, task in enumerate(rung.tasks, start=1):
        hidden = [t for t in rung.tests if t.task == task and t.visibility == "hidden"]
        for sub, test in enumerate(hidden, start=1):
            entries.append({
                "name": f"{rung.id} · {task} · hidden check {test.name}",
                "number": f"{resolve(rung.id).number}.{index}.{sub}",
                "score": 0,
                "max_score": 0,
                "status": "passed" if test.status in ("pass", "skipped") else "failed",
                "output": test.message or ("passed" if test.status == "pass" else test.status),
                "tags": [rung.id, task, test.category, "hidden"],
                "visibility": "after_due_date",
            })
    return entries


def summary(result: Result) -> str:
    passed = sum(rung.status == "pass" for rung in result.rungs)
    line = (f"{result.points:g}/{result.max_points:g} points · {passed} of "
            f"{len(result.rungs)} rungs pass")
    hidden_failed = any(t.visibility == "hidden" and t.status not in ("pass", "skipped")
                        for rung in result.rungs for t in rung.tests)
    if hidden_failed:
        line += f"\n{HIDDEN_UNTIL_DUE.capitalize()}."
    return line


def gradescope_results(result: Result) -> dict[str, Any]:
    shown = withhold_hidden_details(result, HIDDEN_UNTIL_DUE)
    tests: list[dict[str, Any]] = []
    for rung, original in zip(shown.rungs, result.rungs, strict=True):
        tests += [task_entry(rung, index, score)
                  for index, score in enumerate(rung.task_scores(), start=1)]
        tests += hidden_entries(original)
    return {
        "score": result.points,
        "execution_time": round(sum(rung.duration for rung in result.rungs), 3),
        "output": summary(result),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def render_gradescope(result: Result, verbose: bool = False) -> str:
    return json.dumps(gradescope_results(result), indent=2, ensure_ascii=False)
