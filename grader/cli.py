"""The `kata` command. It parses and prints; the work lives in runner.py, results.py, reports/."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import click

from grader.catalog import UnknownRung, load_catalog, resolve
from grader.export import ExportError, export_course
from grader.progress import load_progress, next_hint_level, record_progress
from grader.reports import RENDERERS, render_text
from grader.reports.github import write_github_files
from grader.runner import GradingInterrupted, SetupError, check_rungs

USAGE_ERROR = 2
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
             no_args_is_help=True)
@click.version_option(package_name="torchkata", prog_name="kata")
def cli() -> None:
    """torchkata: PyTorch katas, graded by hidden specs that explain what went wrong."""


@cli.command("list")
def list_rungs() -> int:
    """Show every rung, its status and your progress.

    \b
    Example:
        kata list
    """
    progress = load_progress()
    for rung in load_catalog():
        state = progress.get(rung.id, "") if rung.available else "planned"
        click.echo(f"{rung.id:<22} {state:<8} {rung.title}")
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
@click.option("-v", "--verbose", is_flag=True, help="List every check, not just the first failure.")
def check(rungs: tuple[str, ...], check_all: bool, impl: str, device: str, output_format: str,
          output_path: Path | None, require_gpu: bool, timeout: float | None,
          verbose: bool) -> int:
    """Grade rungs: exit 0 when all pass, 1 on failures or todo, 2 on bad usage.

    \b
    Examples:
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
        raise click.UsageError("name a rung (kata check 08-attention) or use --all; "
                               "`kata list` shows them")
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
    if output_format == "text" or output_path is not None:
        click.echo(f"Checking {', '.join(r.id for r in chosen)} ({impl})…", err=True)
    try:
        result = check_rungs(chosen, impl=impl, device=device, timeout=timeout,
                             require_gpu=require_gpu)
    except SetupError as exc:
        raise click.UsageError(str(exc)) from None
    if "isolation_warning" in result.meta:
        click.echo(f"kata: warning: {result.meta['isolation_warning']}", err=True)
    if impl == "exercises":
        record_progress(result)
    report = RENDERERS[output_format](result, verbose)
    if output_format == "github":
        write_github_files(result)
    if output_path is not None:
        output_path.write_text(report + "\n", encoding="utf-8")
    if output_path is None or output_format == "github":
        click.echo(report)  # github's stdout wraps learner text in ::stop-commands::
    else:
        click.echo(render_text(result, verbose))
    return result.exit_code


@cli.command()
@click.argument("rung")
def hint(rung: str) -> int:
    """Show the next hint for a rung; each call reveals one more (three in all).

    \b
    Example:
        kata hint 08-attention
    """
    try:
        chosen = resolve(rung)
    except UnknownRung as exc:
        raise click.UsageError(str(exc)) from None
    level = next_hint_level(chosen.id, len(chosen.hints))
    for number, text in enumerate(chosen.hints[:level], start=1):
        click.echo(f"Hint {number} of {len(chosen.hints)} for {chosen.id}:")
        click.echo(textwrap.indent(textwrap.fill(text, 96), "  "))
    if level < len(chosen.hints):
        click.echo(f"(`kata hint {chosen.id}` again for the next one)")
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
