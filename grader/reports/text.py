"""The default report: per rung a verdict, per task a line, per failing task its first failure."""

from __future__ import annotations

import textwrap

import click

from grader.catalog import hint_for, resolve
from grader.results import Result, RungResult

MARKS = {"pass": ("✓", "green"), "fail": ("✗", "red"), "error": ("!", "red"),
         "todo": ("·", "yellow"), "skipped": ("-", "bright_black")}
VERDICTS = {"pass": "PASS", "fail": "FAIL", "todo": "TODO", "error": "ERROR",
            "skipped": "SKIPPED"}


def _indent(text: str, prefix: str) -> str:
    return textwrap.indent(text, prefix)


def _task_lines(rung: RungResult, verbose: bool) -> list[str]:
    if rung.status in ("error", "skipped") and not rung.tests:
        return []
    lines: list[str] = []
    shown: set[str] = set()
    for task in rung.tasks:
        status = rung.task_status(task)
        mark, colour = MARKS.get(status, ("?", "white"))
        label = click.style(f"  {mark} {task}", fg=colour)
        problem = rung.first_problem(task)
        if status == "todo":
            lines.append(f"{label}  todo")
        elif status == "error" and problem and problem.message.startswith("not run"):
            lines.append(f"{label}  not run")
        elif status in ("fail", "error") and problem:
            lines.append(f"{label}  [{problem.category}] {problem.name}")
            if problem.message in shown:
                lines.append("      (the same failure as above)")
            else:
                lines.append(_indent(problem.message, "      "))
                shown.add(problem.message)
        else:
            lines.append(label)
        if verbose:
            for test in (t for t in rung.tests if t.task == task):
                mark, colour = MARKS.get(test.status, ("?", "white"))
                ratio = f" ({test.ratio:.2f}× the reference)" if test.ratio else ""
                lines.append(click.style(f"      {mark} {test.category:<10} {test.name}{ratio}",
                                         fg=colour))
                if test.status in ("fail", "error", "skipped") and test.message \
                        and test is not problem:
                    lines.append(_indent(test.message, "          "))
    return lines


def render_rung(rung: RungResult, verbose: bool) -> str:
    header = click.style(f"{rung.id}", bold=True) + f" · {rung.title}"
    lines = [header]
    if rung.message:
        lines.append(_indent(rung.message, "  "))
    lines += _task_lines(rung, verbose)
    if rung.status == "skipped":
        lines.append("  " + click.style("SKIPPED", fg="bright_black", bold=True)
                     + "  not graded, not failed")
        return "\n".join(lines)
    passed = sum(rung.task_status(t) in ("pass", "skipped") for t in rung.tasks)
    verdict = VERDICTS.get(rung.status, rung.status.upper())
    if rung.status == "pass" and rung.hidden_pending:
        verdict = "PASS (public specs)"
    colour = "green" if rung.status == "pass" else ("yellow" if rung.status == "todo" else "red")
    lines.append(
        "  " + click.style(verdict, fg=colour, bold=True)
        + f"  {rung.points:g}/{rung.max_points:g} points · {passed} of {len(rung.tasks)} "
        f"tasks pass · {rung.duration:.1f} s"
    )
    if rung.hidden_pending:
        specs = "spec" if rung.hidden_pending == 1 else "specs"
        done = "public specs passed; " if rung.status == "pass" else ""
        lines.append(f"  {done}{rung.hidden_pending} hidden {specs} run at grading, "
                     "so these points are not final.")
    if rung.status == "todo" and rung.tasks_todo:
        lines.append(f"  Still todo: {', '.join(rung.tasks_todo)}. Open {_stub(rung)} and "
                     "replace each `raise NotImplementedError` with your code.")
    failing = [t for t in rung.tasks if rung.task_status(t) == "fail"]
    hint = hint_for(resolve(rung.id), failing[0]) if rung.status == "fail" and failing else None
    if hint:  # the first hint of the first failing task; `kata hint` has the rest
        lines.append(_indent(textwrap.fill(f"Hint for {failing[0]}: " + hint, 96), "  "))
    return "\n".join(lines)


def _stub(rung: RungResult) -> str:
    catalog_rung = resolve(rung.id)
    return f"exercises/{catalog_rung.id}/{catalog_rung.module}"


def render_summary(result: Result) -> str:
    """The line under several rungs' reports; empty for one rung."""
    if len(result.rungs) <= 1:
        return ""
    counts = {s: sum(r.status == s for r in result.rungs) for s in VERDICTS}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    points = sum(r.points for r in result.rungs)
    total = sum(r.max_points for r in result.rungs)
    return f"{len(result.rungs)} rungs: {summary} · {points:g}/{total:g} points"


def render_text(result: Result, verbose: bool = False) -> str:
    blocks = [render_rung(rung, verbose) for rung in result.rungs]
    summary = render_summary(result)
    return "\n\n".join(blocks + ([summary] if summary else []))
