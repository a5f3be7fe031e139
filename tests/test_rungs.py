"""Every available rung: the stub grades todo, the reference passes, the stub and the reference
tell the same lesson, every mutant fails for its reason and every alternative passes."""

from __future__ import annotations

import ast
import doctest

import pytest

from grader.catalog import Rung
from grader.harness.candidate import load_module_from_path
from grader.plugin import CATEGORIES

from .helpers import AVAILABLE, describe, grade, kata_expect, kill_margins, mutant_files, texts

# A kill is weak unless some failed check failed on a fixed case (an @example, not only a
# Hypothesis draw) by at least this many times what was allowed (or by a measure-less,
# categorical property): conftest.py lists weak kills in the summary.
STRONG_MARGIN = 2.0

BY_ID = pytest.mark.parametrize("rung", AVAILABLE, ids=lambda rung: rung.id)


@BY_ID
def test_the_stub_grades_todo_task_by_task(rung: Rung):
    result = grade(rung.id, "exercises")
    assert result.status == "todo", describe(result)
    assert result.tasks_todo == list(rung.tasks), describe(result)
    assert result.points == 0


@BY_ID
def test_the_reference_passes_every_check_of_exactly_the_catalogs_tasks(rung: Rung):
    result = grade(rung.id, "reference")
    assert {t.task for t in result.tests} == set(rung.tasks), describe(result)
    assert {t.category for t in result.tests} <= set(CATEGORIES), describe(result)
    assert result.status == "pass", describe(result)
    assert result.points == rung.points
    assert {t.status for t in result.tests} <= {"pass", "skipped"}, describe(result)
    skipped = [t for t in result.tests if t.status == "skipped"]
    assert all(t.category == "gpu" and "CUDA" in t.message for t in skipped), describe(result)


def _api(path) -> dict[str, tuple[str, str | None]]:
    """Module docstring plus every public function, class and method: signature and docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    api: dict[str, tuple[str, str | None]] = {"<module>": ("", ast.get_docstring(tree))}

    def visit(body, prefix=""):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if not node.name.startswith("_") or node.name == "__init__":
                    api[prefix + node.name] = (ast.unparse(node.args) + " -> "
                                               + (ast.unparse(node.returns) if node.returns
                                                  else ""), ast.get_docstring(node))
            elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                api[prefix + node.name] = (", ".join(ast.unparse(b) for b in node.bases),
                                           ast.get_docstring(node))
                visit(node.body, prefix + node.name + ".")

    visit(tree.body)
    return api


@BY_ID
def test_stub_and_reference_have_the_same_signatures_and_docstrings(rung: Rung):
    stub, reference = _api(rung.exercise_path), _api(rung.reference_path)
    assert stub.keys() == reference.keys()
    for name in stub:
        assert stub[name] == reference[name], f"{rung.id}: {name} differs"


@BY_ID
def test_every_stub_task_is_a_todo_over_not_implemented(rung: Rung):
    source = rung.exercise_path.read_text(encoding="utf-8")
    assert source.count(f"# TODO({rung.id})") >= len(rung.tasks)
    assert source.count(f'raise NotImplementedError("{rung.id}: ') >= len(rung.tasks)


@BY_ID
def test_the_stubs_doctest_passes_against_the_reference(rung: Rung):
    module = load_module_from_path(rung.reference_path, f"doctest_{rung.slug}")
    stub_doc = ast.get_docstring(ast.parse(rung.exercise_path.read_text(encoding="utf-8")))
    assert stub_doc and ">>>" in stub_doc, f"{rung.id}: the stub's docstring has no example"
    test = doctest.DocTestParser().get_doctest(stub_doc, dict(vars(module)), rung.id,
                                               str(rung.exercise_path), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


MUTANTS = [(rung, path) for rung in AVAILABLE for path in mutant_files(rung)]


@pytest.mark.parametrize("rung,path", MUTANTS, ids=[f"{r.id}/{p.stem}" for r, p in MUTANTS])
def test_each_mutant_fails_and_each_alternative_passes(rung: Rung, path, record_property):
    """An alternative passes the whole rung. A mutant's claim is about one task, so only that
    task's checks run (`kata check --task`): 2-5x faster, and every assertion below reads that
    task alone."""
    expect = kata_expect(path)
    task = expect.get("task") if expect["status"] != "pass" else None
    result = grade(rung.id, str(path), task=task)
    if expect["status"] == "pass":
        assert result.status == "pass", describe(result)
        return
    assert path.name.startswith("mutant_"), "a file expected to fail is named mutant_*.py"
    assert result.status == expect["status"], describe(result)
    if "task" not in expect:  # refused before it ran: by the source rules
        assert result.tests == [] and expect["message"].lower() in result.message.lower(), \
            describe(result)
        return
    matching = [t for t in result.tests if t.status == "fail"
                and t.task == expect["task"] and t.category == expect["category"]]
    assert matching, f"no failure in {expect['task']}/{expect['category']}\n" + describe(result)
    for wanted in texts(expect["message"]):
        assert any(wanted in t.message.lower() for t in matching), (
            f"no {expect['category']} failure says {wanted!r}\n" + describe(result))
    for unwanted in texts(expect.get("not_message", [])):
        said = [t for t in result.tests if t.task == expect["task"] and t.status == "fail"
                and unwanted in t.message.lower()]
        assert not said, (f"a failure of {expect['task']} names {unwanted!r}, a "
                          "mistake this mutant does not make\n" + describe(result))
    weak = weak_kill(kill_margins(rung.id, str(path), task))
    if weak:
        record_property("weak_kill", f"{rung.id}/{path.stem}\t{expect['task']}\t{weak}")


def weak_kill(margins: dict[str, dict]) -> str:
    """'' when some failed check failed by a clear margin on a fixed case, else why not."""
    if not margins:
        return ""  # failed before any check could fail (an error, the source rules)
    for fields in margins.values():
        if not fields["drawn"] and (fields["margin"] is None
                                    or fields["margin"] >= STRONG_MARGIN):
            return ""
    shown = []
    for name, fields in sorted(margins.items()):
        margin = "categorical" if fields["margin"] is None else \
            f"{fields['margin']:.3g} {fields['margin_kind']}"
        shown.append(f"{name}: {margin}{', drawn' if fields['drawn'] else ''}")
    return "; ".join(shown)
