"""`kata export DIR`: a course copy an instructor can hand out, and the copy a grading server runs.

DIR gets two folders, from one checkout:

- `learners/`: the repository to hand out: the stubs, the grader with the public specs only, the
  catalog, a GitHub Actions workflow wired to the grading reporter, and a `.devcontainer/` for
  Codespaces. Spec tests marked `@pytest.mark.hidden`
  are cut out and only their number per rung is kept (`grader/hidden.json`), so `kata check`
  can say "public specs passed; N hidden specs run at grading". With `without_reference` the
  readable solutions stay behind: the specs still need an oracle, so each reference travels as
  `grader/oracle/<rung>.py.z`, zlib-compressed source that the runner unpacks into the worker's
  private directory for the length of one run. That keeps answers out of casual sight; it is not
  a secret (anyone who runs Python on the file reads the source), and docs/grading.md says so.
- `autograder/`: everything, hidden specs and readable references included, with Gradescope's
  `setup.sh` and `run_autograder` and a `run_prairielearn` at its root: zip it for Gradescope or
  build a PrairieLearn image from it. It never goes to learners.
"""

from __future__ import annotations

import ast
import json
import shutil
import stat
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from grader.catalog import PACKAGE_DIR, REPO_ROOT, Rung, load_catalog, markdown_table

TEMPLATES = PACKAGE_DIR / "templates"
TOP_LEVEL_FILES = ("pyproject.toml", "constraints.txt", "LICENSE", "kata", "scripts/bootstrap")
SKIPPED_NAMES = {"__pycache__", "oracle", "hidden.json"}
LEARNER_GITIGNORE = ".venv/\n.kata/\n__pycache__/\n*.egg-info/\n.hypothesis/\n"


class ExportError(Exception):
    """The copy cannot be written: the target is not empty, a source file is missing."""


@dataclass
class ExportSummary:
    learners: Path
    autograder: Path
    rungs: list[str]
    hidden: dict[str, int] = field(default_factory=dict)
    oracles: list[str] = field(default_factory=list)


def is_hidden(node: ast.stmt) -> bool:
    """A test function or class decorated with `pytest.mark.hidden` (called or not)."""
    decorators = getattr(node, "decorator_list", [])
    for decorator in decorators:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Attribute) and target.attr == "hidden" \
                and isinstance(target.value, ast.Attribute) and target.value.attr == "mark":
            return True
    return False


def strip_hidden_tests(source: str) -> tuple[str, int]:
    """The spec without its hidden tests, and how many test functions were cut."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    cut: list[tuple[int, int]] = []
    count = 0
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if not is_hidden(node):
            continue
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        cut.append((first - 1, node.end_lineno or node.lineno))
        if isinstance(node, ast.ClassDef):
            count += sum(isinstance(item, ast.FunctionDef) and item.name.startswith("test")
                         for item in node.body)
        else:
            count += node.name.startswith("test")
    for start, end in reversed(cut):
        # leave a marker so line numbers in messages still point somewhere sensible
        del lines[start:end]
        lines.insert(start, "# (a hidden spec test was here; it runs where the course grades)\n")
    return "".join(lines), count


def _copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=lambda _dir, names: [
        name for name in names if name in SKIPPED_NAMES or name.endswith((".pyc", ".egg-info"))])


def _copy_file(relative: str, target_root: Path) -> None:
    source = REPO_ROOT / relative
    if not source.is_file():
        raise ExportError(f"{relative}: missing from this checkout")
    destination = target_root / relative
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, destination)


def _template(name: str, target: Path, executable: bool = False, **values: str) -> None:
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    if executable:
        target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _check_target(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ExportError(f"{target}: exists and is not an empty directory")
    if target.resolve().is_relative_to(REPO_ROOT):
        raise ExportError(f"{target}: inside this checkout; export somewhere outside it")


def export_course(target: Path, without_reference: bool = False) -> ExportSummary:
    """Write `learners/` and `autograder/` for every available rung into `target` (new or empty)."""
    _check_target(target)
    rungs = [rung for rung in load_catalog() if rung.available]
    missing = [rung.id for rung in rungs if not rung.reference_path.is_file()]
    if missing:
        raise ExportError(f"no readable reference for {', '.join(missing)}; export from a full "
                          "torchkata checkout or an autograder copy")
    summary = ExportSummary(learners=target / "learners", autograder=target / "autograder",
                            rungs=[rung.id for rung in rungs])
    table = markdown_table(tuple(rungs))
    for root, for_grading in ((summary.learners, False), (summary.autograder, True)):
        _copy_common(root, rungs)
        if for_grading:
            for rung in rungs:
                _copy_tree(rung.reference_path.parent, root / "reference" / rung.id)
            _template("gradescope-setup.sh", root / "setup.sh", executable=True)
            _template("run_autograder", root / "run_autograder", executable=True)
            _template("run_prairielearn", root / "run_prairielearn", executable=True)
            _template("README-autograder.md", root / "README.md", rungs=table)
            continue
        for rung in rungs:
            if without_reference:
                oracle = root / "grader" / "oracle" / f"{rung.id}.py.z"
                oracle.parent.mkdir(parents=True, exist_ok=True)
                oracle.write_bytes(zlib.compress(rung.reference_path.read_bytes(), 9))
                summary.oracles.append(rung.id)
            else:
                _copy_tree(rung.reference_path.parent, root / "reference" / rung.id)
            spec = root / "grader" / "specs" / rung.spec_path.name
            public, hidden = strip_hidden_tests(spec.read_text(encoding="utf-8"))
            spec.write_text(public, encoding="utf-8")
            if hidden:
                summary.hidden[rung.id] = hidden
        (root / "grader" / "hidden.json").write_text(
            json.dumps(summary.hidden, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        _template("classroom.yml", root / ".github" / "workflows" / "classroom.yml")
        _template("devcontainer.json", root / ".devcontainer" / "devcontainer.json")
        _template("README-learners.md", root / "README.md", rungs=table)
        (root / ".gitignore").write_text(LEARNER_GITIGNORE, encoding="utf-8")
    return summary


def _copy_common(root: Path, rungs: list[Rung]) -> None:
    root.mkdir(parents=True)
    for relative in TOP_LEVEL_FILES:
        _copy_file(relative, root)
    _copy_tree(PACKAGE_DIR, root / "grader")
    for rung in rungs:
        _copy_tree(rung.exercise_path.parent, root / "exercises" / rung.id)
