"""`--format github`: a GitHub Actions step's log, its step summary, and a Classroom result.

Three things, each shaped by what GitHub does with it (research/autograding-formats.md §1, §4.2):

- stdout (`render_github`): at most 10 `::error file=…,line=…,title=…::…` annotations, since a
  step shows no more than 10 error annotations, then the plain text report between
  `::stop-commands::<random token>` and `::<token>::`. The report quotes learner-controlled text
  (exception messages), and the runner treats any line that starts with `::` after leading
  spaces, or contains `##[`, as a workflow command; while commands are stopped it acts on none.
  The legacy `education/autograding` did the same; the 2024 graders don't.
- `$GITHUB_OUTPUT` (`github_output_entry`): `result=<base64 of compact JSON>`, the version-1
  union schema `classroom-resources/autograding-grading-reporter` reads. The reporter
  base64-decodes the env var `<RUNNER>_RESULTS` (the runner name upper-cased) and sends
  Classroom Σ tests[].score out of `max_score`, skipping a runner whose `max_score` is 0, while
  its console table shows (passed tests / tests) × max_score. So each test is one task, scored
  all or nothing (status "pass" exactly when its score is its full share), and `max_score` is
  the sum of max points. Tasks weigh what their rung's points split gives them, so the console
  figure only matches the Classroom total when the tasks weigh the same (or all pass or fail).
- `$GITHUB_STEP_SUMMARY` (`step_summary`): a Markdown table of rungs and, per failing task, its
  message in a `<details>` block. GitHub refuses a step summary over 1 MiB, so messages are cut
  and, past a budget, left out, saying so.

Wiring it to the reporter (the kata step must be a plain `run:` step: the command grader strips
the environment, `GITHUB_OUTPUT` included). A step id is letters, digits and hyphens (the
reporter rejects `_`), and its env name is the id upper-cased plus `_RESULTS`:

    - name: kata
      id: kata
      run: kata check --all --format github
    - uses: classroom-resources/autograding-grading-reporter@v1
      if: always()          # kata exits 1 when a rung fails; the reporter must still run
      env:
        KATA_RESULTS: "${{ steps.kata.outputs.result }}"
      with:
        runners: kata

The log, the summary and the Classroom messages are all readable by the learner, so hidden
checks' messages are withheld, as on PrairieLearn.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.reports.learner_view import HIDDEN_FROM_LEARNERS, cut, withhold_hidden_details
from grader.reports.text import VERDICTS, render_text
from grader.results import Result, RungResult, TaskScore

ANNOTATION_LIMIT = 10  # error annotations GitHub shows per step
MESSAGE_LIMIT = 1_000  # characters of one annotation or Classroom message
SUMMARY_LIMIT = 1024 * 1024  # bytes: GitHub refuses a larger step summary
SUMMARY_MESSAGE_LIMIT = 16_000  # characters of one failure in the summary
RAISED_AT = re.compile(r"raised at \S+?:(\d+)")
SEE_THE_LOG = "see the job log or run kata check locally"


@dataclass(frozen=True)
class Failure:
    """One thing to point at: a failing task, or a whole rung that could not run."""

    rung: RungResult
    title: str
    message: str


def failures(result: Result) -> list[Failure]:
    found = []
    for rung in result.rungs:
        if rung.status == "error" and not rung.tests:
            found.append(Failure(rung, rung.id, rung.message))
            continue
        found += [Failure(rung, f"{rung.id} {score.task}", score.message or rung.message)
                  for score in rung.task_scores() if score.status in ("fail", "error")]
    return found


def escape_data(text: str) -> str:
    """A workflow command's data: GitHub unescapes %25, %0D and %0A, so one line stays one."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: also `:` and `,`, which end a property."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workspace(environ: Mapping[str, str] = os.environ) -> Path:
    return Path(environ.get("GITHUB_WORKSPACE") or os.getcwd())


def learner_file(rung: RungResult, root: Path) -> str:
    """The learner's file relative to the repository root, as annotations need it."""
    path = Path(rung.impl)
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def learner_line(message: str) -> int | None:
    """The line of the learner's file the spec's message says the error was raised at."""
    match = RAISED_AT.search(message)
    return int(match.group(1)) if match else None


def annotation(failure: Failure, root: Path) -> str:
    file = escape_property(learner_file(failure.rung, root))
    line = learner_line(failure.message) or 1
    title = escape_property(failure.title)
    message = escape_data(cut(failure.message, MESSAGE_LIMIT, "; " + SEE_THE_LOG))
    return f"::error file={file},line={line},title={title}::{message}"


def github_log(result: Result, verbose: bool, token: str, root: Path) -> str:
    """The step's stdout, with a stop-commands token given (see `render_github`)."""
    shown = withhold_hidden_details(result, HIDDEN_FROM_LEARNERS)
    found = failures(shown)
    lines = [annotation(failure, root) for failure in found[:ANNOTATION_LIMIT]]
    if len(found) > ANNOTATION_LIMIT:
        lines.append(f"{len(found) - ANNOTATION_LIMIT} more failures are not annotated "
                     f"(GitHub shows {ANNOTATION_LIMIT} per step); the report below has them all.")
    lines += [f"::stop-commands::{token}", render_text(shown, verbose), f"::{token}::"]
    return "\n".join(lines)


def render_github(result: Result, verbose: bool = False) -> str:
    return github_log(result, verbose, secrets.token_hex(16), workspace())


def classroom_status(rung: RungResult, score: TaskScore) -> str:
    """pass exactly when the task earned its full share, so the reporter's two totals agree."""
    if score.points == score.max_points:
        return "pass"
    if score.status == "error" or rung.status == "skipped":
        return "error"
    return "fail"


def classroom_test(rung: RungResult, score: TaskScore, root: Path) -> dict[str, Any]:
    status = classroom_status(rung, score)
    message = score.message or (rung.message if status != "pass" else "")
    test: dict[str, Any] = {
        "name": f"{rung.id} · {score.task}",
        "status": status,
        "score": score.points,
        "test_code": f"kata check {rung.id}",
        "filename": learner_file(rung, root),
        "line_no": learner_line(message) or 0,
        "duration": round(1000 * sum(t.duration for t in rung.tests if t.task == score.task)),
    }
    if message:
        test["message"] = cut(message, MESSAGE_LIMIT, "; " + SEE_THE_LOG)
    return test


def classroom_result(result: Result, root: Path | None = None) -> dict[str, Any]:
    """The reporter's union schema, version 1 (durations in ms, as the command grader's)."""
    shown = withhold_hidden_details(result, HIDDEN_FROM_LEARNERS)
    root = root or workspace()
    tests = [classroom_test(rung, score, root)
             for rung in shown.rungs for score in rung.task_scores()]
    statuses = {test["status"] for test in tests}
    status = "fail" if "fail" in statuses else ("error" if "error" in statuses else "pass")
    return {"version": 1, "status": status, "max_score": result.max_points, "tests": tests}


def github_output_entry(result: Result, root: Path | None = None) -> str:
    """`result=<base64>`: base64 has no newline, so the one-line form is safe."""
    compact = json.dumps(classroom_result(result, root), separators=(",", ":"),
                         ensure_ascii=False)
    return "result=" + base64.b64encode(compact.encode("utf-8")).decode("ascii")


def fenced(text: str) -> str:
    """A code fence longer than any run of backticks in `text`, so the text cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def rung_row(rung: RungResult) -> str:
    verdict = VERDICTS.get(rung.status, rung.status.upper())
    if rung.status == "pass" and rung.hidden_pending:
        verdict = "PASS (public specs)"
    title = html.escape(rung.title).replace("|", "\\|")
    return f"| {rung.id} · {title} | {verdict} | {rung.points:g}/{rung.max_points:g} |"


def details_block(failure: Failure) -> str:
    message = cut(failure.message, SUMMARY_MESSAGE_LIMIT, "; " + SEE_THE_LOG)
    return (f"<details><summary>{html.escape(failure.title)}</summary>\n\n{fenced(message)}\n\n"
            "</details>\n")


def step_summary(result: Result, limit: int = SUMMARY_LIMIT) -> str:
    """Markdown for `$GITHUB_STEP_SUMMARY`, always under `limit` bytes (GitHub's is 1 MiB)."""
    shown = withhold_hidden_details(result, HIDDEN_FROM_LEARNERS)
    parts = [f"## torchkata: {result.points:g}/{result.max_points:g} points\n\n"
             "| rung | status | points |\n|---|---|---:|\n"
             + "\n".join(rung_row(rung) for rung in shown.rungs) + "\n"]
    found = failures(shown)
    if found:
        parts.append("\n### What failed\n\n")
    reserve = 512  # room for the closing line
    used = sum(len(part.encode("utf-8")) for part in parts)
    for shown_count, failure in enumerate(found):
        block = details_block(failure)
        if used + len(block.encode("utf-8")) + reserve > limit:
            parts.append(f"\n{len(found) - shown_count} more failures are left out to keep this "
                         f"summary under GitHub's 1 MiB limit; {SEE_THE_LOG}.\n")
            break
        parts.append(block)
        used += len(block.encode("utf-8"))
    return "".join(parts)


def append(path: str, text: str) -> None:
    with open(path, "a", encoding="utf-8") as file:
        file.write(text)


def write_github_files(result: Result,
                       environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Append the reporter's entry to $GITHUB_OUTPUT and the summary to $GITHUB_STEP_SUMMARY.

    Each only when its variable is set (outside Actions, or under the command grader that
    strips the environment, neither is). Returns {path: text appended}.
    """
    written = {}
    root = workspace(environ)
    if environ.get("GITHUB_OUTPUT"):
        written[environ["GITHUB_OUTPUT"]] = github_output_entry(result, root) + "\n"
    if environ.get("GITHUB_STEP_SUMMARY"):
        written[environ["GITHUB_STEP_SUMMARY"]] = step_summary(result)
    for path, text in written.items():
        append(path, text)
    return written
