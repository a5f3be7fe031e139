"""Every "Likely mistake" a spec can name is tested both ways: a mutant whose KATA_EXPECT message
names it (the grader says it when it is that mistake) and a mutant whose KATA_EXPECT not_message
names it (the grader does not say it for a mistake of another kind; tests/test_rungs.py checks
both). Diagnoses without both are listed in tests/diagnoses_uncovered.txt, a list that may only
shrink: a diagnosis missing from it fails, and so does one listed that is now covered.

A diagnosis is any text a spec can show as the likely mistake, wherever it is written:
- the description of a `Mistake(...)` (a string or an f-string);
- a string that contains "Likely mistake:" (the text after it);
- the first item of each entry of a `*_MISTAKES` table (tuples) or each value (dicts), and each
  key of a `*_RULES` table (dicts: description -> the rule the mistake follows);
- a string returned by a function named `*mistake*`, `*advice*` or `*explain*` that returns str;
- in a function named `*mistake*` or `*reason*`, the text of each (description, answer) or
  (answer, description) tuple it writes out (a list of candidate mistakes to match).
An f-string's fixed parts are matched; `{}` marks each value it fills in."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from grader.catalog import REPO_ROOT

from .helpers import AVAILABLE, kata_expect, mutant_files, texts

SPECS = REPO_ROOT / "grader" / "specs"
UNCOVERED = REPO_ROOT / "tests" / "diagnoses_uncovered.txt"
PREFIX = "Likely mistake:"
DIAGNOSING_FUNCTION = re.compile(r"mistake|advice|explain")
CANDIDATE_LISTING_FUNCTION = re.compile(r"mistake|reason")


def text_of(node: ast.AST) -> str | None:
    """The fixed text of a string expression, `{}` for each value an f-string fills in."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "{}"
                       for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = text_of(node.left), text_of(node.right)
        if left is not None and right is not None:
            return left + right
    return None


def _is_table(node: ast.AST, suffix: str = "_MISTAKES") -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else \
        [node.target] if isinstance(node, ast.AnnAssign) else []
    return any(isinstance(target, ast.Name) and target.id.endswith(suffix)
               for target in targets)


def spec_diagnoses(source: str) -> list[str]:
    """Every diagnosis a spec's source can show, each once."""
    tree = ast.parse(source)
    inside_fstring = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
                      for part in node.values}
    found: list[str] = []

    def add(text: str | None) -> None:
        if text is None:
            return
        text = text.split(PREFIX, 1)[-1].strip()
        if len(text.replace("{}", "").strip(" .")) >= 12:
            found.append(text)

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Mistake" \
                and node.args:
            add(text_of(node.args[0]))
        elif isinstance(node, (ast.Constant, ast.JoinedStr)) and id(node) not in inside_fstring:
            text = text_of(node)
            if text and PREFIX in text:
                add(text)
        elif _is_table(node) and node.value is not None:
            table = node.value
            if isinstance(table, (ast.Tuple, ast.List)):
                for entry in table.elts:
                    if isinstance(entry, ast.Tuple) and entry.elts:
                        add(text_of(entry.elts[0]))
            elif isinstance(table, ast.Dict):
                for value in table.values:
                    add(text_of(value))
        elif _is_table(node, "_RULES") and isinstance(node.value, ast.Dict):
            for key in node.value.keys:
                if key is not None:
                    add(text_of(key))
        if isinstance(node, ast.FunctionDef) and DIAGNOSING_FUNCTION.search(node.name) \
                and getattr(node.returns, "id", None) == "str":
            for statement in ast.walk(node):
                if isinstance(statement, ast.Return) and statement.value is not None:
                    add(text_of(statement.value))
        if isinstance(node, ast.FunctionDef) and CANDIDATE_LISTING_FUNCTION.search(node.name):
            for pair in ast.walk(node):
                if isinstance(pair, ast.Tuple) and len(pair.elts) == 2:
                    texts_ = [text_of(elt) for elt in pair.elts]
                    if sum(text is not None for text in texts_) == 1:
                        add(next(text for text in texts_ if text is not None))
    return list(dict.fromkeys(found))


def diagnoses() -> dict[str, list[str]]:
    """Rung id -> every diagnosis its spec can show."""
    return {rung.id: spec_diagnoses(_spec(rung.id).read_text(encoding="utf-8"))
            for rung in AVAILABLE}


def _spec(rung_id: str) -> Path:
    return SPECS / f"test_{rung_id.replace('-', '_')}.py"


def coverage(rung_id: str, description: str) -> tuple[bool, bool]:
    """(a mutant's message names it, a mutant's not_message names it).

    A KATA_EXPECT text names a diagnosis when it is at least 12 characters of one of its fixed
    parts."""
    parts = description.lower().split("{}")
    named = refused = False
    for rung in AVAILABLE:
        if rung.id != rung_id:
            continue
        for path in mutant_files(rung):
            expect = kata_expect(path)
            named |= any(len(message) >= 12 and any(message in part for part in parts)
                         for message in texts(expect.get("message", [])))
            refused |= any(len(unwanted) >= 12 and any(unwanted in part for part in parts)
                           for unwanted in texts(expect.get("not_message", [])))
    return named, refused


def _key(rung_id: str, description: str) -> str:
    return f"{rung_id}: {' '.join(description.split())[:90]}".rstrip()


def test_the_enumeration_finds_every_kind_of_diagnosis():
    source = '''
A_MISTAKES = (("a table's description, first", None),)
B_MISTAKES = {"key": "a dict table's description"}
def f(n):
    Mistake(f"an f-string Mistake with {n} inside", None)
    message = "\\n  Likely mistake: an inline diagnosis."
def why_mistake(x) -> str:
    return f"a diagnosing function's {x} answer"
def unrelated(x) -> str:
    return "not a diagnosis at all, just text"
C_RULES = {"a rule's description, its key": lambda n: n + 1}
def some_mistakes(x):
    return [("a candidate's description first", lambda: x), (x * 2, "a candidate's second")]
def frequency_reason(x):
    candidates = [("a reason's candidate description", x)]
'''
    assert sorted(spec_diagnoses(source)) == sorted([
        "a table's description, first", "a dict table's description",
        "an f-string Mistake with {} inside", "an inline diagnosis.",
        "a diagnosing function's {} answer", "a rule's description, its key",
        "a candidate's description first", "a candidate's second",
        "a reason's candidate description"])


def test_the_specs_have_diagnoses_to_enumerate():
    assert sum(len(found) for found in diagnoses().values()) > 150


def test_every_diagnosis_is_tested_both_ways_or_listed_as_not_yet():
    listed = {line.strip() for line in UNCOVERED.read_text(encoding="utf-8").splitlines()
              if line.strip() and not line.startswith("#")}
    missing, covered_but_listed = [], []
    for rung_id, found in diagnoses().items():
        for description in found:
            key = _key(rung_id, description)
            both = all(coverage(rung_id, description))
            if not both and key not in listed:
                missing.append(key)
            if both and key in listed:
                covered_but_listed.append(key)
    assert not missing, "diagnoses without a mutant each way:\n" + "\n".join(missing)
    assert not covered_but_listed, ("now tested both ways; remove from " + UNCOVERED.name
                                    + ":\n" + "\n".join(covered_but_listed))
