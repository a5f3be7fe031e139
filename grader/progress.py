"""The learner's progress: the last verdict of each rung, in a git-ignored `.kata/` file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grader.catalog import REPO_ROOT
from grader.results import Result

PROGRESS_PATH = REPO_ROOT / ".kata" / "progress.json"
HINTS_KEY = "hints shown"


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(data: dict[str, Any], path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    except OSError:  # a read-only checkout still grades; it just forgets
        pass


def load_progress(path: Path | None = None) -> dict[str, str]:
    """The last verdict of each rung checked from exercises/."""
    data = _load(path or PROGRESS_PATH)
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str)}


def record_progress(result: Result, path: Path | None = None) -> None:
    """Remember each rung's status from a check of the learner's own exercises."""
    path = path or PROGRESS_PATH
    data = _load(path)
    data.update({rung.id: rung.status for rung in result.rungs})
    _save(data, path)


def next_hint_level(rung_id: str, hint_count: int, path: Path | None = None) -> int:
    """How many hints of a rung to show now: one more than last time, up to all of them."""
    path = path or PROGRESS_PATH
    data = _load(path)
    shown = data.get(HINTS_KEY, {})
    shown = shown if isinstance(shown, dict) else {}
    level = min(int(shown.get(rung_id, 0)) + 1, hint_count)
    shown[rung_id] = level
    data[HINTS_KEY] = shown
    _save(data, path)
    return level
