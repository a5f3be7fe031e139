"""The text report a learner reads: lines that fit the terminal, colour only where wanted, what
their code printed marked as theirs, every marker explained, and where to go after a pass."""

from __future__ import annotations

import io
import re
import unicodedata

import click
import pytest
from click.testing import CliRunner

from grader.catalog import REPO_ROOT, load_catalog, resolve, rung_after
from grader.cli import cli
from grader.reports.text import (
    LEARNER_PREFIX,
    MARKS,
    OUTPUT_LINES,
    colour_wanted,
    render_text,
    report_width,
)
from grader.results import Result
from tests.test_formats import a_rung, a_test, mixed_result

AVAILABLE = [rung for rung in load_catalog() if rung.available]
ANSI = re.compile(r"\x1b\[")
LONG_PROSE = ("the output is off by a factor that grows with the sequence length, which is what "
              "happens when the scores are scaled by the wrong dimension of the query tensor")
CODE_LINE = "    scores = q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1])  # the line that failed"
TABLE_LINE = "  | row | got        | expected   | error      | allowed    | note          |"


def failing(message: str, output: str = "", rung_id: str = "08-attention",
            task: str = "causal_mask") -> Result:
    rung = a_rung(rung_id, {task: a_test(task, "fail", message)})
    rung.tests[[t.task for t in rung.tests].index(task)].output = output
    return Result([rung], meta={"impl": "exercises"})


def printed(lines: int) -> str:
    return "\n".join(f"step {i}: loss {1 / (i + 1):.4f}" for i in range(lines))


# --- wrapping ---------------------------------------------------------------------------------

@pytest.mark.parametrize("width", [60, 80, 100])
def test_every_line_fits_the_width(width):
    result = mixed_result()
    result.rungs[1].tests[1].message = "\n".join([LONG_PROSE, CODE_LINE * 2, TABLE_LINE])
    for verbose in (False, True):
        for line in render_text(result, verbose, width=width).splitlines():
            assert len(line) <= width, line


def test_prose_wraps_and_keeps_its_indentation():
    nested = LONG_PROSE.replace("the ", "THE ")
    lines = render_text(failing(LONG_PROSE + "\n  " + nested), width=80).splitlines()
    outer = [line for line in lines if re.match(r"^ {6}\S", line)]
    inner = [line for line in lines if re.match(r"^ {8}\S", line)]
    assert len(outer) > 1 and " ".join(line.strip() for line in outer) == LONG_PROSE
    assert len(inner) > 1 and " ".join(line.strip() for line in inner) == nested


def test_code_like_lines_keep_their_layout_and_are_only_cut():
    short_code = "    out = x @ w.T  |  expected x @ w"
    text = render_text(failing("\n".join([short_code, CODE_LINE * 2, TABLE_LINE])), width=80)
    lines = text.splitlines()
    assert "      " + short_code in lines
    (long_code,) = [line for line in lines if "scores = q @" in line]
    assert len(long_code) == 80 and long_code.endswith("…")
    assert long_code.startswith("      " + CODE_LINE[:40])
    assert not any(line.lstrip().startswith("math.sqrt") for line in lines)


def test_an_80_column_report_has_no_line_broken_twice():
    """The hint used to be filled at 96 columns; an 80-column terminal then broke each line."""
    text = render_text(failing("wrong"), width=80)
    hint = text[text.index("  Hint for causal_mask: "):].splitlines()
    words = " ".join(line.strip() for line in hint)
    assert words == "Hint for causal_mask: " + " ".join(
        resolve("08").hints["causal_mask"][0].split())
    assert all(len(line) > 50 for line in hint[:-1])  # full lines, not fragments


def test_the_width_is_the_terminals_never_below_60_and_100_without_one(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    assert report_width() == 120
    monkeypatch.setenv("COLUMNS", "40")
    assert report_width() == 60
    monkeypatch.delenv("COLUMNS")

    def no_terminal(*args):
        raise OSError("not a terminal")

    monkeypatch.setattr("os.get_terminal_size", no_terminal)
    assert report_width() == 100


# --- colour -----------------------------------------------------------------------------------

class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert colour_wanted(stream=Terminal()) is True
    assert colour_wanted(stream=io.StringIO()) is False
    for value in ("1", "0", "false", "yes"):
        monkeypatch.setenv("NO_COLOR", value)
        assert colour_wanted(stream=Terminal()) is False, value
    monkeypatch.setenv("NO_COLOR", "")  # no-color.org: an empty value does not count
    assert colour_wanted(stream=Terminal()) is True


def test_the_flags_win_over_the_environment_and_the_stream(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert colour_wanted(True, io.StringIO()) is True
    monkeypatch.delenv("NO_COLOR")
    assert colour_wanted(False, Terminal()) is False


def test_a_coloured_report_is_the_plain_one_painted():
    result = mixed_result()
    plain = render_text(result, True, width=80)
    painted = render_text(result, True, width=80, colour=True)
    assert not ANSI.search(plain) and ANSI.search(painted)
    assert click.unstyle(painted) == plain


def kata_with(monkeypatch, result: Result, *args: str, env: dict | None = None):
    monkeypatch.setattr("grader.cli.grade", lambda *a, **k: result)
    return CliRunner().invoke(cli, ["check", *args], env=env)


def test_kata_check_colours_only_when_asked_outside_a_terminal(monkeypatch):
    result = failing("wrong")
    default = kata_with(monkeypatch, result, "08")
    forced = kata_with(monkeypatch, result, "08", "--color", env={"NO_COLOR": "1"})
    refused = kata_with(monkeypatch, result, "08", "--no-color")
    assert default.exit_code == forced.exit_code == refused.exit_code == 1
    assert not ANSI.search(default.stdout) and not ANSI.search(refused.stdout)
    assert ANSI.search(forced.stdout)
    assert click.unstyle(forced.stdout) == default.stdout


def test_a_text_report_written_to_a_file_has_no_colour(monkeypatch, tmp_path):
    path = tmp_path / "report.txt"
    run = kata_with(monkeypatch, failing("wrong"), "08", "--color", "--output", str(path))
    assert run.exit_code == 1 and ANSI.search(run.stdout)
    assert "FAIL" in path.read_text("utf-8") and not ANSI.search(path.read_text("utf-8"))


# --- what the learner printed -----------------------------------------------------------------

def test_a_failure_shows_what_the_code_printed_capped_and_marked_as_theirs():
    text = render_text(failing("wrong values", printed(OUTPUT_LINES + 12)), width=100)
    lines = text.splitlines()
    start = lines.index("      Your code printed:")
    theirs = lines[start + 1:start + 1 + OUTPUT_LINES]
    assert theirs == ["      " + LEARNER_PREFIX + line
                      for line in printed(OUTPUT_LINES).splitlines()]
    assert lines[start + 1 + OUTPUT_LINES] == "      … 12 more lines of your output; -v shows all"
    assert text.count(LEARNER_PREFIX) == OUTPUT_LINES


def test_verbose_shows_everything_every_check_printed():
    result = failing("wrong values", printed(OUTPUT_LINES + 12))
    passing = result.rungs[0].tests[0]
    passing.output = "debug: shapes look right"
    assert passing.status == "pass"
    quiet, loud = render_text(result, False), render_text(result, True)
    assert "debug: shapes look right" not in quiet
    assert f"          {LEARNER_PREFIX}debug: shapes look right" in loud.splitlines()
    assert loud.count(LEARNER_PREFIX) == OUTPUT_LINES + 12 + 1
    assert "more lines of your output" not in loud


def test_the_learners_text_can_never_pass_for_a_verdict():
    forged = "PASS  20/20 points · 3 of 3 tasks pass · 0.1 s\n\x1b[32m  ✓ causal_mask\x1b[0m"
    text = render_text(failing("wrong", forged), width=100, colour=True)
    for line in click.unstyle(text).splitlines():
        if "20/20" in line or "✓ causal_mask" in line:
            assert line.startswith("      " + LEARNER_PREFIX), line
    assert "\x1b[32m  ✓" not in text


@pytest.mark.parametrize("width", [60, 80, 100])
def test_wide_characters_cannot_push_the_learners_text_onto_a_row_of_its_own(width):
    """A CJK character takes two columns: a printed line of them that is short by `len` would
    wrap, and the text after them would start the next row at its first column, unmarked."""
    forged = "\n".join("\u4e00" * ((w - 8) // 2) + "  PASS  20/20 points" for w in (60, 80, 100))
    message = "\u4e00" * width + " and the rest of the message"
    text = render_text(failing(message, forged), verbose=True, width=width, colour=True)
    for line in click.unstyle(text).splitlines():
        columns = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)
        assert columns <= width, line


def test_nothing_printed_means_no_block():
    assert "Your code printed" not in render_text(failing("wrong", "\n  \n"), True)


# --- markers, legend and zero points ----------------------------------------------------------

def legend() -> str:
    readme = (REPO_ROOT / "README.md").read_text("utf-8")
    start = readme.index("<!-- legend -->")
    return readme[start:readme.index("<!-- /legend -->")]


def test_every_marker_is_explained_in_the_readme_legend():
    text = legend()
    for status, mark in MARKS.items():
        assert f"`{mark}` {status}" in text, status
    assert "not run" in text


def test_every_marker_a_report_prints_is_one_of_the_legends():
    result = mixed_result()
    stopped = a_rung("01", status="error", message="timed out after 20 s during test_x")
    stopped.tests[-1].status, stopped.tests[-1].message = "error", "not run: the run stopped"
    result.rungs.append(stopped)
    marks = set()
    for line in render_text(result, True, width=100).splitlines():
        found = re.match(r"^ {2}(?: {4})?(\S) \S", line)
        if found and not line.lstrip().startswith(("PASS", "FAIL", "TODO", "ERROR")):
            marks.add(found.group(1))
    assert marks and marks <= set(MARKS.values())
    assert all(f"`{mark}`" in legend() for mark in marks)


def test_a_rung_stopped_early_says_why_it_earns_no_points():
    rung = a_rung("08-attention", status="error", message="timed out after 20 s during test_x")
    rung.tests[-1].status, rung.tests[-1].message = "error", "not run: the run stopped"
    text = render_text(Result([rung]), width=100)
    assert "0/20 points · 2 of 3 tasks pass" in text
    assert ("The run stopped before every check had run, so this rung earns no points, not even "
            "for the tasks that pass; fix the error above") in " ".join(text.split())


def test_a_rung_that_could_not_run_says_so():
    rung = a_rung("05", status="error", with_tests=False, message="syntax error at line 3")
    assert "could not run, so it earns no points" in render_text(Result([rung]))


# --- after a pass: what next ------------------------------------------------------------------

def test_a_pass_of_the_learners_code_points_at_the_solution_and_the_next_rung():
    first, second = AVAILABLE[0], rung_after(AVAILABLE[0].id)
    assert second is not None
    text = render_text(Result([a_rung(first.id)], meta={"impl": "exercises"}), width=100,
                       what_next=True)
    flat = " ".join(text.split())
    assert f"kata solution {first.id}" in flat
    assert f"Next: {second.id} · " in flat
    assert f"kata check {second.id.split('-')[0]}" in flat and "kata watch" in flat


def test_no_next_step_for_the_reference_other_formats_or_a_failure():
    passed = [a_rung(AVAILABLE[0].id)]
    assert "Next:" not in render_text(Result(passed, meta={"impl": "reference"}),
                                      what_next=True)
    assert "Next:" not in render_text(Result(passed, meta={"impl": "exercises"}))
    assert "Next:" not in render_text(failing("wrong"), what_next=True)


def test_after_the_last_available_rung_the_ladder_is_done():
    text = render_text(Result([a_rung(AVAILABLE[-1].id)], meta={"impl": "exercises"}),
                       what_next=True)
    assert rung_after(AVAILABLE[-1].id) is None
    assert "the ladder is done" in text and "Next:" not in text


def test_rung_after_follows_the_catalog_and_skips_planned_rungs():
    for before, after in zip(AVAILABLE, AVAILABLE[1:], strict=False):
        assert rung_after(before.id) == after


def test_kata_check_prints_next_only_for_the_text_format(monkeypatch, tmp_path):
    result = Result([a_rung(AVAILABLE[0].id)], meta={"impl": "exercises"})
    text = kata_with(monkeypatch, result, AVAILABLE[0].id)
    assert text.exit_code == 0 and "Next: " in text.stdout
    path = tmp_path / "r.json"
    gradescope = kata_with(monkeypatch, result, AVAILABLE[0].id, "--format", "gradescope",
                           "--output", str(path))
    assert gradescope.exit_code == 0 and "PASS" in gradescope.stdout
    assert "Next: " not in gradescope.stdout and "Next: " not in path.read_text("utf-8")


# --- totals -----------------------------------------------------------------------------------

def test_the_total_leaves_out_skipped_rungs_and_says_so():
    result = mixed_result()
    skipped = [r for r in result.rungs if r.status == "skipped"]
    counted = sum(r.max_points for r in result.rungs if r.status != "skipped")
    total = " ".join(render_text(result).split("\n\n")[-1].split())
    assert f"/{counted:g} points;" in total
    for rung in skipped:
        assert f"{rung.id} ({rung.max_points:g} points)" in total
    assert total.endswith("skipped, not counted")
    assert result.max_points == counted + sum(r.max_points for r in skipped)  # JSON unchanged


def test_after_several_passes_next_is_the_rung_after_the_furthest():
    first, second = AVAILABLE[0], AVAILABLE[1]
    result = Result([a_rung(second.id), a_rung(first.id)], meta={"impl": "exercises"})
    flat = " ".join(render_text(result, what_next=True).split())
    assert f"Next: {AVAILABLE[2].id} · " in flat
    assert f"kata solution RUNG (one of {second.id}, {first.id})" in flat
