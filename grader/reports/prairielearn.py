"""`--format prairielearn`: the `results.json` an external grader writes to `/grade/results/`.

What PrairieLearn expects (research/autograding-formats.md §5, its `docs/externalGrading.md`):
`gradable` (bool), `score` as a fraction in [0, 1] (required when gradable), `message`,
`output`, `format_errors`, and `tests[]` of `{name, description, points, max_points, message,
output}`; the whole file must stay under 1 MB. We write one test per task, since credit lives on
tasks, and `score = points / max_points` (0 when there are no points to earn).

`gradable: false` tells PrairieLearn the submission could not be judged and costs the learner no
attempt. We say so only when no rung ran at all: every rung was skipped because the grading image
lacks an extra, or there was no rung. A learner's crash, timeout or syntax error is still
gradable and earns 0 for that rung: from the Result alone a crash cannot be told apart from a
grader fault, and an infinite loop must not become a free retry.

Everything here is shown to the learner, so hidden checks' messages are withheld (the same copy
Gradescope's visible entries use), and the text report in `output` is that copy's, uncoloured.
"""

from __future__ import annotations

import json
from typing import Any

import click

from grader.reports.learner_view import HIDDEN_FROM_LEARNERS, cut, withhold_hidden_details
from grader.reports.text import printed_block, render_text
from grader.results import Result

SIZE_LIMIT = 1_000_000  # bytes: PrairieLearn rejects a larger results.json
TEST_OUTPUT_LIMIT = 8_000  # characters of one task's failure message
TASK_MESSAGES = {"pass": "passed", "fail": "failed", "error": "raised an error",
                 "todo": "still todo", "skipped": "skipped here; keeps its points",
                 "untested": "no check ran"}
TOO_BIG = "to keep results.json under 1 MB"


def score_fraction(result: Result) -> float:
    if result.max_points <= 0:
        return 0.0
    return min(1.0, max(0.0, result.points / result.max_points))


def one_line_summary(result: Result) -> str:
    passed = sum(rung.status == "pass" for rung in result.rungs)
    return (f"{result.points:g}/{result.max_points:g} points · {passed} of "
            f"{len(result.rungs)} rungs pass")


def is_gradable(result: Result) -> bool:
    return any(rung.status != "skipped" for rung in result.rungs)


def task_tests(result: Result) -> list[dict[str, Any]]:
    tests = []
    for rung in result.rungs:
        for score in rung.task_scores():
            if rung.status == "skipped":
                message, output = "not graded", rung.message
            elif score.status == "error" and rung.first_problem(score.task) is None:
                message, output = "the rung could not run", rung.message
            else:
                message = TASK_MESSAGES.get(score.status, score.status)
                problem = rung.first_problem(score.task)
                printed = printed_block(problem.output) if problem else ""
                output = score.message + (f"\n\n{printed}" if printed else "")
            tests.append({
                "name": f"{rung.id} · {score.task}",
                "description": f"{rung.title}: {score.task}",
                "points": score.points,
                "max_points": score.max_points,
                "message": message,
                "output": cut(output, TEST_OUTPUT_LIMIT, TOO_BIG),
            })
    return tests


def prairielearn_results(result: Result, verbose: bool = False) -> dict[str, Any]:
    shown = withhold_hidden_details(result, HIDDEN_FROM_LEARNERS)
    results: dict[str, Any] = {
        "gradable": is_gradable(result),
        "score": score_fraction(result),
        "message": one_line_summary(result),
        "output": click.unstyle(render_text(shown, verbose)),
        "tests": task_tests(shown),
    }
    if not results["gradable"]:
        results["format_errors"] = [rung.message for rung in result.rungs] or ["no rung to grade"]
    return fit_under_limit(results)


def size_of(results: dict[str, Any]) -> int:
    return len(json.dumps(results, ensure_ascii=False).encode("utf-8"))


def fit_under_limit(results: dict[str, Any]) -> dict[str, Any]:
    """Cut text until the file fits PrairieLearn's 1 MB: the text report first, then tasks'.

    Each character cut saves at least one byte, so cutting one field by the overshoot (plus room
    for the note) is enough unless that field is shorter than the overshoot.
    """
    owners = [results, *results["tests"]]
    for owner in owners:
        overshoot = size_of(results) - SIZE_LIMIT
        if overshoot <= 0:
            break
        keep = max(0, len(owner["output"]) - overshoot - 200)
        owner["output"] = cut(owner["output"], keep, TOO_BIG)
    return results


def render_prairielearn(result: Result, verbose: bool = False) -> str:
    return json.dumps(prairielearn_results(result, verbose), indent=2, ensure_ascii=False)
