"""The kata command, driven as a user would; usage errors are one line and exit code 2."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.catalog import load_catalog, resolve
from grader.cli import cli
from grader.pristine import pristine_stub
from grader.progress import load_progress, record_progress
from grader.results import Result, RungResult, TestResult, rung_status, split_points

PLANNED = next(rung.id for rung in load_catalog() if not rung.available)
AVAILABLE = [rung for rung in load_catalog() if rung.available]


def kata(*args: str):
    return CliRunner().invoke(cli, list(args))


def fake_result(rung_id: str, statuses: dict[str, str], impl: Path | None = None) -> Result:
    """What a check of exercises/ would return with these task statuses (todo for the rest)."""
    rung = resolve(rung_id)
    tests = [TestResult(name=f"test_{task}", task=task, category="values",
                        status=statuses.get(task, "todo"), message=f"{task}: 3 elements are off")
             for task in rung.tasks]
    result = RungResult(id=rung.id, title=rung.title, status=rung_status(tests), points=0.0,
                        max_points=rung.points, impl=str(impl or rung.exercise_path),
                        tests=tests, tasks=list(rung.tasks))
    result.points = round(sum(score.points for score in result.task_scores()), 2)
    return Result(rungs=[result], meta={"impl": "exercises"})


def skipped_result(rung_id: str) -> Result:
    rung = resolve(rung_id)
    return Result(rungs=[RungResult(id=rung.id, title=rung.title, status="skipped", points=0.0,
                                    max_points=rung.points, impl=str(rung.exercise_path),
                                    tasks=list(rung.tasks))])


def pass_all(but: tuple[str, ...] = ()) -> None:
    for rung in AVAILABLE:
        if rung.id not in but:
            record_progress(fake_result(rung.id, dict.fromkeys(rung.tasks, "pass")))


@pytest.fixture
def checked(monkeypatch):
    """`kata check` without the worker: the rungs it was asked for, and a canned verdict."""
    asked: list[str] = []

    def grade(request, **options):
        asked.extend(rung.id for rung in request.rungs)
        return fake_result(request.rungs[0].id, {resolve(request.rungs[0].id).tasks[0]: "fail"})

    monkeypatch.setattr("grader.cli.grade", grade)
    return asked


def test_list_shows_every_rung_and_marks_planned_ones():
    result = kata("list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"0 of {len(AVAILABLE)} rungs pass (> marks the one to work on)"
    assert lines[1].split()[:5] == ["rung", "best", "last", "tasks", "points"]
    assert lines[2].startswith("> 01-tensors ") and lines[3].startswith("  02-autograd ")
    planned = lines.index("Planned (not gradable yet):")
    assert planned == 2 + len(AVAILABLE) + 1
    assert any(line.split()[0] == PLANNED for line in lines[planned:])
    total = sum(rung.points for rung in AVAILABLE)
    assert lines[-1] == f"Total: [{'-' * 20}] 0/{total:g} points"


@pytest.mark.parametrize("args,message", [
    (["check", "atention"], "kata: no rung 'atention'; did you mean 08-attention?"),
    (["hint", "08", "nope"], "kata: 08-attention has no task 'nope'; its tasks: "
                             "scaled_dot_product_attention, causal_mask, MultiHeadAttention"),
    (["hint", "atention"], "kata: no rung 'atention'; did you mean 08-attention?"),
    (["solution", PLANNED], f"kata: {PLANNED}: planned, not available yet"),
    (["solution", "08"], "kata: 08-attention: the solution is shown once the rung passes (not "
                         "checked yet)"),
    (["reset", PLANNED], f"kata: {PLANNED}: planned, not available yet"),
    (["reset", "zzzzzz"], "kata: no rung 'zzzzzz'; `kata list` shows them all"),
    (["check", PLANNED], f"kata: {PLANNED}: planned, not available yet"),
    (["check", "08", "--impl", "/no/such/file.py"], "kata: --impl /no/such/file.py: no such file"),
    (["check", "01", "08", "--impl", "x.py"], "kata: --impl PATH stands in for one rung's module"),
    (["check", "08", "--format", "yaml"], "kata: Invalid value for '--format'"),
    (["frobnicate"], "kata: No such command 'frobnicate'"),
    (["check", "01", "--output", "/no/such/dir/r.json"],
     "kata: --output /no/such/dir/r.json: no directory /no/such/dir"),
])
def test_bad_input_gets_one_clear_line_and_exit_2(args, message):
    result = kata(*args)
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert result.output.startswith(message), result.output


def test_every_command_has_help_with_an_example():
    for command in cli.commands:
        result = kata(command, "--help")
        assert result.exit_code == 0
        assert "Example" in result.output


def test_json_is_exactly_one_object_with_the_documented_fields():
    result = kata("check", "08", "--impl", "reference", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "pass"
    assert {"kata_version", "torch", "device", "rungs"} <= report.keys()
    (rung,) = report["rungs"]
    assert rung["id"] == "08-attention" and rung["status"] == "pass"
    assert rung["points"] == rung["max_points"] > 0
    for test in rung["tests"]:
        assert {"name", "task", "category", "status", "message"} <= test.keys()


def test_the_stub_reports_each_task_todo_and_exits_1():
    result = kata("check", "attention")
    assert result.exit_code == 1, result.output
    assert "TODO" in result.output
    assert "Still todo: scaled_dot_product_attention, causal_mask, MultiHeadAttention" \
        in result.output


def test_verbose_lists_every_check():
    quiet = kata("check", "01", "--impl", "reference")
    loud = kata("check", "01", "--impl", "reference", "-v")
    assert quiet.exit_code == loud.exit_code == 0
    assert len(loud.output.splitlines()) > len(quiet.output.splitlines())


def test_hints_are_revealed_one_more_per_call_per_task():
    task = "MultiHeadAttention"
    count = len(resolve("08").hints[task])
    runs = [kata("hint", "attention", task) for _ in range(count + 1)]
    for shown, run in enumerate(runs, start=1):
        assert run.exit_code == 0, run.output
        assert run.output.count(f"for 08-attention {task}:") == min(shown, count)
    assert "again for the next one" in runs[0].output
    assert f"no more hints for {task}; `kata solution 08-attention`" in runs[-1].output
    assert "Hint 1 of" in kata("hint", "08", "causal_mask").output  # other tasks start over


def test_hint_without_a_task_helps_with_the_first_task_still_open():
    assert "for 08-attention scaled_dot_product_attention:" in kata("hint", "08").output
    record_progress(fake_result("08", {"scaled_dot_product_attention": "pass",
                                       "causal_mask": "pass", "MultiHeadAttention": "fail"}))
    assert "Hint 1 of 3 for 08-attention MultiHeadAttention:" in kata("hint", "08").output


def test_a_rung_whose_extra_is_missing_is_skipped_with_the_install_command(monkeypatch):
    hf = next(rung for rung in load_catalog() if rung.extra)
    monkeypatch.setattr("grader.runner.missing_requirements", lambda rung: list(rung.requires))
    text = kata("check", hf.id)
    assert text.exit_code == 0, text.output
    assert f"skipped: install the {hf.extra} extra: " in text.output
    assert f"scripts/bootstrap {hf.extra}" in text.output and "SKIPPED" in text.output
    assert "Traceback" not in text.output
    report = json.loads(kata("check", hf.id, "--format", "json").stdout)
    assert report["status"] == report["rungs"][0]["status"] == "skipped"
    assert report["points"] == 0


def test_gpu_checks_cost_nothing_without_a_gpu_unless_required():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU; the skip being tested cannot happen")
    relaxed = json.loads(kata("check", "08", "--impl", "reference", "--format", "json").stdout)
    strict = kata("check", "08", "--impl", "reference", "--format", "json", "--require-gpu")
    assert strict.exit_code == 1
    (rung,) = json.loads(strict.stdout)["rungs"]
    gpu = [test for test in rung["tests"] if test["category"] == "gpu"]
    assert gpu and all(t["status"] == "fail" and "--require-gpu" in t["message"] for t in gpu)
    assert relaxed["rungs"][0]["points"] == rung["max_points"] > rung["points"]


def test_output_writes_the_report_to_a_file_and_the_text_to_stdout(tmp_path):
    path = tmp_path / "result.json"
    result = kata("check", "01", "--impl", "reference", "--format", "json", "--output", str(path))
    assert result.exit_code == 0, result.output
    assert json.loads(path.read_text())["rungs"][0]["status"] == "pass"
    assert "01-tensors" in result.stdout and "PASS" in result.stdout


def test_progress_keeps_the_best_and_the_last_verdict():
    rung = resolve("01")
    half = dict.fromkeys(rung.tasks[:3], "pass")
    for statuses in (half, {}):
        record_progress(fake_result("01", {**statuses, rung.tasks[-1]: "fail"}))
    entry = load_progress().rungs["01-tensors"]
    three = round(sum(split_points(rung.points, len(rung.tasks))[:3]), 2)
    assert (entry.best.status, entry.best.tasks_passed, entry.best.points) == ("fail", 3, three)
    assert (entry.last.status, entry.last.tasks_passed, entry.last.points) == ("fail", 0, 0.0)
    assert entry.last.checked_at and entry.last.task_status[rung.tasks[0]] == "todo"
    record_progress(fake_result("01", dict.fromkeys(rung.tasks, "pass")))
    record_progress(fake_result("01", {}))
    entry = load_progress().rungs["01-tensors"]
    assert (entry.best.status, entry.best.points, entry.last.status) == ("pass", 10.0, "todo")
    line = next(line for line in kata("list").output.splitlines() if " 01-tensors " in line)
    assert line.split()[1:5] == ["pass", "todo", "6/6", "10/10"]


def test_only_a_check_of_the_exercises_is_recorded(tmp_path):
    record_progress(fake_result("01", {}, impl=tmp_path / "mine.py"))
    assert load_progress().rungs == {}


def test_the_first_progress_format_is_still_read(tmp_path, monkeypatch):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"01-tensors": "pass", "02-autograd": "fail",
                                "hints shown": {"08-attention": 2}}))
    monkeypatch.setattr("grader.progress.PROGRESS_PATH", path)
    lines = kata("list").output.splitlines()
    assert next(line for line in lines if " 01-tensors " in line).split()[1:5] == \
        ["pass", "pass", "6/6", "10/10"]
    assert next(line for line in lines if "02-autograd" in line).startswith("> 02-autograd")
    assert "Hint 1 of" in kata("hint", "08").output
    assert load_progress(path).rungs["01-tensors"].best.status == "pass"  # rewritten, kept


def test_list_leaves_a_skipped_rung_out_of_the_total():
    hf = next(rung for rung in AVAILABLE if rung.extra)
    record_progress(fake_result("01", dict.fromkeys(resolve("01").tasks, "pass")))
    record_progress(skipped_result(hf.id))
    total = kata("list").output.splitlines()[-1]
    rest = sum(rung.points for rung in AVAILABLE) - hf.points
    assert total.startswith("Total: [#") and "-]" in total
    assert total.endswith(f"] 10/{rest:g} points; {hf.id} skipped: {hf.points:g} points not "
                          "counted")


def test_next_names_the_current_rung_its_file_and_command():
    record_progress(fake_result("01", dict.fromkeys(resolve("01").tasks, "pass")))
    result = kata("next")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Next: 02-autograd · ")
    assert "exercises/02-autograd/autograd.py" in result.output
    assert "./kata check 02-autograd" in result.output


def test_kata_alone_and_check_without_a_rung_check_the_current_rung(checked):
    record_progress(fake_result("01", dict.fromkeys(resolve("01").tasks, "pass")))
    assert kata().exit_code == kata("check").exit_code == 1
    assert checked == ["02-autograd", "02-autograd"]
    assert kata("--help").output.startswith("Usage: ")  # help still works, checks nothing
    assert len(checked) == 2


def test_a_skipped_rung_is_passed_over_and_everything_done_is_said(checked):
    hf = next(rung for rung in AVAILABLE if rung.extra)
    pass_all(but=(hf.id,))
    record_progress(skipped_result(hf.id))
    for args in ((), ("check",), ("next",)):
        result = kata(*args)
        assert result.exit_code == 0, result.output
        assert f"Every rung passes but {hf.id}, skipped for a missing extra" in result.output
    pass_all()
    assert kata("next").output.startswith(f"Every rung passes: {len(AVAILABLE)} of ")
    assert kata().exit_code == 0 and checked == []


def test_the_report_gives_the_failing_task_its_own_first_hint(checked):
    rung = resolve("01")
    output = kata("check", "01").output
    assert f"Hint for {rung.tasks[0]}: {rung.hints[rung.tasks[0]][0][:40]}" in output


@pytest.mark.parametrize("columns,layout", [("170", "side by side"), ("100", "diff")])
def test_solution_shows_the_reference_after_a_pass(monkeypatch, columns, layout):
    monkeypatch.setenv("COLUMNS", columns)
    rung = resolve("08")
    record_progress(fake_result("08", dict.fromkeys(rung.tasks, "pass")))
    result = kata("solution", "08")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    if layout == "side by side":
        assert lines[0].startswith("reference: reference/08-attention/attention.py")
        assert "yours: exercises/08-attention/attention.py" in lines[0]
        assert max(len(line) for line in lines) <= int(columns)
        assert any(" | " in line and "NotImplementedError" in line for line in lines)
    else:
        assert lines[0] == "── reference/08-attention/attention.py (the reference) ──"
        assert "+++ exercises/08-attention/attention.py" in lines
        assert any(line.startswith("+") and "NotImplementedError" in line for line in lines)
    assert kata("solution", "01").exit_code == 2  # not passed yet
    assert kata("solution", "01", "--force").exit_code == 0


def test_a_copy_without_references_refuses_the_solution_even_forced(tmp_path, monkeypatch):
    rung = resolve("08")
    monkeypatch.setattr("grader.catalog.REPO_ROOT", tmp_path)
    monkeypatch.setattr("grader.catalog.ORACLE_DIR", tmp_path / "oracle")
    rung.oracle_path.parent.mkdir()
    rung.oracle_path.write_bytes(zlib.compress(b"# the reference"))
    record_progress(fake_result("08", dict.fromkeys(rung.tasks, "pass")))
    result = kata("solution", "08", "--force")
    assert result.exit_code == 2
    assert result.output == ("kata: 08-attention: this course copy ships without readable "
                             "reference solutions, so there is none to show (--force cannot "
                             "change that)\n")


def test_reset_restores_the_stub_and_keeps_your_file(tmp_path, monkeypatch):
    rung = resolve("08")
    monkeypatch.setattr("grader.catalog.REPO_ROOT", tmp_path)
    monkeypatch.setattr("grader.pristine.BACKUPS_DIR", tmp_path / ".kata" / "backups")
    monkeypatch.chdir(tmp_path)
    rung.exercise_path.parent.mkdir(parents=True)
    rung.exercise_path.write_text("# my attempt\n")
    refused = kata("reset", "08")
    assert refused.exit_code == 2
    assert refused.output.startswith("kata: reset would replace exercises/08-attention/"
                                     "attention.py with the stub; no terminal to ask")
    result = kata("reset", "08", "--yes")
    assert result.exit_code == 0, result.output
    assert rung.exercise_path.read_bytes() == pristine_stub(rung)
    (backup,) = (tmp_path / ".kata" / "backups" / "08-attention").glob("attention-*.py")
    assert backup.read_text() == "# my attempt\n"
    assert f"Your version is in {backup.relative_to(tmp_path)}." in result.output
    assert "the stub already" in kata("reset", "08").output


def test_doctor_reports_the_set_up_and_how_to_add_a_missing_extra(monkeypatch):
    monkeypatch.setattr("grader.doctor._version",
                        lambda name: None if name == "transformers" else "1.0")
    result = kata("doctor")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("python: ") and lines[1].startswith("torch: ")
    assert any(line.startswith("CUDA: ") for line in lines)
    assert any(line.startswith("extra hf (09-hf): not installed (transformers): ")
               and line.endswith("bootstrap hf") for line in lines)
    assert "GPT-2 vocab: grader/data/gpt2.tiktoken" in lines and lines[-2].startswith("user: ")
    assert lines[-1].startswith("Check server: ")
