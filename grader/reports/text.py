"""The default report: per rung a verdict, per task a line, per failing task its first failure.

Every line fits the terminal (`report_width`): prose is wrapped and keeps its indentation, while
code-like lines of a message (indented four or more spaces within it, or holding a `|`: source
lines, tables, diffs, `^` pointers) keep their layout and are only cut, with `…`, when too long.
What the learner's code printed is shown as theirs, each line behind `│ `, never as a verdict.
Colour is added only when `colour_wanted` says so; every colour choice is in `STYLES`.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import textwrap
import unicodedata
from typing import IO, Any

import click

from grader.catalog import hint_for, resolve, rung_after
from grader.results import Result, RungResult, TestResult
from grader.sanitize import clean

MARKS = {"pass": "✓", "fail": "✗", "error": "!", "todo": "·", "skipped": "-", "untested": "?"}
VERDICTS = {"pass": "PASS", "fail": "FAIL", "todo": "TODO", "error": "ERROR",
            "skipped": "SKIPPED"}
# what each status looks like in colour; the one table of colour choices
STYLES: dict[str, dict[str, Any]] = {
    "pass": {"fg": "green"}, "fail": {"fg": "red"}, "error": {"fg": "red"},
    "todo": {"fg": "yellow"}, "skipped": {"fg": "bright_black"}, "untested": {"fg": "yellow"},
    "rung": {"bold": True},
}
WIDTH_WHEN_NOT_A_TERMINAL = 100
NARROWEST = 60
OUTPUT_LINES = 40  # lines of what the learner's code printed, under a failure without -v
LEARNER_PREFIX = "│ "
SOLUTION_COMMAND = "kata solution"


def report_width() -> int:
    """The terminal's width (COLUMNS when set), 100 when not a terminal, never below 60."""
    columns = shutil.get_terminal_size((WIDTH_WHEN_NOT_A_TERMINAL, 24)).columns
    return max(NARROWEST, columns)


def colour_wanted(choice: bool | None = None, stream: IO[str] | None = None) -> bool:
    """Whether the report gets colour: --color/--no-color first, then NO_COLOR, then a terminal.

    NO_COLOR set to anything but the empty string turns colour off (https://no-color.org); an
    explicit `--color` still wins, as that page asks.
    """
    if choice is not None:
        return choice
    if os.environ.get("NO_COLOR"):
        return False
    target = sys.stdout if stream is None else stream
    try:
        return target.isatty()
    except (AttributeError, ValueError):  # no such method, or a closed stream
        return False


def _cut(line: str, width: int) -> str:
    return line if len(line) <= width else line[:width - 1] + "…"


_PAINT = re.compile(r"(\x1b\[[0-9;]*m)")  # the colour codes `paint` adds: no width on screen


def _columns(char: str) -> int:
    """How many terminal columns `char` takes: 2 for East Asian wide ones, 0 for marks."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _fit(line: str, width: int) -> str:
    """`line` cut with … where it would run past `width` columns on screen. Wide characters
    count twice: a line of them that `len` finds short enough would wrap, and what follows them
    would start the next row at its first column, outside the report's layout (printed text
    passing for a verdict line)."""
    if line.isascii() and len(line) <= width:
        return line
    parts = _PAINT.split(line)
    if sum(_columns(char) for part in parts[::2] for char in part) <= width:
        return line
    kept, used = [], 0
    for index, part in enumerate(parts):
        if index % 2:  # a colour code
            kept.append(part)
            continue
        for char in part:
            if used + _columns(char) > width - 1:
                return "".join(kept) + "…" + ("\x1b[0m" if len(parts) > 1 else "")
            kept.append(char)
            used += _columns(char)
    return "".join(kept)


def _is_code(line: str) -> bool:
    """A line of a message that must keep its layout: a source line, a table, a diff, a `^`."""
    return len(line) - len(line.lstrip(" ")) >= 4 or "|" in line


class _Page:
    """Lines fitted to `width`, painted only when `colour`."""

    def __init__(self, width: int, colour: bool, output_lines: int = OUTPUT_LINES) -> None:
        self.width = max(NARROWEST, width)
        self.colour = colour
        self.output_lines = output_lines
        self.lines: list[str] = []

    def paint(self, text: str, role: str, **extra: Any) -> str:
        if not self.colour:
            return text
        return click.style(text, **{**STYLES.get(role, {}), **extra})

    def prose(self, text: str, indent: str = "", hang: str | None = None,
              painted: str | None = None, role: str = "", **extra: Any) -> None:
        """Wrap `text` after `indent` (continuations after `hang`, by default the same indent);
        paint `painted` (a part of the first line) or, when it is "*", each whole line."""
        if not text.strip():
            self.lines.append("")
            return
        wrapped = textwrap.wrap(text.expandtabs().strip(), self.width, initial_indent=indent,
                                subsequent_indent=indent if hang is None else hang,
                                break_on_hyphens=False) or [indent.rstrip()]
        if self.colour and painted == "*":
            wrapped = [line[:len(line) - len(line.lstrip())]
                       + self.paint(line.lstrip(), role, **extra) for line in wrapped]
        elif self.colour and painted and painted in wrapped[0]:
            wrapped[0] = wrapped[0].replace(painted, self.paint(painted, role, **extra), 1)
        self.lines += wrapped

    def code(self, line: str) -> None:
        self.lines.append(_cut(line.expandtabs().rstrip(), self.width))

    def message(self, text: str, indent: str) -> None:
        """A grader message under `indent`: prose lines wrapped, code-like lines kept."""
        for line in text.split("\n"):
            line = line.expandtabs().rstrip()
            if _is_code(line):
                self.code(indent + line)
            else:
                self.prose(line, indent + " " * (len(line) - len(line.lstrip(" "))))

    def learner_output(self, test: TestResult, indent: str, everything: bool) -> None:
        """What the learner's code printed during `test`, marked as theirs, capped without -v."""
        printed = printed_lines(test.output)
        if not printed:
            return
        shown = printed if everything else printed[:self.output_lines]
        self.prose("Your code printed:", indent)
        for line in shown:
            self.code(indent + LEARNER_PREFIX + line)
        left = len(printed) - len(shown)
        if left:
            lines = "line" if left == 1 else "lines"
            self.prose(f"… {left} more {lines} of your output; -v shows all", indent)

    def text(self) -> str:
        return "\n".join(_fit(line, self.width) for line in self.lines)


def printed_lines(output: str) -> list[str]:
    """The lines of what the learner's code printed, cleaned once more; [] when it printed none."""
    text = clean(output, max(1, len(output))).rstrip()
    return text.split("\n") if text.strip() else []


def printed_block(output: str, limit: int = OUTPUT_LINES) -> str:
    """What the learner's code printed as plain text for the platform formats: a heading, at most
    `limit` lines behind `│ `, and how many were left out; "" when it printed nothing."""
    printed = printed_lines(output)
    if not printed:
        return ""
    lines = ["Your code printed:"] + [LEARNER_PREFIX + line for line in printed[:limit]]
    if len(printed) > limit:
        lines.append(f"… {len(printed) - limit} more lines of your output left out")
    return "\n".join(lines)


def _task_lines(page: _Page, rung: RungResult, verbose: bool, first_only: bool = False) -> None:
    if rung.status in ("error", "skipped") and not rung.tests:
        return
    shown: set[str] = set()
    detailed = False
    for task in rung.tasks:
        status = rung.task_status(task)
        label = f"{MARKS.get(status, '?')} {task}"
        problem = rung.first_problem(task)
        if status == "todo":
            page.prose(f"{label}  todo", "  ", "    ", label, status)
        elif status == "error" and problem and problem.message.startswith("not run"):
            page.prose(f"{label}  not run", "  ", "    ", label, status)
        elif status in ("fail", "error") and problem:
            page.prose(f"{label}  [{problem.category}] {problem.name}", "  ", "    ", label,
                       status)
            if first_only and detailed:
                continue
            detailed = True
            if problem.message in shown:
                page.prose("(the same failure as above)", "      ")
            else:
                page.message(problem.message, "      ")
                shown.add(problem.message)
            page.learner_output(problem, "      ", verbose)
        elif status == "untested":
            page.prose(f"{label}  no check ran", "  ", "    ", label, status)
        else:
            page.prose(label, "  ", "    ", label, status)
        if verbose:
            for test in (t for t in rung.tests if t.task == task):
                ratio = f" ({test.ratio:.2f}× the reference)" if test.ratio else ""
                page.prose(f"{MARKS.get(test.status, '?')} {test.category:<10} {test.name}"
                           f"{ratio}", "      ", "        ", "*", test.status)
                if test.status in ("fail", "error", "skipped") and test.message \
                        and test is not problem:
                    page.message(test.message, "          ")
                if test is not problem:
                    page.learner_output(test, "          ", everything=True)


def _no_points_reason(rung: RungResult) -> str:
    """Why a rung that ended in an error earns nothing, in one sentence."""
    if not rung.tests:
        return ("The rung could not run, so it earns no points; fix the problem above and "
                "check again.")
    if any(t.status == "error" and t.message.startswith("not run") for t in rung.tests) \
            or rung.message:
        return ("The run stopped before every check had run, so this rung earns no points, "
                "not even for the tasks that pass; fix the error above and check again.")
    return ("A check ended in an error (!), and a rung with an error earns no points, not even "
            "for the tasks that pass; fix the error above and check again.")


def _rung(page: _Page, rung: RungResult, verbose: bool, first_only: bool = False) -> None:
    page.prose(f"{rung.id} · {rung.title}", "", "  ", rung.id, "rung")
    if rung.message:
        page.message(rung.message, "  ")
    _task_lines(page, rung, verbose, first_only)
    if rung.status == "skipped":
        page.prose("SKIPPED  not graded, not failed", "  ", "  ", "SKIPPED", "skipped",
                   bold=True)
        return
    passed = sum(rung.task_status(t) in ("pass", "skipped") for t in rung.tasks)
    verdict = VERDICTS.get(rung.status, rung.status.upper())
    if rung.status == "pass" and rung.hidden_pending:
        verdict = "PASS (public specs)"
    page.prose(f"{verdict}  {rung.points:g}/{rung.max_points:g} points · {passed} of "
               f"{len(rung.tasks)} tasks pass · {rung.duration:.1f} s", "  ", "  ", verdict,
               rung.status if rung.status in STYLES else "error", bold=True)
    if rung.status == "error":
        page.prose(_no_points_reason(rung), "  ")
    elif rung.status == "pass" and rung.max_points and not rung.points:
        page.prose("No check of this rung ran here (every one was skipped), so it earns no "
                   "points.", "  ")
    if rung.blocks:
        page.prose(_blocks_line(rung), "  ")
    if rung.hidden_pending:
        specs = "spec" if rung.hidden_pending == 1 else "specs"
        done = "public specs passed; " if rung.status == "pass" else ""
        page.prose(f"{done}{rung.hidden_pending} hidden {specs} run at grading, "
                   "so these points are not final.", "  ")
    if rung.status == "todo" and rung.tasks_todo:
        page.prose(f"Still todo: {', '.join(rung.tasks_todo)}. Open {_stub(rung)} and "
                   "replace each `raise NotImplementedError` with your code.", "  ")
    failing = [t for t in rung.tasks if rung.task_status(t) == "fail"]
    hint = hint_for(resolve(rung.id), failing[0]) if rung.status == "fail" and failing else None
    if hint:  # the first hint of the first failing task; `kata hint` has the rest
        page.prose(f"Hint for {failing[0]}: " + hint, "  ")


def _blocks_line(rung: RungResult) -> str:
    """Which module served the earlier rungs' blocks: "Built on your 08-attention and the
    reference's 07-modules (yours does not pass yet)."."""
    parts = [f"your {block['rung']}" if block["origin"] == "yours" else
             f"the reference's {block['rung']}" + (f" ({block['why']})" if block["why"] else "")
             for block in rung.blocks]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Built on {listed}."


def _stub(rung: RungResult) -> str:
    catalog_rung = resolve(rung.id)
    return f"exercises/{catalog_rung.id}/{catalog_rung.module}"


def render_rung(rung: RungResult, verbose: bool = False, *, width: int | None = None,
                colour: bool = False, first_only: bool = False,
                output_lines: int = OUTPUT_LINES) -> str:
    """One rung's report; `first_only` details only the first failing task (kata watch), with
    at most `output_lines` of what the learner's code printed."""
    page = _Page(width or report_width(), colour, output_lines)
    _rung(page, rung, verbose, first_only)
    return page.text()


def _totals(page: _Page, result: Result) -> None:
    counts = {s: sum(r.status == s for r in result.rungs) for s in VERDICTS}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    graded = [r for r in result.rungs if r.status != "skipped"]
    points = round(sum(r.points for r in graded), 2)
    total = round(sum(r.max_points for r in graded), 2)
    line = f"{len(result.rungs)} rungs: {summary} · {points:g}/{total:g} points"
    skipped = [f"{r.id} ({r.max_points:g} points)" for r in result.rungs
               if r.status == "skipped"]
    if skipped:
        line += f"; {', '.join(skipped)} skipped, not counted"
    page.prose(line, "", "  ")


def _what_next(page: _Page, result: Result) -> None:
    """After a pass of the learner's own code: the reference to compare with, the next rung."""
    impl = result.meta.get("impl")
    passed = [r.id for r in result.rungs if r.status == "pass" and r.points > 0]
    if not impl or impl == "reference" or not passed:
        return
    if len(passed) == 1:
        page.prose(f"Compare with the reference: {SOLUTION_COMMAND} {passed[0]}", "")
    else:
        page.prose(f"Compare with the reference: {SOLUTION_COMMAND} RUNG (one of "
                   f"{', '.join(passed)})", "", "  ")
    if any(r.status in ("fail", "todo", "error") for r in result.rungs):
        return  # the work left is in this run's own rungs
    following = rung_after(max(passed, key=lambda rung_id: resolve(rung_id).number))
    if following is None:
        page.prose("That was the last rung available: the ladder is done (`kata list` shows "
                   "your verdict on every rung, and the rungs still planned).", "", "  ")
        return
    number = following.id.split("-", 1)[0]
    page.prose(f"Next: {following.id} · {following.title}: open "
               f"exercises/{following.id}/{following.module}, then kata check {number} "
               f"(or kata watch {number} to check on every save).", "", "  ")


def render_summary(result: Result, *, width: int | None = None, colour: bool = False,
                   what_next: bool = False) -> str:
    """What follows the rungs' reports: the totals (several rungs) and what next."""
    return "\n\n".join(_closing(result, width or report_width(), colour, what_next))


def render_text(result: Result, verbose: bool = False, *, width: int | None = None,
                colour: bool = False, what_next: bool = False) -> str:
    """The report; `what_next` adds, after a pass of the learner's code, where to go from here."""
    width = width or report_width()
    blocks = [render_rung(rung, verbose, width=width, colour=colour) for rung in result.rungs]
    return "\n\n".join(blocks + _closing(result, width, colour, what_next))


def _closing(result: Result, width: int, colour: bool, what_next: bool) -> list[str]:
    blocks = []
    if len(result.rungs) > 1:
        page = _Page(width, colour)
        _totals(page, result)
        blocks.append(page.text())
    if what_next:
        page = _Page(width, colour)
        _what_next(page, result)
        if page.lines:
            blocks.append(page.text())
    return blocks
