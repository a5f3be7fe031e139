"""The cheat suite: modules written to get points without the work, or to break the grader.

Each `tests/cheats/<rung>/cheat_*.py` says in its `KATA_CHEAT` literal what it tries (`class`,
1-8 as in docs/grading.md §7) and what the grader must answer (`expect`: the rung's status and a
phrase of the message that names what was refused). Every one must earn nothing (or no more than
its honest part, `max_points`), get a clear verdict, leave no process behind and leave the
checkout as it was.
"""

from __future__ import annotations

import ast
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from grader import isolation
from grader.catalog import REPO_ROOT, resolve
from grader.runner import ALL_LAYERS, Layers, check_rung

from .helpers import describe

CHEATS_DIR = REPO_ROOT / "tests" / "cheats"
CHEATS = sorted(CHEATS_DIR.glob("*/cheat_*.py"))


def kata_cheat(path: Path) -> dict[str, Any]:
    """The KATA_CHEAT literal, read from its own lines: some cheats are files Python cannot
    parse at all (that is their attack)."""
    text = path.read_text(encoding="utf-8")
    start = text.find("\nKATA_CHEAT = {")
    assert start >= 0, f"{path} has no KATA_CHEAT = {{...}} literal"
    start = text.index("{", start)
    depth = 0
    for end, char in enumerate(text[start:], start):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0:
            return ast.literal_eval(text[start:end + 1])
    raise AssertionError(f"{path}: KATA_CHEAT never closes")


def checkout_state() -> str:
    """Tracked files as git sees them, and the untracked ones outside the cheat suite."""
    status = subprocess.run(["git", "status", "--porcelain"], cwd=REPO_ROOT, check=True,
                            capture_output=True, text=True).stdout
    return "\n".join(line for line in status.splitlines() if "tests/cheats/" not in line)


def _leftovers(uids: list[int]) -> list[str]:
    """Processes of the run's own uid (or in its deleted folder), and its files in /tmp and
    /dev/shm."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        uid = next((int(line.split()[1]) for line in status.splitlines()
                    if line.startswith("Uid:")), -1)
        if uid in uids or ("/kata-" in cwd and cwd.endswith("(deleted)")):
            found.append(f"pid {entry} (uid {uid}, cwd {cwd})")
    # in the folders it could write (walking all of a busy /tmp took seconds per cheat)
    found += [path for path, _ in isolation.entries_of(uids)]
    return found


def test_the_suite_covers_every_class_of_attack():
    classes = {kata_cheat(path)["class"] for path in CHEATS}
    assert classes == set(range(1, 9)), f"classes with no cheat: {set(range(1, 9)) - classes}"
    assert len(CHEATS) >= 40


@pytest.mark.parametrize("path", CHEATS, ids=[f"{p.parent.name}/{p.stem}" for p in CHEATS])
def test_a_cheat_earns_nothing_and_changes_nothing(path: Path, monkeypatch):
    cheat = kata_cheat(path)
    _grade_and_check(path, monkeypatch, dict(cheat["expect"],
                                             max_points=cheat.get("max_points", 0)), ALL_LAYERS)


def _grade_and_check(path: Path, monkeypatch: pytest.MonkeyPatch, expect: dict[str, Any],
                     layers: Layers) -> None:
    cheat = kata_cheat(path)
    rung = resolve(path.parent.name)
    uids: list[int] = []
    choose = isolation.worker_uids

    def recorded() -> list[int]:
        chosen = choose()
        uids.extend(uid for uid in chosen if uid != isolation.NOBODY)
        return chosen

    monkeypatch.setattr(isolation, "worker_uids", recorded)
    before = checkout_state()
    result, _ = check_rung(rung, impl=str(path), timeout=float(cheat.get("timeout", 60)),
                           layers=layers)
    assert result.points <= expect.get("max_points", 0), describe(result)
    assert result.status != "pass", describe(result)
    statuses = expect["status"] if isinstance(expect["status"], list) else [expect["status"]]
    assert result.status in statuses, describe(result)
    said = result.message + "\n" + "\n".join(t.message for t in result.tests)
    assert expect["message"].lower() in said.lower(), (
        f"no message says {expect['message']!r}\n" + describe(result))
    assert "Traceback" not in said, describe(result)
    assert checkout_state() == before, "the cheat changed the checkout"
    assert _leftovers(uids) == [], "the cheat left processes behind"


DEEP = [path for path in CHEATS if "bare" in kata_cheat(path)]


@pytest.mark.parametrize("path", DEEP, ids=[f"{p.parent.name}/{p.stem}" for p in DEEP])
def test_without_the_source_rules_and_the_run_time_guard_the_cheat_still_fails(
        path: Path, monkeypatch):
    """Each layer on its own: with the outer two switched off, what lies beneath (the trusted
    list of checks, grader-only skips, the tamper snapshot, the unprivileged user, the parent's
    clean-up and sanitising) still holds against these."""
    bare = kata_cheat(path)["bare"]
    if bare.get("root_only") and not isolation.running_as_root():
        pytest.skip("the defence is the unprivileged worker user, which needs a root grader")
    _grade_and_check(path, monkeypatch, bare, Layers(source_rules=False, runtime_guard=False))


PLAIN = [path for path in CHEATS if "plain_user" in kata_cheat(path)]


@pytest.mark.parametrize("path", PLAIN, ids=[f"{p.parent.name}/{p.stem}" for p in PLAIN])
def test_graded_by_a_plain_user_the_cheat_still_fails_and_leaves_nothing(path: Path, monkeypatch):
    """A grader run as a plain user drops no privileges and cannot kill a uid of the run's own:
    what it started must still die with the run, warm worker (the zygote) included. Graded with
    the outer two layers off, as `bare`, and as if this process were not root."""
    monkeypatch.setattr(isolation, "running_as_root", lambda: False)
    _grade_and_check(path, monkeypatch, kata_cheat(path)["plain_user"],
                     Layers(source_rules=False, runtime_guard=False))
