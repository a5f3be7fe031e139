"""`kata compare`: learner against reference, error and time per task, informational only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.catalog import load_catalog, resolve
from grader.cli import cli
from grader.comparison import Row, compare_path, parse_row, rows_from_run
from grader.harness.comparison_row import ROW_MARK
from grader.runner import WorkerRun

MUTANTS = Path(__file__).parent / "mutants"
PLANNED = next(rung.id for rung in load_catalog() if not rung.available)


def kata(*args: str):
    return CliRunner().invoke(cli, list(args))


def task_lines(output: str, rung_id: str) -> dict[str, list[str]]:
    """Each task's table line, split into cells (times keep their unit as a cell of its own)."""
    tasks = resolve(rung_id).tasks
    lines = {}
    for line in output.splitlines():
        cells = line.split()
        if cells and cells[0] in tasks:
            lines[cells[0]] = cells[1:]
    return lines


def test_every_available_rung_has_a_compare_file():
    for rung in load_catalog():
        if rung.available:
            assert compare_path(rung).is_file(), rung.id


@pytest.mark.parametrize("rung_id", ["01-tensors", "08-attention"])
def test_the_reference_against_itself_has_no_error_anywhere(rung_id):
    result = kata("compare", rung_id, "--impl", "reference")
    assert result.exit_code == 0, result.output
    lines = task_lines(result.stdout, rung_id)
    assert set(lines) == set(resolve(rung_id).tasks), result.stdout
    for task, cells in lines.items():
        assert cells[:2] == ["0", "0"], (task, cells)
        assert cells[-1].endswith("x"), (task, cells)  # learner/reference is measured


def test_a_stub_shows_todo_for_every_task():
    result = kata("compare", "08", "--impl", "exercises")
    assert result.exit_code == 0, result.output
    lines = task_lines(result.stdout, "08-attention")
    assert lines == {task: ["todo"] for task in resolve("08").tasks}, result.stdout


def test_a_mutant_shows_a_nonzero_error_where_it_is_wrong():
    result = kata("compare", "08", "--impl", str(MUTANTS / "08-attention" / "mutant_no_scale.py"))
    assert result.exit_code == 0, result.output
    lines = task_lines(result.stdout, "08-attention")
    assert float(lines["scaled_dot_product_attention"][0]) > 1e-3, result.stdout
    assert lines["causal_mask"][:2] == ["0", "0"], result.stdout


@pytest.mark.parametrize("args,message", [
    (["compare", "atention"], "kata: no rung 'atention'; did you mean 08-attention?"),
    (["compare", PLANNED], f"kata: {PLANNED}: planned, not available yet"),
    (["compare", "08", "--impl", "/no/such/file.py"], "kata: --impl /no/such/file.py: no such"),
    (["compare", "08", "--device", "tpu"], "kata: Invalid value for '--device'"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = kata(*args)
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert result.output.startswith(message), result.output


def test_a_file_that_breaks_the_rules_is_refused_with_the_rules_message(tmp_path):
    learner = tmp_path / "attention.py"
    learner.write_text("import subprocess\n\n\ndef causal_mask(seq_len, device=None):\n"
                       "    return subprocess.run(['true'])\n", encoding="utf-8")
    result = kata("compare", "08", "--impl", str(learner))
    assert result.exit_code == 1, result.output
    assert "subprocess" in result.stdout and "----" not in result.stdout, result.stdout


def record(message: object, status: object = "fail", **fields: object) -> dict[str, object]:
    return {"kind": "test", "nodeid": "c::t", "status": status, "message": message, **fields}


def test_a_row_reads_back_as_sent():
    sent = {"abs": 0.5, "rel": 0.25, "learner": 2e-3, "reference": 1e-3, "builtin": None,
            "builtin_name": "F.thing", "note": "x (4, 4)"}
    row = parse_row("t", record(ROW_MARK + json.dumps(sent)))
    assert row == Row("t", "row", 0.5, 0.25, 2e-3, 1e-3, None, "F.thing", "x (4, 4)")
    assert row.ratio == 2.0


@pytest.mark.parametrize("message,status,state", [
    (ROW_MARK + "{not json", "fail", "error"),
    (ROW_MARK + "[1, 2]", "fail", "error"),
    (ROW_MARK + "[" * 100_000, "fail", "error"),
    ("ValueError: boom\n  raised at attention.py:3: raise", "fail", "error"),
    (12345, "fail", "error"),
    ("not implemented yet (08-attention)", "todo", "todo"),
    (ROW_MARK + "{}", "pass", "error"),  # only a failed outcome carries a row
    ("skipping it myself", "skipped", "error"),  # not the grader's skip
])
def test_garbage_from_the_worker_becomes_a_row_never_an_exception(message, status, state):
    row = parse_row("t", record(message, status))
    assert row.state == state
    assert row.max_abs is None and row.learner is None


def test_numbers_and_names_from_the_worker_are_checked_and_cleaned():
    sent = {"abs": float("nan"), "rel": -1, "learner": float("inf"), "reference": True,
            "builtin": "fast", "builtin_name": "\x1b[32mPASS\x1b[0m" + "x" * 500,
            "note": "line one\nline two\u202e"}
    row = parse_row("t", record(ROW_MARK + json.dumps(sent)))
    assert (row.max_abs, row.max_rel, row.learner, row.reference, row.builtin) == (None,) * 5
    assert "\x1b" not in row.builtin_name and len(row.builtin_name) < 100
    assert row.note == "line one"
    assert row.ratio is None


def test_a_task_without_its_result_says_the_run_stopped():
    rung = resolve("08")
    manifest = [{"nodeid": f"c::{task}", "task": task} for task in rung.tasks]
    manifest.append({"nodeid": "c::forged", "task": "not-a-task"})
    run = WorkerRun(records=[record(ROW_MARK + "{}", nodeid="c::causal_mask"),
                             record("x", nodeid="c::causal_mask")])
    rows = rows_from_run(manifest, run, rung)
    assert [row.task for row in rows] == list(rung.tasks)
    assert {row.state for row in rows} == {"error"}
    assert rows[0].note.startswith("not run") and rows[1].note.startswith("more than one")
