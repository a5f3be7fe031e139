"""The result model and its JSON form; gray-zone speed verdicts settled by re-measuring."""

from __future__ import annotations

import json

from click.testing import CliRunner

from grader import runner
from grader.catalog import PACKAGE_DIR, resolve
from grader.cli import cli
from grader.results import RungResult, TestResult

SCHEMA = json.loads((PACKAGE_DIR / "schema" / "result.schema.json").read_text(encoding="utf-8"))
JSON_TYPES = {"object": dict, "array": list, "string": str, "integer": int,
              "number": (int, float), "null": type(None)}


def conforms(value, schema, where="$"):
    """The JSON Schema keywords result.schema.json uses: type, enum, const, required, items."""
    types = schema.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        assert isinstance(value, tuple(JSON_TYPES[n] for n in names)), f"{where}: {value!r}"
    assert "enum" not in schema or value in schema["enum"], f"{where}: {value!r}"
    assert "const" not in schema or value == schema["const"], f"{where}: {value!r}"
    for key in schema.get("required", []):
        assert key in value, f"{where}: missing {key}"
    for key, sub in schema.get("properties", {}).items():
        if isinstance(value, dict) and key in value:
            conforms(value[key], sub, f"{where}.{key}")
    if "items" in schema:
        for i, item in enumerate(value):
            conforms(item, schema["items"], f"{where}[{i}]")


def test_json_output_conforms_to_the_shipped_schema_for_pass_todo_and_fail():
    for args in (["check", "--all", "--impl", "reference"], ["check", "01"],
                 ["check", "08", "--impl", "tests/mutants/08-attention/mutant_no_scale.py"]):
        result = CliRunner().invoke(cli, [*args, "--format", "json"])
        assert result.exit_code in (0, 1), result.output
        conforms(json.loads(result.stdout), SCHEMA)


def _gray_record(ratio: float) -> dict:
    return {"kind": "test", "name": "test_fast", "task": "t", "category": "speed",
            "status": "gray", "message": "slow", "ratio": ratio, "pass_at": 1.5,
            "fail_above": 2.0}


def _remeasured(monkeypatch, first: float, again: list[float]) -> TestResult:
    ratios = iter(again)

    def fake_worker(*args, **kwargs):
        return runner.WorkerRun(records=[dict(_gray_record(next(ratios)), status="pass")])

    monkeypatch.setattr(runner, "run_worker", fake_worker)
    test = TestResult(name="test_fast", task="t", category="speed", status="gray",
                      message="slow")
    fields = runner._speed_fields(_gray_record(first))
    assert fields is not None
    runner._remeasure(resolve("08"), b"", "cpu", 10.0, test, fields)
    return test


def test_a_gray_record_with_a_made_up_band_is_not_re_measured():
    assert runner._speed_fields(dict(_gray_record(1.8), fail_above=1000.0)) is None
    assert runner._speed_fields(dict(_gray_record(float("nan")))) is None


def test_a_gray_ratio_passes_when_fresh_processes_agree_it_is_fast(monkeypatch):
    test = _remeasured(monkeypatch, 1.8, [1.2, 1.3])
    assert (test.status, test.ratio) == ("pass", 1.3)


def test_a_gray_ratio_fails_when_the_median_of_three_is_slow(monkeypatch):
    test = _remeasured(monkeypatch, 1.8, [1.9, 1.6])
    assert test.status == "fail" and test.ratio == 1.8
    assert "Measured again in fresh processes: 1.80×, 1.90×, 1.60×" in test.message


def test_a_rung_whose_checks_were_all_skipped_earns_nothing():
    """Only the grader skips checks, but a run in which nothing passed is no evidence of work."""
    rung = RungResult(id="08-attention", title="t", status="pass", points=0.0, max_points=20.0,
                      impl="x.py", tasks=["a", "b"],
                      tests=[TestResult(name="test_a", task="a", category="gpu", status="skipped"),
                             TestResult(name="test_b", task="b", category="gpu", status="skipped")])
    assert [score.points for score in rung.task_scores()] == [0.0, 0.0]
