"""The learner's progress, in a git-ignored `.kata/progress.json`: per rung the best and the last
verdict of a check of exercises/, and how many hints of each task have been shown.

The file (format_version 2):

    {"format_version": 2,
     "rungs": {"08-attention": {"best": VERDICT, "last": VERDICT}},
     "hints": {"08-attention": {"causal_mask": 2}}}

with VERDICT = {"status", "tasks_passed", "tasks", "points", "max_points", "checked_at",
"task_status", "source_sha256"} (the checked file's hash: a rung whose last verdict passed on the
file as it is now gives the learner's own building blocks, grader/block_choice.py).

A file of the first format, `{rung_id: status, "hints shown": {rung: n}}`, is still read: each
status becomes both the best and the last verdict (with no task or point counts), and its
rung-wide hint counts, which name no task, are left behind.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grader.catalog import REPO_ROOT, Rung, load_catalog, resolve
from grader.results import Result, RungResult

PROGRESS_PATH = REPO_ROOT / ".kata" / "progress.json"
FORMAT_VERSION = 2
# how good a verdict is: a pass beats anything, a skip (the rung's extra is missing) nothing
RANK = {"pass": 2, "fail": 1, "todo": 1, "error": 1, "skipped": 0}
OPEN = ("fail", "error", "todo")  # a task with one of these still needs work


@dataclass(frozen=True)
class Verdict:
    """One check of a rung. Counts are None when unknown (a first-format progress file)."""

    status: str
    tasks_passed: int | None = None
    tasks: int | None = None
    points: float | None = None
    max_points: float | None = None
    checked_at: str | None = None  # ISO 8601, UTC
    task_status: Mapping[str, str] = field(default_factory=dict, hash=False)
    source_sha256: str | None = None  # the checked file's; a passing one serves grader.blocks

    def beats(self, other: Verdict) -> bool:
        """Better than `other`: a higher rank (pass first), or as high and at least as many
        points, so the latest of equal verdicts is kept."""
        mine, theirs = RANK.get(self.status, 1), RANK.get(other.status, 1)
        if mine != theirs:
            return mine > theirs
        return (self.points or 0.0) >= (other.points or 0.0)


@dataclass(frozen=True)
class RungProgress:
    best: Verdict
    last: Verdict

    @property
    def skipped(self) -> bool:
        """Skipped for a missing extra when last checked, and never passed."""
        return self.last.status == "skipped" and self.best.status != "pass"


@dataclass
class Progress:
    rungs: dict[str, RungProgress] = field(default_factory=dict)
    hints: dict[str, dict[str, int]] = field(default_factory=dict)

    def best_status(self, rung_id: str) -> str | None:
        entry = self.rungs.get(rung_id)
        return entry.best.status if entry else None


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(progress: Progress, path: Path) -> None:
    data = {"format_version": FORMAT_VERSION,
            "rungs": {rung_id: {"best": asdict(entry.best), "last": asdict(entry.last)}
                      for rung_id, entry in sorted(progress.rungs.items())},
            "hints": progress.hints}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    except OSError:  # a read-only checkout still grades; it just forgets
        pass


def _number(value: Any, kind: type) -> Any:
    return kind(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _verdict(raw: Any) -> Verdict | None:
    """A verdict from the file, or None for anything malformed (a hand-edited file)."""
    if isinstance(raw, str):
        return Verdict(status=raw)
    if not isinstance(raw, dict) or not isinstance(raw.get("status"), str):
        return None
    task_status = raw.get("task_status")
    checked_at = raw.get("checked_at")
    return Verdict(
        status=raw["status"], tasks_passed=_number(raw.get("tasks_passed"), int),
        tasks=_number(raw.get("tasks"), int), points=_number(raw.get("points"), float),
        max_points=_number(raw.get("max_points"), float),
        checked_at=checked_at if isinstance(checked_at, str) else None,
        task_status={str(k): str(v) for k, v in task_status.items()}
        if isinstance(task_status, dict) else {},
        source_sha256=raw["source_sha256"] if isinstance(raw.get("source_sha256"), str)
        else None)


def load_progress(path: Path | None = None) -> Progress:
    """What `.kata/progress.json` says, in either format; an unreadable file is no progress."""
    data = _load(path or PROGRESS_PATH)
    progress = Progress()
    if "format_version" not in data:  # the first format: {rung_id: status, "hints shown": ...}
        for rung_id, status in data.items():
            if isinstance(status, str):
                progress.rungs[rung_id] = RungProgress(Verdict(status), Verdict(status))
        return progress
    rungs = data.get("rungs")
    for rung_id, entry in (rungs.items() if isinstance(rungs, dict) else ()):
        if isinstance(entry, dict):
            best, last = _verdict(entry.get("best")), _verdict(entry.get("last"))
            if best and last:
                progress.rungs[str(rung_id)] = RungProgress(best, last)
    hints = data.get("hints")
    for rung_id, shown in (hints.items() if isinstance(hints, dict) else ()):
        if isinstance(shown, dict):
            progress.hints[str(rung_id)] = {str(task): int(n) for task, n in shown.items()
                                            if isinstance(n, int) and n > 0}
    return progress


def verdict_of(rung: RungResult, checked_at: datetime | None = None) -> Verdict:
    """The verdict a rung's check earned, stamped with when it was made."""
    when = (checked_at or datetime.now(UTC)).isoformat(timespec="seconds")
    task_status = {task: rung.task_status(task) for task in rung.tasks}
    passed = 0 if rung.status == "skipped" else sum(
        status in ("pass", "skipped") for status in task_status.values())
    return Verdict(status=rung.status, tasks_passed=passed, tasks=len(rung.tasks),
                   points=rung.points, max_points=rung.max_points, checked_at=when,
                   task_status=task_status, source_sha256=rung.source_sha256 or None)


def _is_whole_check_of_exercises(rung: RungResult) -> bool:
    try:
        catalog_rung = resolve(rung.id)
    except LookupError:
        return False
    return (list(rung.tasks) == list(catalog_rung.tasks)
            and Path(rung.impl) == catalog_rung.exercise_path)


def record_progress(result: Result, path: Path | None = None) -> None:
    """Remember each rung's verdict from a check of the learner's own exercises.

    Only a whole-rung check of `exercises/` counts: a rung graded from another file (`--impl
    PATH`, the reference) is left out. The last verdict is always replaced, the best one only by
    a verdict that beats it (see Verdict.beats).
    """
    path = path or PROGRESS_PATH
    progress = load_progress(path)
    for rung in result.rungs:
        if not _is_whole_check_of_exercises(rung):
            continue
        verdict = verdict_of(rung)
        before = progress.rungs.get(rung.id)
        best = verdict if before is None or verdict.beats(before.best) else before.best
        progress.rungs[rung.id] = RungProgress(best=best, last=verdict)
    _save(progress, path)


def current_rung(progress: Progress | None = None,
                 rungs: Iterable[Rung] | None = None) -> Rung | None:
    """The rung to work on: the first available one (catalog order) not passed yet.

    A rung skipped for a missing extra is passed over (checking it again would skip it again);
    None when every rung passes or is skipped.
    """
    progress = progress if progress is not None else load_progress()
    for rung in rungs if rungs is not None else load_catalog():
        entry = progress.rungs.get(rung.id)
        if rung.available and (entry is None or (entry.best.status != "pass"
                                                 and not entry.skipped)):
            return rung
    return None


def task_to_hint(rung: Rung, progress: Progress | None = None) -> str:
    """The task `kata hint RUNG` helps with: the first whose last verdict was fail, error or
    todo; the first task when nothing is known."""
    progress = progress if progress is not None else load_progress()
    entry = progress.rungs.get(rung.id)
    statuses = entry.last.task_status if entry else {}
    return next((task for task in rung.tasks if statuses.get(task) in OPEN), rung.tasks[0])


def next_hint_level(rung_id: str, task: str, hint_count: int, path: Path | None = None) -> int:
    """How many hints of a task to show now: one more than last time, up to all of them."""
    path = path or PROGRESS_PATH
    progress = load_progress(path)
    shown = progress.hints.setdefault(rung_id, {})
    level = min(shown.get(task, 0) + 1, hint_count)
    shown[task] = level
    _save(progress, path)
    return level
