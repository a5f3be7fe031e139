"""Building blocks (grader/blocks.py): a later rung imports an earlier rung's classes by name;
they come from the learner's own module when that rung passes in the checkout on the file as it
is, else from the reference; only earlier rungs' blocks may be imported; the report says which
module served them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader import block_choice, progress, runner
from grader.catalog import REPO_ROOT, Rung, resolve
from grader.reports.text import render_text
from grader.results import Result
from grader.rules import check_source

ALT = REPO_ROOT / "tests" / "mutants" / "08-attention" / "alt_linear_from_07_blocks.py"
LINEAR_WITHOUT_BIAS = ("            y = y + self.bias  # (out,) broadcasts over the leading dims",
                       "            pass")


@pytest.mark.parametrize(("rung_id", "source", "refused"), [
    ("08-attention", "from grader.blocks import LayerNorm, Linear\n", False),
    ("08-attention", "from grader.blocks import MultiHeadAttention\n", True),  # its own rung
    ("07-modules", "from grader.blocks import Linear\n", True),  # no rung before 07 gives any
    ("08-attention", "from grader.blocks import provide\n", True),  # the grader's machinery
    ("08-attention", "from grader.blocks import _provided\n", True),
    ("08-attention", "import grader.blocks\n", True),
    ("08-attention", "from grader import blocks\n", True),
    ("08-attention", "from grader.runner import check_rung\n", True),
])
def test_a_rung_imports_only_earlier_rungs_blocks_by_name(rung_id, source, refused):
    assert bool(check_source(source, resolve(rung_id).policy)) is refused


def test_every_block_is_defined_by_its_rungs_reference():
    for rung in (resolve("07"), resolve("08")):
        module_source = rung.reference_path.read_text(encoding="utf-8")
        for name in rung.blocks:
            assert f"def {name}(" in module_source or f"class {name}(" in module_source


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A checkout whose exercises/ and progress file are the test's to write."""
    monkeypatch.setattr(progress, "PROGRESS_PATH", tmp_path / ".kata" / "progress.json")
    monkeypatch.setattr(Rung, "exercise_path",
                        property(lambda rung: tmp_path / "exercises" / rung.id / rung.module))
    return tmp_path


def _write_exercise(root: Path, rung_id: str, text: str) -> bytes:
    rung = resolve(rung_id)
    path = root / "exercises" / rung.id / rung.module
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path.read_bytes()


def _record(root: Path, rung_id: str, status: str, data: bytes) -> None:
    rung = resolve(rung_id)
    verdict = {"status": status, "tasks_passed": len(rung.tasks), "tasks": len(rung.tasks),
               "points": rung.points, "max_points": rung.points,
               "checked_at": "2026-12-01T00:00:00+00:00", "task_status": {},
               "source_sha256": block_choice.sha256_of(data)}
    path = root / ".kata" / "progress.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format_version": 2, "rungs": {rung.id: {
        "best": verdict, "last": verdict}}, "hints": {}}), encoding="utf-8")


def _origin_of_07(impl: str = "exercises") -> tuple[str, str]:
    (block,) = [b for b in block_choice.block_sources(resolve("08"), impl)
                if b.rung.id == "07-modules"]
    return block.origin, block.why


def test_a_passing_rung_on_the_file_that_passed_gives_the_learners_blocks(checkout):
    data = _write_exercise(checkout, "07", resolve("07").reference_path.read_text())
    _record(checkout, "07", "pass", data)
    assert _origin_of_07() == ("yours", "")
    assert _origin_of_07(impl=str(ALT)) == ("reference", "")  # only checks of exercises/


def test_otherwise_the_reference_serves_and_the_reason_is_given(checkout):
    assert _origin_of_07() == ("reference", "yours does not pass yet")
    data = _write_exercise(checkout, "07", resolve("07").reference_path.read_text())
    _record(checkout, "07", "fail", data)
    assert _origin_of_07() == ("reference", "yours does not pass yet")
    _record(checkout, "07", "pass", data)
    _write_exercise(checkout, "07", data.decode() + "\n# edited after it passed\n")
    assert _origin_of_07() == ("reference", "yours has changed since it last passed")
    broken = _write_exercise(checkout, "07", data.decode() + "\nimport os\n")
    _record(checkout, "07", "pass", broken)
    assert _origin_of_07() == ("reference", "yours breaks the source rules")


def test_a_check_builds_on_the_learners_own_block_and_says_so(checkout):
    """A 07 recorded as passing whose Linear forgets the bias: the alternative 08 built on it
    fails, which only the learner's module can explain, and the report names it."""
    reference = resolve("07").reference_path.read_text(encoding="utf-8")
    assert LINEAR_WITHOUT_BIAS[0] in reference
    data = _write_exercise(checkout, "07", reference.replace(*LINEAR_WITHOUT_BIAS))
    _record(checkout, "07", "pass", data)
    rung = resolve("08")
    exercise = _write_exercise(checkout, "08", ALT.read_text(encoding="utf-8"))
    result, _ = runner.check_rung(rung, impl="exercises")
    assert block_choice.sha256_of(exercise) == result.source_sha256
    assert result.blocks == [{"rung": "07-modules", "origin": "yours", "why": ""}]
    assert result.task_status("MultiHeadAttention") == "fail"
    assert "Built on your 07-modules." in render_text(Result(rungs=[result]))
    _record(checkout, "07", "fail", data)  # now the reference's Linear serves, and it passes
    result, _ = runner.check_rung(rung, impl="exercises")
    assert result.status == "pass", [t.message for t in result.tests if t.status != "pass"]
    assert "Built on the reference's 07-modules (yours does not pass yet)." in render_text(
        Result(rungs=[result]))


def test_run_on_their_own_a_learners_module_gets_the_same_choice(checkout):
    module = block_choice.load_for_learner("07-modules")
    assert Path(module.__file__) == resolve("07").reference_path
    data = _write_exercise(checkout, "07", resolve("07").reference_path.read_text())
    _record(checkout, "07", "pass", data)
    assert Path(block_choice.load_for_learner("07-modules").__file__) == resolve("07").exercise_path
