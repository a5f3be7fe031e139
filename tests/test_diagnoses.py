"""Every "Likely mistake" a spec can name is tested both ways: a mutant whose KATA_EXPECT message
names it (the grader says it when it is that mistake) and a mutant whose KATA_EXPECT not_message
names it (the grader does not say it for a mistake of another kind; tests/test_rungs.py checks
both). Diagnoses without both are listed in tests/diagnoses_uncovered.txt, a list that may only
shrink: a diagnosis missing from it fails, and so does one listed that is now covered."""

from __future__ import annotations

import ast

from grader.catalog import REPO_ROOT

from .helpers import AVAILABLE, kata_expect, mutant_files, texts

SPECS = REPO_ROOT / "grader" / "specs"
UNCOVERED = REPO_ROOT / "tests" / "diagnoses_uncovered.txt"


def diagnoses() -> dict[str, list[str]]:
    """Rung id -> the description of every Mistake(...) its spec builds from a literal."""
    found: dict[str, list[str]] = {}
    for rung in AVAILABLE:
        spec = SPECS / f"test_{rung.id.replace('-', '_')}.py"
        tree = ast.parse(spec.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Mistake" \
                    and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                found.setdefault(rung.id, []).append(node.args[0].value)
    return found


def coverage(rung_id: str, description: str) -> tuple[bool, bool]:
    """(a mutant's message names it, a mutant's not_message names it)."""
    text = description.lower()
    named = refused = False
    for rung in AVAILABLE:
        if rung.id != rung_id:
            continue
        for path in mutant_files(rung):
            expect = kata_expect(path)
            named |= any(len(message) >= 12 and message in text
                         for message in texts(expect.get("message", [])))
            refused |= any(len(unwanted) >= 12 and unwanted in text
                           for unwanted in texts(expect.get("not_message", [])))
    return named, refused


def _key(rung_id: str, description: str) -> str:
    return f"{rung_id}: {' '.join(description.split())[:90]}".rstrip()


def test_the_specs_have_diagnoses_to_enumerate():
    assert sum(len(found) for found in diagnoses().values()) > 20


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
