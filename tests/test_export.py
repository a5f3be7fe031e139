"""`kata export`: the learners' copy grades todo as shipped and full marks with the references
dropped in; hidden specs are cut out and counted; the autograder copy grades a Gradescope upload."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from grader.catalog import load_catalog
from grader.cli import cli
from grader.export import strip_hidden_tests

AVAILABLE = [rung for rung in load_catalog() if rung.available]
SCHEMAS = Path(__file__).parent / "schemas"


def export(target: Path, *options: str) -> None:
    result = CliRunner().invoke(cli, ["export", str(target), *options])
    assert result.exit_code == 0, result.output
    assert "learners" in result.output and "autograder" in result.output


def copy_kata(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the copy's own grader, as `python -m grader`, with this interpreter's packages."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=1800, check=False)


def hidden_in_this_checkout() -> dict[str, int]:
    counts = {}
    for rung in AVAILABLE:
        _, hidden = strip_hidden_tests(rung.spec_path.read_text(encoding="utf-8"))
        if hidden:
            counts[rung.id] = hidden
    return counts


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("export") / "course"
    export(target, "--without-reference")
    return target


def test_without_reference_no_readable_solution_ships_but_the_oracle_does(course):
    learners = course / "learners"
    assert not (learners / "reference").exists()
    shipped = {path.read_bytes() for path in learners.rglob("*.py")}
    for rung in AVAILABLE:
        solution = rung.reference_path.read_bytes()
        assert solution not in shipped, f"{rung.id}'s reference ships readable"
        oracle = learners / "grader" / "oracle" / f"{rung.id}.py.z"
        assert zlib.decompress(oracle.read_bytes()) == solution
    assert (course / "autograder" / "reference").is_dir()


def test_the_learners_copy_has_its_workflow_devcontainer_and_hidden_counts(course):
    learners = course / "learners"
    workflow = (learners / ".github" / "workflows" / "classroom.yml").read_text()
    # the reporter reads <STEP ID IN CAPITALS>_RESULTS for each id in `runners`
    for wired in ("id: kata", "--format github", 'KATA_RESULTS: "${{ steps.kata.outputs.result }}"',
                  "runners: kata", "classroom-resources/autograding-grading-reporter@v1"):
        assert wired in workflow
    json.loads((learners / ".devcontainer" / "devcontainer.json").read_text())
    counts = json.loads((learners / "grader" / "hidden.json").read_text())
    assert counts == hidden_in_this_checkout() and counts, "no spec test is marked hidden"
    for rung_id in counts:
        spec = next(r for r in AVAILABLE if r.id == rung_id).spec_path.name
        shipped = (learners / "grader" / "specs" / spec).read_text()
        assert "pytest.mark.hidden" not in shipped
    for script in ("setup.sh", "run_autograder", "run_prairielearn"):
        assert os.access(course / "autograder" / script, os.X_OK)
        assert not (learners / script).exists()


def test_the_learners_copy_refuses_solutions_but_resets_stubs(course):
    learners = course / "learners"
    refused = copy_kata(learners, "solution", "08", "--force")
    assert refused.returncode == 2, refused.stderr
    assert "ships without readable reference solutions" in refused.stderr
    stub = learners / "exercises" / "08-attention" / "attention.py"
    shipped = stub.read_bytes()
    stub.write_text("# an attempt\n")
    reset = copy_kata(learners, "reset", "08", "--yes")
    assert reset.returncode == 0, reset.stderr
    assert stub.read_bytes() == shipped
    (kept,) = (learners / ".kata" / "backups" / "08-attention").glob("attention-*.py")
    assert kept.read_text() == "# an attempt\n"


def test_every_rung_grades_todo_as_shipped(course):
    run = copy_kata(course / "learners", "check", "--all", "--format", "json")
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    assert {rung["id"]: rung["status"] for rung in report["rungs"]} == {
        rung.id: "todo" for rung in AVAILABLE}
    assert report["points"] == 0


def test_the_references_dropped_in_as_learner_code_get_full_marks(tmp_path):
    export(tmp_path / "course")
    learners = tmp_path / "course" / "learners"
    for rung in AVAILABLE:
        shutil.copyfile(learners / "reference" / rung.id / rung.module,
                        learners / "exercises" / rung.id / rung.module)
    run = copy_kata(learners, "check", "--all", "--format", "json")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert report["points"] == report["max_points"] == sum(r.points for r in AVAILABLE)
    pending = {rung["id"]: rung["hidden_pending"] for rung in report["rungs"]
               if rung["hidden_pending"]}
    assert pending == hidden_in_this_checkout()
    text = copy_kata(learners, "check", *pending)
    assert "hidden spec" in text.stdout and "run at grading" in text.stdout, text.stdout


def run_autograder(course: Path, tmp_path: Path, upload: Any) -> tuple[Path, Any]:
    """Gradescope's layout in tmp_path, `upload(submission_dir)` filling the submission, then
    run_autograder as Gradescope runs it. Returns the root and the finished process."""
    root = tmp_path / "autograder"
    root.mkdir()
    (root / "source").symlink_to(course / "autograder")
    submission = root / "submission"
    submission.mkdir()
    upload(submission)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "KATA_PYTHON": sys.executable,
           "PYTHONPATH": str(course / "autograder")}
    run = subprocess.run(["bash", str(course / "autograder" / "run_autograder")], env=env,
                         capture_output=True, text=True, timeout=1800, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return root, run


def test_the_autograder_grades_a_gradescope_submission(course, tmp_path):
    """run_autograder as Gradescope runs it: modules uploaded loose, results.json written."""
    attention = next(rung for rung in AVAILABLE if rung.id == "08-attention")
    root, run = run_autograder(course, tmp_path, lambda submission: shutil.copyfile(
        attention.reference_path, submission / attention.module))
    assert "08-attention: graded attention.py" in run.stdout
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, json.loads((SCHEMAS / "gradescope.schema.json").read_text()))
    assert results["score"] == attention.points
    hidden = [test for test in results["tests"] if test.get("visibility") == "after_due_date"]
    assert hidden, "the autograder copy ran no hidden spec"


SPEC_WITH_HIDDEN_TESTS = '''\
import pytest


@pytest.mark.task("f", category="values")
def test_public():
    assert True


@pytest.mark.hidden
@pytest.mark.task("f", category="values")
def test_hidden_edge_case():
    assert True


@pytest.mark.hidden()
class TestHiddenGroup:
    def test_one(self):
        pass

    def test_two(self):
        pass
'''


def test_hidden_tests_are_cut_whole_and_counted():
    public, count = strip_hidden_tests(SPEC_WITH_HIDDEN_TESTS)
    assert count == 3
    compile(public, "spec.py", "exec")
    assert "test_public" in public
    assert "test_hidden_edge_case" not in public and "TestHiddenGroup" not in public


def test_export_refuses_a_directory_that_is_not_empty(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = CliRunner().invoke(cli, ["export", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.strip() == f"kata: {tmp_path}: exists and is not an empty directory"


def test_a_copy_without_references_cannot_export_again(course, tmp_path):
    run = copy_kata(course / "learners", "export", str(tmp_path / "again"))
    assert run.returncode == 2
    assert run.stderr.strip().startswith("kata: no readable reference for 01-tensors")
    assert "Traceback" not in run.stderr


SKIP_AT_IMPORT = 'import pytest\npytest.skip("needs a CUDA GPU", allow_module_level=True)\n'


def _cheating_upload(submission: Path, autograder: Path) -> None:
    """The skip file for 08, and links to the references for 01 (a file) and 02 (a folder)."""
    (submission / "attention.py").write_text(SKIP_AT_IMPORT, encoding="utf-8")
    tensors = submission / "exercises" / "01-tensors"
    tensors.mkdir(parents=True)
    (tensors / "tensors.py").symlink_to(autograder / "reference" / "01-tensors" / "tensors.py")
    (submission / "exercises" / "02-autograd").symlink_to(autograder / "reference" / "02-autograd")


def test_gradescope_gives_a_cheating_upload_nothing(course, tmp_path):
    """run_autograder as Gradescope runs it (as root where this suite runs as root): the skip
    file and the links to the references earn no points."""
    root, run = run_autograder(
        course, tmp_path, lambda submission: _cheating_upload(submission, course / "autograder"))
    assert "01-tensors: exercises/01-tensors/tensors.py is a symbolic link" in run.stdout
    assert "02-autograd: no autograd.py submitted" in run.stdout, run.stdout[:2000]
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, json.loads((SCHEMAS / "gradescope.schema.json").read_text()))
    assert results["score"] == 0, [t for t in results["tests"] if t["score"]]
    attention = [t for t in results["tests"] if t["name"].startswith("08-attention")]
    assert attention and all("import pytest: 08-attention does not use `pytest`" in t["output"]
                             for t in attention if t.get("visibility") != "after_due_date")


def test_prairielearn_gives_the_skip_file_nothing(course, tmp_path):
    grade = tmp_path / "grade"
    (grade / "student").mkdir(parents=True)
    (grade / "student" / "attention.py").write_text(SKIP_AT_IMPORT, encoding="utf-8")
    env = {**os.environ, "PL_GRADE_ROOT": str(grade), "KATA_PYTHON": sys.executable,
           "PYTHONPATH": str(course / "autograder"), "KATA_RUNGS": "08-attention"}
    run = subprocess.run(["bash", str(course / "autograder" / "run_prairielearn")], env=env,
                         capture_output=True, text=True, timeout=1800, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads((grade / "results" / "results.json").read_text())
    assert results["gradable"] is True and results["score"] == 0
