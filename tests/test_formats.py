"""Every platform format, rendered from one hand-built mixed Result and read back as the platform
reads it: validated against a schema written from research/autograding-formats.md, and checked
for the points, the hidden checks and (for GitHub) the workflow commands a learner could inject.
"""

from __future__ import annotations

import base64
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import xmlschema

from grader.catalog import PACKAGE_DIR, REPO_ROOT, resolve
from grader.reports import RENDERERS
from grader.reports.github import (
    ANNOTATION_LIMIT,
    SUMMARY_LIMIT,
    classroom_result,
    github_log,
    github_output_entry,
    step_summary,
    write_github_files,
)
from grader.reports.gradescope import gradescope_results
from grader.reports.junit import render_junit
from grader.reports.learner_view import (
    HIDDEN_FROM_LEARNERS,
    HIDDEN_UNTIL_DUE,
    withhold_hidden_details,
)
from grader.reports.prairielearn import SIZE_LIMIT, prairielearn_results
from grader.reports.text import render_text
from grader.results import Result, RungResult, TestResult

SCHEMAS = Path(__file__).parent / "schemas"
SECRET = "hidden detail: Linear must initialise its weight with std 0.02"
INJECTION = ("mask leaks future tokens at 100% of rows\n"
             "  raised at attention.py:42: scores = q @ k.transpose(-2, -1)\r\n"
             "::set-output name=score::100\n"
             "   ::error::all tests passed\n"
             "##[set-output name=score]100\n"
             "::stop-commands::anything")
TOKEN = "f00dfeedf00dfeedf00dfeedf00dfeed"


def json_schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def a_test(task: str, status: str = "pass", message: str = "", category: str = "values",
           visibility: str = "visible", name: str | None = None) -> TestResult:
    return TestResult(name=name or f"test_{task.lower()}_{category}", task=task,
                      category=category, status=status, message=message, duration=0.25,
                      visibility=visibility)


def a_rung(rung_id: str, problems: dict[str, TestResult] | None = None, status: str = "",
           message: str = "", with_tests: bool = True) -> RungResult:
    """A graded rung from the catalog: every task passes one check unless `problems` says not."""
    rung = resolve(rung_id)
    problems = problems or {}
    tests = [problems.get(task) or a_test(task) for task in rung.tasks] if with_tests else []
    result = RungResult(id=rung.id, title=rung.title, status=status or "pass", points=0.0,
                        max_points=rung.points, impl=str(rung.exercise_path),
                        tests=tests, tasks=list(rung.tasks), message=message, duration=1.5)
    if not status:
        statuses = {t.status for t in tests}
        result.status = next((s for s in ("error", "fail", "todo") if s in statuses), "pass")
    result.tasks_todo = [t for t in rung.tasks if result.task_status(t) == "todo"]
    if result.status not in ("error", "skipped"):
        result.points = round(sum(score.points for score in result.task_scores()), 2)
    return result


def mixed_result() -> Result:
    """A pass, a fail (with injection attempts), a todo, a GPU skip, a crash, a missing extra,
    and a failing hidden check: one of everything a grading run can report."""
    autograd = resolve("02-autograd")
    rungs = [
        a_rung("03-module"),
        a_rung("08-attention", {"causal_mask": a_test("causal_mask", "fail", INJECTION)}),
        a_rung("02-autograd", {task: a_test(task, "todo", f"not implemented yet (02: {task})")
                               for task in autograd.tasks}),
        a_rung("06-amp", {"compiled": a_test("compiled", "skipped", "needs a CUDA GPU; this run "
                                             "is on the CPU", category="gpu")}),
        a_rung("05-training-loop", status="error", with_tests=False,
               message="the worker crashed: Segmentation fault (signal 11)"),
        a_rung("09-hf", status="skipped", with_tests=False,
               message="skipped: install the hf extra: pip install -e '.[hf]'"),
        a_rung("07-modules", {"Linear": a_test("Linear", "fail", SECRET, visibility="hidden",
                                               name="test_linear_init_hidden")}),
    ]
    meta = {"kata_version": "0.1.0", "python": "3.11.9", "impl": "exercises", "device": "cpu"}
    return Result(rungs=rungs, meta=meta)


def many_failures(count: int = 30, message: str = "wrong values") -> Result:
    """At least `count` failing tasks, spread over whole rungs."""
    rungs, failing = [], 0
    for rung_id in ("01", "05", "07", "12", "13", "11", "02", "03"):
        tasks = resolve(rung_id).tasks
        rungs.append(a_rung(rung_id, {t: a_test(t, "fail", message) for t in tasks}))
        failing += len(tasks)
        if failing >= count:
            break
    return Result(rungs=rungs, meta={})


@pytest.fixture(scope="module")
def mixed() -> Result:
    return mixed_result()


# --- the fixture itself, and the neutral JSON -------------------------------------------------

def test_the_mixed_result_has_one_of_every_verdict(mixed):
    assert [rung.status for rung in mixed.rungs] == [
        "pass", "fail", "todo", "pass", "error", "skipped", "fail"]


def test_per_task_points_add_up_to_each_rungs_points(mixed):
    for rung in mixed.rungs:
        assert sum(s.points for s in rung.task_scores()) == pytest.approx(rung.points), rung.id
        assert sum(s.max_points for s in rung.task_scores()) == pytest.approx(rung.max_points)


def test_a_rung_stopped_midway_earns_nothing_for_the_tasks_that_passed_first():
    """A timeout or crash after some checks passed: the rung is `error` and scores 0."""
    rung = a_rung("08-attention", status="error", message="timed out after 180 s")
    assert rung.tests and all(t.status == "pass" for t in rung.tests)
    assert sum(score.points for score in rung.task_scores()) == rung.points == 0


def test_json_validates_against_the_shipped_result_schema(mixed):
    schema = json.loads((PACKAGE_DIR / "schema" / "result.schema.json").read_text("utf-8"))
    jsonschema.validate(json.loads(RENDERERS["json"](mixed, False)), schema)


def test_every_platform_format_is_registered():
    assert {"text", "json", "junit", "gradescope", "github", "prairielearn"} <= set(RENDERERS)


# --- Gradescope -------------------------------------------------------------------------------

def entries_by_rung(tests: list[dict], rung_id: str) -> list[dict]:
    return [t for t in tests if t["name"].startswith(f"{rung_id} · ")]


def test_gradescope_results_validate_and_score_the_sum_of_task_entries(mixed):
    results = json.loads(RENDERERS["gradescope"](mixed, False))
    jsonschema.validate(results, json_schema("gradescope.schema.json"))
    assert isinstance(results["execution_time"], float | int)
    assert results["score"] == pytest.approx(mixed.points)
    assert sum(t["score"] for t in results["tests"]) == pytest.approx(mixed.points)
    for rung in mixed.rungs:
        entries = [t for t in entries_by_rung(results["tests"], rung.id)
                   if t["visibility"] == "visible"]
        assert len(entries) == len(rung.tasks)
        assert sum(t["score"] for t in entries) == pytest.approx(rung.points)
        assert sum(t["max_score"] for t in entries) == pytest.approx(rung.max_points)
        for entry in entries:
            assert (entry["status"] == "passed") == (entry["score"] == entry["max_score"])


def test_gradescope_entries_explain_what_earned_nothing(mixed):
    tests = {t["name"]: t for t in gradescope_results(mixed)["tests"]}
    attention = tests["08-attention · causal_mask"]
    assert attention["number"] == "8.2" and attention["tags"] == [
        "08-attention", "causal_mask", "values"]
    assert "raised at attention.py:42" in attention["output"]
    assert tests["02-autograd · grad_of"]["output"].startswith("still todo")
    assert tests["05-training-loop · fit"]["output"].startswith("the rung could not run")
    assert "install the hf extra" in tests["09-hf · generate"]["output"]
    assert tests["09-hf · generate"]["score"] == 0
    assert tests["03-module · MLP"]["output"] == "all checks passed"


def test_gradescope_never_shows_a_hidden_message_before_the_due_date(mixed):
    tests = gradescope_results(mixed)["tests"]
    visible = [t for t in tests if t["visibility"] == "visible"]
    assert all(SECRET not in t["output"] for t in visible)
    linear = next(t for t in visible if t["name"] == "07-modules · Linear")
    assert linear["output"] == HIDDEN_UNTIL_DUE and linear["score"] == 0
    hidden = [t for t in tests if t["visibility"] != "visible"]
    assert [(t["name"], t["visibility"], t["score"], t["max_score"], t["output"])
            for t in hidden] == [("07-modules · Linear · hidden check test_linear_init_hidden",
                                  "after_due_date", 0, 0, SECRET)]
    assert SECRET not in gradescope_results(mixed)["output"]


# --- PrairieLearn -----------------------------------------------------------------------------

def test_prairielearn_results_validate_and_score_points_over_max(mixed):
    results = json.loads(RENDERERS["prairielearn"](mixed, False))
    jsonschema.validate(results, json_schema("prairielearn.schema.json"))
    assert results["gradable"] is True
    assert results["score"] == pytest.approx(mixed.points / mixed.max_points)
    assert sum(t["points"] for t in results["tests"]) == pytest.approx(mixed.points)
    for rung in mixed.rungs:
        tests = entries_by_rung(results["tests"], rung.id)
        assert sum(t["points"] for t in tests) == pytest.approx(rung.points)
    assert "\x1b[" not in results["output"]
    assert SECRET not in json.dumps(results)


def test_prairielearn_grades_a_crash_but_not_a_run_where_nothing_ran():
    crash = Result([a_rung("05", status="error", with_tests=False, message="crashed")])
    nothing = Result([a_rung("09", status="skipped", with_tests=False, message="no hf extra")])
    assert prairielearn_results(crash)["gradable"] is True
    assert prairielearn_results(crash)["score"] == 0
    ungradable = prairielearn_results(nothing)
    assert ungradable["gradable"] is False and ungradable["format_errors"] == ["no hf extra"]
    jsonschema.validate(ungradable, json_schema("prairielearn.schema.json"))


def test_prairielearn_results_stay_under_one_megabyte():
    results = prairielearn_results(many_failures(30, "✗ wrong\n" * 200_000), verbose=True)
    assert len(json.dumps(results, ensure_ascii=False).encode("utf-8")) <= SIZE_LIMIT
    assert "cut:" in results["output"]
    jsonschema.validate(results, json_schema("prairielearn.schema.json"))


# --- JUnit ------------------------------------------------------------------------------------

def test_junit_validates_and_counts_what_it_holds(mixed):
    text = render_junit(mixed)
    xmlschema.XMLSchema(SCHEMAS / "junit.xsd").validate(text)
    root = ET.fromstring(text)
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert list(suites) == [rung.id for rung in mixed.rungs]
    for suite in suites.values():
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        for tag, attribute in (("failure", "failures"), ("error", "errors"),
                               ("skipped", "skipped")):
            assert int(suite.get(attribute)) == sum(c.find(tag) is not None for c in cases)
        suite_properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
        assert {"points", "max_points"} <= set(suite_properties)
        for case in cases:
            assert case.find("properties") is not None or case.get("name").endswith("rung)")
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in suites.values())


def test_junit_marks_each_verdict_and_keeps_hidden_messages_for_instructors(mixed):
    root = ET.fromstring(render_junit(mixed))
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    attention = suites["08-attention"]
    failure = attention.find("testcase[@name='test_causal_mask_values']/failure")
    assert failure is not None and failure.get("message").startswith("mask leaks future")
    assert failure.text == INJECTION.replace("\r\n", "\n")  # XML normalises line ends
    assert all(c.find("skipped").get("message").startswith("the task ")
               for c in suites["02-autograd"].findall("testcase"))
    crash = suites["05-training-loop"].findall("testcase")
    assert len(crash) == 1 and "Segmentation fault" in crash[0].find("error").get("message")
    assert suites["09-hf"].find("testcase/skipped") is not None
    assert suites["06-amp"].get("skipped") == "1"
    hidden = suites["07-modules"].find("testcase[@name='test_linear_init_hidden']")
    assert hidden.find("failure").text == SECRET
    assert {p.get("name"): p.get("value") for p in hidden.iter("property")} == {
        "task": "Linear", "category": "values", "visibility": "hidden"}
    assert suites["07-modules"].find("properties/property[@name='points']").get("value") == "12.5"


def test_junit_stays_well_formed_with_control_characters_in_a_message():
    result = Result([a_rung("08", {"causal_mask": a_test("causal_mask", "fail",
                                                         "\x1b[31mred\x1b[0m \x00 done")})])
    text = render_junit(result)
    xmlschema.XMLSchema(SCHEMAS / "junit.xsd").validate(text)
    assert "\\x1b[31mred" in ET.fromstring(text).find(".//failure").text


# --- GitHub: what the grading reporter reads --------------------------------------------------

def read_github_output(text: str) -> dict[str, str]:
    """$GITHUB_OUTPUT as the runner reads it: `name=value` lines and `name<<DELIM` heredocs."""
    outputs, lines = {}, iter(text.splitlines())
    for line in lines:
        equals, heredoc = line.find("="), line.find("<<")
        if equals > 0 and (heredoc < 0 or equals < heredoc):
            outputs[line[:equals]] = line[equals + 1:]
        elif heredoc > 0:
            name, delimiter = line[:heredoc], line[heredoc + 2:]
            body = []
            for inner in lines:
                if inner == delimiter:
                    break
                body.append(inner)
            outputs[name] = "\n".join(body)
    return outputs


def reporter_reads(environ: dict[str, str], runners: str) -> list[dict]:
    """autograding-grading-reporter: env `<RUNNER upper-cased>_RESULTS`, base64, JSON.parse."""
    return [json.loads(base64.b64decode(environ[f"{runner.strip().upper()}_RESULTS"]))
            for runner in runners.split(",")]


def classroom_totals(results: list[dict]) -> tuple[float, float]:
    """What the reporter sends Classroom: Σ tests' score over runners with a truthy max_score."""
    counted = [r for r in results if r.get("max_score")]
    return (sum(t["score"] for r in counted for t in r["tests"]),
            sum(r["max_score"] for r in counted))


def console_total(results: list[dict]) -> float:
    """What the reporter's console table shows: passed fraction × max_score, per runner."""
    return sum(sum(t["status"] == "pass" for t in r["tests"]) / len(r["tests"]) * r["max_score"]
               for r in results)


def the_reporter_run(result: Result, tmp_path: Path) -> list[dict]:
    output = tmp_path / "github_output"
    output.write_text("earlier<<ghadelimiter_1\nsomething = else\nghadelimiter_1\n", "utf-8")
    write_github_files(result, {"GITHUB_OUTPUT": str(output), "GITHUB_WORKSPACE": str(REPO_ROOT)})
    step_outputs = read_github_output(output.read_text("utf-8"))
    environ = {"KATA_RESULTS": step_outputs["result"]}  # KATA_RESULTS: ${{ steps.kata...result }}
    return reporter_reads(environ, "kata")


def test_the_classroom_result_validates_and_its_totals_are_our_points(mixed, tmp_path):
    results = the_reporter_run(mixed, tmp_path)
    jsonschema.validate(results[0], json_schema("github-classroom-result.schema.json"))
    total, maximum = classroom_totals(results)
    assert total == pytest.approx(mixed.points) and maximum == pytest.approx(mixed.max_points)
    assert results[0]["status"] == "fail"
    task_max = {f"{rung.id} · {s.task}": s.max_points
                for rung in mixed.rungs for s in rung.task_scores()}
    for test in results[0]["tests"]:
        assert (test["status"] == "pass") == (test["score"] == task_max[test["name"]]), test
    statuses = {t["name"]: t["status"] for t in results[0]["tests"]}
    assert statuses["06-amp · compiled"] == "pass"  # GPU-skipped: keeps its points
    assert statuses["02-autograd · grad_of"] == "fail"
    assert statuses["05-training-loop · fit"] == statuses["09-hf · generate"] == "error"


def test_console_and_classroom_agree_when_the_tasks_weigh_the_same(tmp_path):
    """03-module splits 10 points into four 2.5s, so pass fraction × max is Σ score.

    Across rungs the tasks weigh differently (08's 6.67 against 03's 2.5), and there the
    reporter's console column is only an approximation of the Classroom total.
    """
    module = a_rung("03-module", {"MLP": a_test("MLP", "fail", "no"),
                                  "freeze": a_test("freeze", "fail", "boom")})
    results = the_reporter_run(Result([module]), tmp_path)
    assert console_total(results) == pytest.approx(classroom_totals(results)[0]) == 5.0


def test_the_output_entry_is_one_line_of_base64(mixed):
    entry = github_output_entry(mixed, REPO_ROOT)
    name, value = entry.split("=", 1)
    assert name == "result" and "\n" not in entry
    assert json.loads(base64.b64decode(value)) == classroom_result(mixed, REPO_ROOT)


def test_classroom_tests_point_at_the_learners_file_and_line(mixed):
    tests = {t["name"]: t for t in classroom_result(mixed, REPO_ROOT)["tests"]}
    causal = tests["08-attention · causal_mask"]
    assert (causal["filename"], causal["line_no"]) == ("exercises/08-attention/attention.py", 42)
    assert causal["test_code"] == "kata check 08-attention"
    assert SECRET not in json.dumps(tests)


def test_write_github_files_does_nothing_outside_actions(mixed):
    assert write_github_files(mixed, {}) == {}


def test_write_github_files_appends_where_github_says(mixed, tmp_path):
    output, summary = tmp_path / "output", tmp_path / "summary"
    summary.write_text("# earlier step\n", encoding="utf-8")
    written = write_github_files(mixed, {"GITHUB_OUTPUT": str(output),
                                         "GITHUB_STEP_SUMMARY": str(summary)})
    assert set(written) == {str(output), str(summary)}
    assert summary.read_bytes().decode() == "# earlier step\n" + written[str(summary)]
    assert output.read_text("utf-8").startswith("result=")


# --- GitHub: the log --------------------------------------------------------------------------

def outside_and_inside(log: str) -> tuple[list[str], str]:
    before, rest = log.split(f"::stop-commands::{TOKEN}\n", 1)
    inside, after = rest.rsplit(f"\n::{TOKEN}::", 1)
    return before.splitlines() + after.splitlines(), inside


ANNOTATION = re.compile(r"::error file=(?P<file>[^,:]*),line=(?P<line>\d+),"
                        r"title=(?P<title>[^,:]*)::(?P<message>.*)")


def unescape(data: str) -> str:
    for escaped, plain in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","),
                           ("%25", "%")):
        data = data.replace(escaped, plain)
    return data


def test_learner_text_cannot_issue_workflow_commands(mixed):
    log = github_log(mixed, True, TOKEN, REPO_ROOT)
    outside, inside = outside_and_inside(log)
    for line in outside:
        if line.lstrip().startswith("::"):
            assert ANNOTATION.fullmatch(line), line  # ours: parsed as one ::error, nothing else
        else:
            assert "##[" not in line  # the runner's older syntax, matched anywhere in a line
    assert inside == render_text(withhold_hidden_details(mixed, HIDDEN_FROM_LEARNERS), True)
    assert "::set-output name=score::100" in inside  # quoted, inside the stopped block


def test_annotations_point_at_the_line_and_carry_the_whole_message(mixed):
    outside, _ = outside_and_inside(github_log(mixed, False, TOKEN, REPO_ROOT))
    found = [ANNOTATION.fullmatch(line) for line in outside if line.startswith("::error")]
    by_title = {unescape(m["title"]): m for m in found if m}
    assert set(by_title) == {"08-attention causal_mask", "05-training-loop", "07-modules Linear"}
    causal = by_title["08-attention causal_mask"]
    assert (causal["file"], causal["line"]) == ("exercises/08-attention/attention.py", "42")
    assert unescape(causal["message"]) == INJECTION
    assert by_title["05-training-loop"]["line"] == "1"
    assert SECRET not in "\n".join(outside)


def test_at_most_ten_annotations_even_with_thirty_failing_tasks():
    outside, _ = outside_and_inside(github_log(many_failures(30), False, TOKEN, REPO_ROOT))
    annotations = [line for line in outside if line.startswith("::error")]
    assert len(annotations) == ANNOTATION_LIMIT
    assert any("more failures are not annotated" in line for line in outside)


def test_render_github_uses_a_fresh_token_each_time(mixed, monkeypatch):
    monkeypatch.setenv("GITHUB_WORKSPACE", str(REPO_ROOT))
    first, second = RENDERERS["github"](mixed, False), RENDERERS["github"](mixed, False)
    tokens = [re.search(r"^::stop-commands::(\w+)$", log, re.M).group(1)
              for log in (first, second)]
    assert tokens[0] != tokens[1] and len(tokens[0]) >= 32
    assert first.rstrip().endswith(f"::{tokens[0]}::")


# --- GitHub: the step summary -----------------------------------------------------------------

def test_the_step_summary_tables_every_rung_and_details_each_failure(mixed):
    summary = step_summary(mixed)
    rows = [line for line in summary.splitlines() if line.startswith("| 0")]
    assert [row.split(" · ")[0] for row in rows] == [f"| {rung.id}" for rung in mixed.rungs]
    assert "| 08-attention · " in summary and "13.33/20 |" in summary
    assert summary.count("<details>") == 3 and SECRET not in summary


def test_the_step_summary_stays_under_one_mebibyte_with_huge_messages():
    summary = step_summary(many_failures(30, "x" * 3_000_000))
    assert len(summary.encode("utf-8")) < SUMMARY_LIMIT
    assert "cut:" in summary
    crowded = step_summary(many_failures(30, "é" * 20_000))
    assert len(crowded.encode("utf-8")) < SUMMARY_LIMIT
    assert "more failures are left out" in crowded


def test_a_message_cannot_close_the_summarys_code_fence():
    nasty = "```\n</details>\n# pwned\n````"
    summary = step_summary(Result([a_rung("08", {"causal_mask": a_test("causal_mask", "fail",
                                                                       nasty)})]))
    assert "`````text\n" + nasty + "\n`````" in summary


# --- what the learner's code printed ----------------------------------------------------------

PRINTED = "\n".join(f"epoch {i}: loss {1 / (i + 1):.3f}" for i in range(55))
HIDDEN_PRINT = "hidden input: tensor([0.25, 0.5])"


def printing_result() -> Result:
    """A visible failure and a hidden failure whose checks printed, and a passing one that did."""
    rung = a_rung("07-modules", {
        "Linear": a_test("Linear", "fail", "wrong values"),
        "Embedding": a_test("Embedding", "fail", SECRET, visibility="hidden",
                            name="test_embedding_hidden"),
    })
    for test in rung.tests:
        test.output = {"Linear": PRINTED, "Embedding": HIDDEN_PRINT}.get(test.task, "")
    rung.tests[2].output = "layer norm ok"
    return Result([rung], meta={"kata_version": "0.1.0", "impl": "exercises", "device": "cpu"})


def test_json_carries_what_each_check_printed_and_the_schema_accepts_it():
    schema = json.loads((PACKAGE_DIR / "schema" / "result.schema.json").read_text("utf-8"))
    report = json.loads(RENDERERS["json"](printing_result(), False))
    jsonschema.validate(report, schema)
    outputs = [t["output"] for t in report["rungs"][0]["tests"]]
    assert PRINTED in outputs and HIDDEN_PRINT in outputs
    test_schema = schema["properties"]["rungs"]["items"]["properties"]["tests"]["items"]
    assert test_schema["properties"]["output"]["type"] == "string"
    assert "output" not in test_schema["required"]
    del report["rungs"][0]["tests"][0]["output"]  # a result written before the field existed
    jsonschema.validate(report, schema)


def test_platform_entries_show_a_failures_printed_lines_capped_and_never_a_hidden_checks():
    result = printing_result()
    gradescope = {t["name"]: t for t in gradescope_results(result)["tests"]}
    prairie = {t["name"]: t for t in prairielearn_results(result)["tests"]}
    for entries in (gradescope, prairie):
        linear = entries["07-modules · Linear"]["output"]
        assert linear.startswith("wrong values\n\nYour code printed:\n│ epoch 0: loss 1.000\n")
        assert linear.count("\n│ ") == 40 and linear.endswith("… 15 more lines of your output "
                                                               "left out")
        assert HIDDEN_PRINT not in json.dumps(list(entries.values()))
        assert "layer norm ok" not in json.dumps(list(entries.values()))  # it passed
    assert HIDDEN_PRINT not in prairielearn_results(result)["output"]


def test_junit_puts_what_a_check_printed_in_its_system_out():
    text = render_junit(printing_result())
    xmlschema.XMLSchema(SCHEMAS / "junit.xsd").validate(text)
    cases = {c.get("name"): c for c in ET.fromstring(text).iter("testcase")}
    linear = cases["test_linear_values"].find("system-out").text
    assert linear.startswith("Your code printed:\n│ epoch 0") and linear.count("\n│ ") == 40
    assert HIDDEN_PRINT in cases["test_embedding_hidden"].find("system-out").text  # instructors
    assert cases["test_gelu_values"].find("system-out") is None
