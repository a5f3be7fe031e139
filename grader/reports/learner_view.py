"""What the learner-facing formats share: hidden checks withheld, long text cut with a note.

Gradescope's visible entries, PrairieLearn and GitHub are read by learners; JUnit and JSON, the
instructor's views, render the Result as it is.
"""

from __future__ import annotations

from dataclasses import replace

from grader.results import Result, TestResult

HIDDEN_UNTIL_DUE = "a hidden check failed; its details are shown after the due date"
HIDDEN_FROM_LEARNERS = "a hidden check failed; its details are not shown to learners"


def withhold_hidden_details(result: Result, note: str) -> Result:
    """A copy of `result` in which every hidden test that did not pass says only `note`, and no
    hidden test shows what the learner's code printed (it could print the hidden inputs).

    Learner-facing formats (Gradescope's visible entries, PrairieLearn, GitHub) render this
    copy; JUnit and JSON, the instructor's views, render the original.
    """
    def withheld(test: TestResult) -> TestResult:
        if test.visibility != "hidden":
            return test
        if test.status in ("pass", "skipped"):
            return replace(test, output="")
        return replace(test, message=note, output="")

    rungs = [replace(rung, tests=[withheld(test) for test in rung.tests])
             for rung in result.rungs]
    return replace(result, rungs=rungs)


def cut(text: str, limit: int, why: str) -> str:
    """`text` with at most `limit` characters, saying so at the end when it was cut."""
    if len(text) <= limit:
        return text
    note = f"\n… (cut: {len(text) - limit} more characters left out {why})"
    return text[:max(0, limit - len(note))] + note
