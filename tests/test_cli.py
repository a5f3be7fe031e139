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
])
def test_bad_input_gets_one_clear_line_and_exit_2(args, message):
    result = kata(*args)
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert result.output.startswith(message), result.output


def test_every_command_has_help_with_an_example():
    for command in ("list", "check", "hint"):
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
