"""The kata command, driven as a user would; usage errors are one line and exit code 2."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from grader.catalog import load_catalog
from grader.cli import cli

PLANNED = next(rung.id for rung in load_catalog() if not rung.available)


def kata(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_list_shows_every_rung_and_marks_planned_ones():
    result = kata("list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == len(load_catalog())
    assert lines[0].startswith("01-tensors")
    assert any(line.startswith(PLANNED) and "planned" in line for line in lines)


@pytest.mark.parametrize("args,message", [
    (["check", "atention"], "kata: no rung 'atention'; did you mean 08-attention?"),
    (["check"], "kata: name a rung (kata check 08-attention) or use --all"),
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


def test_hints_are_revealed_one_more_per_call():
    first, second, third, fourth = (kata("hint", "attention") for _ in range(4))
    assert first.exit_code == 0, first.output
    assert first.output.count("Hint ") == 1 and "again for the next one" in first.output
    assert second.output.count("Hint ") == 2
    assert third.output.count("Hint ") == fourth.output.count("Hint ") == 3
    assert "again for the next one" not in third.output
    assert kata("hint", "atention").exit_code == 2


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
