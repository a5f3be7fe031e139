"""The catalog is the one list of rungs: it matches RUNGS.md's ladder and the files on disk."""

import pytest

from grader.catalog import REPO_ROOT, SPECS_DIR, UnknownRung, load_catalog, resolve
from grader.pristine import STUBS_DIR, pristine_stub

from .helpers import AVAILABLE, MUTANTS_DIR

RUNG_IDS = [
    "01-tensors", "02-autograd", "03-module", "04-dataset", "05-training-loop", "06-amp",
    "07-modules", "08-attention", "09-hf", "10-profiling", "11-tokenizer", "12-gpt",
    "13-generation", "14-pretraining", "15-classifier", "16-instruct", "17-lora",
    "18-preference", "19-micrograd", "20-checkpoint-deploy", "21-distributed", "22-memory",
]


def test_all_22_rungs_in_ladder_order():
    assert [rung.id for rung in load_catalog()] == RUNG_IDS


def test_every_rung_has_points_tasks_and_a_known_status():
    for rung in load_catalog():
        assert rung.points > 0 and rung.timeout > 0, rung.id
        assert rung.status in ("available", "planned"), rung.id
        assert rung.tasks, rung.id


def test_every_task_of_an_available_rung_has_one_to_three_hints_and_none_is_unknown():
    for rung in load_catalog():
        assert set(rung.hints) <= set(rung.tasks), rung.id
        for task, hints in rung.hints.items():
            assert 1 <= len(hints) <= 3 and all(h.strip() for h in hints), (rung.id, task)
    for rung in AVAILABLE:
        assert set(rung.hints) == set(rung.tasks), rung.id


def test_the_pristine_stubs_are_the_exercises_as_shipped():
    """grader/stubs/ is what `kata reset` restores; scripts/freeze-stubs rewrites it."""
    assert {path.name for path in STUBS_DIR.iterdir()} == {f"{r.id}.py.z" for r in AVAILABLE}
    for rung in AVAILABLE:
        assert pristine_stub(rung) == rung.exercise_path.read_bytes(), (
            f"{rung.id}: the stub changed; run scripts/freeze-stubs")


def test_available_rungs_ship_stub_readme_reference_spec_and_mutants():
    assert {rung.id for rung in AVAILABLE} >= {"01-tensors", "08-attention"}
    for rung in AVAILABLE:
        assert rung.exercise_path.is_file(), rung.exercise_path
        assert (rung.exercise_path.parent / "README.md").is_file(), rung.id
        assert rung.reference_path.is_file(), rung.reference_path
        assert rung.spec_path.is_file(), rung.spec_path
        assert list((MUTANTS_DIR / rung.id).glob("mutant_*.py")), rung.id
        assert len(list((MUTANTS_DIR / rung.id).glob("alt_*.py"))) >= 2, rung.id


def test_no_exercise_reference_or_spec_outside_the_catalog():
    known = {rung.id for rung in AVAILABLE}
    assert {p.name for p in (REPO_ROOT / "exercises").iterdir() if p.is_dir()} == known
    assert {p.name for p in (REPO_ROOT / "reference").iterdir() if p.is_dir()} == known
    assert {p.name for p in SPECS_DIR.glob("test_*.py")} == {r.spec_path.name for r in AVAILABLE}


@pytest.mark.parametrize("name", ["08-attention", "08", "8", "attention", " Attention "])
def test_rung_ids_resolve_by_id_number_or_slug(name):
    assert resolve(name).id == "08-attention"


def test_a_misspelt_rung_gets_did_you_mean():
    with pytest.raises(UnknownRung, match="did you mean 08-attention"):
        resolve("atention")


def test_nonsense_points_at_kata_list():
    with pytest.raises(UnknownRung, match="kata list"):
        resolve("zzzzzz")
