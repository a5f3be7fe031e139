"""The `kata` command. It parses and prints; the work lives in runner.py, results.py, reports/."""

from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

import click

from grader.catalog import Rung, UnknownRung, hint_for, load_catalog, resolve
from grader.checking import Request, default_jobs, grade
from grader.doctor import doctor_lines
from grader.export import ExportError, export_course
from grader.overview import all_done_lines, list_lines, next_lines, overview, stub_label
from grader.pristine import ResetError, is_pristine, reset_exercise
from grader.progress import (
    current_rung,
    load_progress,
    next_hint_level,
    record_progress,
    task_to_hint,
)
from grader.reports import RENDERERS, render_text
from grader.reports.github import write_github_files
from grader.reports.live import ProgressLine
from grader.reports.text import colour_wanted, render_rung, render_summary
from grader.results import RungResult
from grader.runner import GradingInterrupted, SetupError
from grader.solution import SolutionRefused, check_solution_allowed, solution_lines

USAGE_ERROR = 2
WATCH_OUTPUT_LINES = 12  # a screen, not a scroll-back: the first failure and a little output
INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C


class KataGroup(click.Group):
    """A click group whose usage errors are one line on stderr and exit code 2."""

    def main(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else "kata --help")
            sys.exit(0)
        except click.UsageError as exc:
            click.echo(f"kata: {exc.format_message()}", err=True)
            sys.exit(USAGE_ERROR)
        except GradingInterrupted as exc:
            click.echo(f"kata: stopped by Ctrl-C in {exc.where}; nothing was graded and no "
                       "process is left running", err=True)
            sys.exit(INTERRUPTED)
        except (click.exceptions.Abort, KeyboardInterrupt):
            click.echo("kata: stopped by Ctrl-C", err=True)
            sys.exit(INTERRUPTED)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=KataGroup, context_settings={"help_option_names": ["-h", "--help"]},
             invoke_without_command=True)
@click.version_option(package_name="torchkata", prog_name="kata")
@click.pass_context
def cli(ctx: click.Context) -> int | None:
    """torchkata: PyTorch katas, graded by hidden specs that explain what went wrong.

    `kata` alone checks the rung you are on (`kata next` says which).
    """
    if ctx.invoked_subcommand is None:
        return int(ctx.invoke(check))
    return None


def _known_rung(name: str) -> Rung:
    """The rung `name` names; a usage error (one line, exit 2) for one that is unknown."""
    try:
        return resolve(name)
    except UnknownRung as exc:
        raise click.UsageError(str(exc)) from None


def _available_rung(name: str) -> Rung:
    rung = _known_rung(name)
    if not rung.available:
        raise click.UsageError(f"{rung.id}: planned, not available yet")
    return rung


@cli.command("list")
def list_rungs() -> int:
    """Show every rung with your best and last verdict, tasks, points and a progress bar.

    \b
    Example:
        kata list
    """
    for line in list_lines(overview()):
        click.echo(line)
    return 0


@cli.command("next")
def next_rung() -> int:
    """Say which rung to work on, its file and the command that checks it.

    \b
    Example:
        kata next
    """
    for line in next_lines(overview()):
        click.echo(line)
    return 0


@cli.command()
@click.argument("rungs", nargs=-1)
@click.option("--all", "check_all", is_flag=True, help="Check every available rung.")
@click.option("--impl", default="exercises", show_default=True, metavar="exercises|reference|PATH",
              help="What to grade: your exercises, the reference, or one .py file.")
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu",
              show_default=True, help="Where spec inputs live; cuda also runs GPU-only checks.")
@click.option("--format", "output_format", type=click.Choice(sorted(RENDERERS)),
              default="text", show_default=True,
              help="Report format: text, json, junit, gradescope, prairielearn, or github "
                   "(annotations on stdout; the score to $GITHUB_OUTPUT and a summary to "
                   "$GITHUB_STEP_SUMMARY when set).")
@click.option("--output", "output_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the report to this file; the text report then goes to "
                                 "stdout.")
@click.option("--require-gpu", is_flag=True,
              help="Count GPU-only checks skipped for lack of a GPU as failed (they cost no "
                   "points otherwise).")
@click.option("--timeout", type=click.FloatRange(min=1), default=None,
              help="Seconds before a rung's run is stopped (default: the rung's own).")
@click.option("--task", "task", default=None, metavar="NAME",
              help="Check one task of the rung (its points only; progress is not recorded).")
@click.option("--cold", is_flag=True,
              help="No warm worker and no background server: a fresh Python per rung "
                   "(also KATA_SERVER=0 for the server alone).")
@click.option("-v", "--verbose", is_flag=True,
              help="List every check and what your code printed in each, not just the first "
                   "failure.")
@click.option("--color/--no-color", "color", default=None,
              help="Colour the text report (default: on a terminal, unless NO_COLOR is set).")
def check(rungs: tuple[str, ...], check_all: bool, impl: str, device: str, output_format: str,
          output_path: Path | None, require_gpu: bool, timeout: float | None, task: str | None,
          cold: bool, verbose: bool, color: bool | None) -> int:
    """Grade rungs (the current one when none is named): exit 0 when all pass, 1 on failures
    or todo, 2 on bad usage.

    \b
    Examples:
        kata check
        kata check 08-attention
        kata check 08 --impl my_attention.py -v
        kata check --all --impl reference --format json
        kata check --all --format gradescope --output results.json
    """
    try:
        chosen = [resolve(name) for name in rungs]
    except UnknownRung as exc:
        raise click.UsageError(str(exc)) from None
    if check_all:
        chosen = [rung for rung in load_catalog() if rung.available]
    if not chosen:
        current = current_rung()
        if current is None:
            for line in all_done_lines(overview()):
                click.echo(line, err=output_format != "text")
            return 0
        chosen = [current]
    planned = [rung.id for rung in chosen if not rung.available]
    if planned:
        raise click.UsageError(f"{', '.join(planned)}: planned, not available yet")
    if impl not in ("exercises", "reference"):
        if len(chosen) != 1:
            raise click.UsageError("--impl PATH stands in for one rung's module; name one rung")
        if not Path(impl).is_file():
            raise click.UsageError(f"--impl {impl}: no such file")
    if output_path is not None and output_path.parent and not output_path.parent.is_dir():
        raise click.UsageError(f"--output {output_path}: no directory {output_path.parent}")
    if task is not None:
        if len(chosen) != 1:
            raise click.UsageError("--task NAME checks one task of one rung; name one rung")
        if task not in chosen[0].tasks:
            raise click.UsageError(f"--task {task}: {chosen[0].id} has no such task (its tasks: "
                                   f"{', '.join(chosen[0].tasks)})")
    streaming = output_format == "text" and output_path is None
    colour = colour_wanted(color)
    request = Request(rungs=tuple(chosen), impl=impl, device=device, timeout=timeout,
                      require_gpu=require_gpu, task=task, jobs=default_jobs(len(chosen)))
    printed = 0
    with ProgressLine(len(chosen)) as progress:
        if not progress.enabled and (output_format == "text" or output_path is not None):
            click.echo(f"Checking {', '.join(r.id for r in chosen)} ({impl})…", err=True)
        def rung_done(rung: RungResult) -> None:
            nonlocal printed
            progress.rung_done(rung.id)
            if streaming:
                progress.clear()
                click.echo(("\n" if printed else "")
                           + render_rung(rung, verbose, colour=colour), color=colour)
                printed += 1

        try:
            result = grade(request, cold=cold, on_start=progress.rung_started,
                           on_done=rung_done)
        except SetupError as exc:
            raise click.UsageError(str(exc)) from None
        except KeyboardInterrupt:
            raise GradingInterrupted(", ".join(progress.running) or "start-up") from None
    if "isolation_warning" in result.meta:
        click.echo(f"kata: warning: {result.meta['isolation_warning']}", err=True)
    if impl == "exercises" and task is None:
        record_progress(result)
    if streaming:
        for rung in result.rungs[printed:]:  # a grader that did not stream them (tests)
            click.echo(("\n" if printed else "") + render_rung(rung, verbose, colour=colour),
                       color=colour)
            printed += 1
        summary = render_summary(result, colour=colour, what_next=True)
        if summary:
            click.echo("\n" + summary, color=colour)
        return result.exit_code
    report = RENDERERS[output_format](result, verbose)
    if output_format == "github":
        write_github_files(result)
    if output_path is not None:
        output_path.write_text(report + "\n", encoding="utf-8")
    if output_format == "github" or (output_path is None and output_format != "text"):
        click.echo(report)  # github's stdout wraps learner text in ::stop-commands::
    else:
        colour = colour_wanted(color)
        click.echo(render_text(result, verbose, colour=colour,
                               what_next=output_format == "text"), color=colour)
    return result.exit_code


@cli.command()
@click.argument("rung", required=False)
def watch(rung: str | None) -> int:
    """Check a rung again every time you save its file (the current rung by default).

    Keys: h the next hint, n the next rung, s the reference (after a pass), q quit.

    \b
    Example:
        kata watch 08-attention
    """
    from grader.watch import watch as watch_rung

    if rung is not None:
        chosen = _available_rung(rung)
    else:
        current = current_rung()
        if current is None:
            raise click.UsageError("every rung passes; name one to watch "
                                   "(kata watch 08-attention)")
        chosen = current

    def hint_text(result: RungResult | None, at: Rung) -> str:
        return "\n".join(_hint_lines(at, None))

    def solution_text(at: Rung) -> str:
        try:
            check_solution_allowed(at, load_progress(), force=False)
        except SolutionRefused as exc:
            return str(exc)
        return "\n".join(solution_lines(at, shutil.get_terminal_size().columns))

    colour = colour_wanted(None)
    return watch_rung(chosen, render=lambda result: render_rung(
        result, False, colour=colour, first_only=True, output_lines=WATCH_OUTPUT_LINES),
                      record=record_progress, hint=hint_text, solution=solution_text)


@cli.command()
@click.argument("rung")
@click.argument("task", required=False)
def hint(rung: str, task: str | None) -> int:
    """Show the next hint for a task; each call reveals one more. Without TASK: the first task
    that failed or is todo in your last check.

    \b
    Examples:
        kata hint 08-attention
        kata hint 08 causal_mask
    """
    for line in _hint_lines(_known_rung(rung), task):
        click.echo(line)
    return 0


def _hint_lines(chosen: Rung, task: str | None) -> list[str]:
    """The hints of `task` (or of the first task not passing) shown so far, one more than last
    time; counting it as shown."""
    if task is None:
        task = task_to_hint(chosen)
    else:
        named = {name.lower(): name for name in chosen.tasks}
        if task.lower() not in named:
            raise click.UsageError(f"{chosen.id} has no task {task!r}; its tasks: "
                                   f"{', '.join(chosen.tasks)}")
        task = named[task.lower()]
    count = len(chosen.hints.get(task, ()))
    if count == 0:
        return [f"{chosen.id} {task}: no hints yet"]
    level = next_hint_level(chosen.id, task, count)
    lines = []
    for number in range(1, level + 1):
        lines.append(f"Hint {number} of {count} for {chosen.id} {task}:")
        lines.append(textwrap.indent(textwrap.fill(hint_for(chosen, task, number) or "", 96),
                                     "  "))
    if level < count:
        lines.append(f"(`kata hint {chosen.id} {task}` again for the next one)")
    else:
        lines.append(f"(no more hints for {task}; `kata solution {chosen.id}` shows the "
                     "reference once the rung passes)")
    return lines


@cli.command()
@click.argument("rung")
@click.option("--force", is_flag=True, help="Show it before the rung passes.")
def solution(rung: str, force: bool) -> int:
    """Show the reference solution beside your file, once the rung passes (or with --force).

    Side by side when the terminal is at least 160 columns wide, else the reference and then a
    diff of your file against it.

    \b
    Examples:
        kata solution 08-attention
        kata solution 08 --force
    """
    chosen = _available_rung(rung)
    try:
        check_solution_allowed(chosen, load_progress(), force)
    except SolutionRefused as exc:
        raise click.UsageError(str(exc)) from None
    for line in solution_lines(chosen, shutil.get_terminal_size().columns):
        click.echo(line)
    return 0


@cli.command()
@click.argument("rung")
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
def reset(rung: str, yes: bool) -> int:
    """Put a rung's stub back; your file is kept in .kata/backups/.

    \b
    Example:
        kata reset 08-attention
    """
    chosen = _available_rung(rung)
    label = stub_label(chosen)
    if is_pristine(chosen):
        click.echo(f"{label} is the stub already; nothing to reset.")
        return 0
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError(f"reset would replace {label} with the stub; no terminal "
                                   f"to ask, so run `kata reset {chosen.id} --yes`")
        if not click.confirm(f"Replace {label} with the stub (your file is kept)?"):
            click.echo("Nothing changed.")
            return 0
    try:
        kept = reset_exercise(chosen)
    except ResetError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"{label} is the stub again.")
    if kept is not None:
        here = Path.cwd()
        shown = kept.relative_to(here) if kept.is_relative_to(here) else kept
        click.echo(f"Your version is in {shown}.")
    return 0


@cli.command()
def doctor() -> int:
    """Show what the grader runs with: Python, torch, CUDA, threads, extras, tools, user.

    \b
    Example:
        kata doctor
    """
    from grader import server

    for line in doctor_lines():
        click.echo(line)
    click.echo(server.describe_state())
    return 0


@cli.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--without-reference", is_flag=True,
              help="Leave the readable solutions out of learners/; the grader keeps a compressed "
                   "copy as its oracle (not a secret: see docs/grading.md).")
def export(directory: Path, without_reference: bool) -> int:
    """Write a course copy: DIRECTORY/learners to hand out, DIRECTORY/autograder to grade with.

    learners/ has the stubs, the grader with the public specs, a GitHub Actions workflow wired to
    the grading reporter and a .devcontainer/. autograder/ adds hidden specs, the references and
    Gradescope's setup.sh and run_autograder (and run_prairielearn); never hand it out.

    \b
    Example:
        kata export ../course --without-reference
    """
    try:
        summary = export_course(directory, without_reference=without_reference)
    except ExportError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"Exported {len(summary.rungs)} rungs ({', '.join(summary.rungs)}).")
    click.echo(f"  {summary.learners}: hand this out (a template repository or a zip).")
    if summary.oracles:
        click.echo("    no readable references; the grader's oracle is compressed in "
                   "grader/oracle/.")
    for rung_id, count in sorted(summary.hidden.items()):
        click.echo(f"    {rung_id}: {count} hidden spec test(s) left out; they run at grading.")
    click.echo(f"  {summary.autograder}: instructors only; zip its contents for Gradescope "
               "or build a PrairieLearn image from it.")
    click.echo("  Step by step: docs/grading.md.")
    return 0


@cli.command()
@click.argument("rung")
@click.option("--impl", default="exercises", show_default=True, metavar="exercises|reference|PATH",
              help="What to compare with the reference: your exercises, the reference itself, "
                   "or one .py file.")
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu",
              show_default=True, help="cpu: one table; cuda (or auto with a GPU): a CUDA table "
                                      "as well.")
@click.option("--timeout", type=click.FloatRange(min=1), default=None,
              help="Seconds before a run is stopped (default: the rung's own).")
def compare(rung: str, impl: str, device: str, timeout: float | None) -> int:
    """Compare your code with the reference: error and time per task (no points).

    Exit 0 when the table was made, 1 when your file breaks the rung's rules (nothing runs),
    2 on bad usage.

    \b
    Examples:
        kata compare 08-attention
        kata compare 01 --impl my_tensors.py --device auto
    """
    from grader.comparison import CompareRefused, compare_rung, render_tables

    try:
        chosen = resolve(rung)
    except UnknownRung as exc:
        raise click.UsageError(str(exc)) from None
    if not chosen.available:
        raise click.UsageError(f"{chosen.id}: planned, not available yet")
    if impl not in ("exercises", "reference") and not Path(impl).is_file():
        raise click.UsageError(f"--impl {impl}: no such file")
    click.echo(f"Comparing {chosen.id} ({impl}) with the reference…", err=True)
    try:
        tables = compare_rung(chosen, impl=impl, device=device, timeout=timeout)
    except SetupError as exc:
        raise click.UsageError(str(exc)) from None
    except CompareRefused as exc:
        click.echo(str(exc))
        return 1
    click.echo(render_tables(tables, impl))
    return 0
