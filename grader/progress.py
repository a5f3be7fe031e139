"""The learner's progress: the last verdict of each rung, in a git-ignored `.kata/` file."""

from __future__ import annotations

import json
from pathlib import Path

from grader.catalog import REPO_ROOT
from grader.results import Result

PROGRESS_PATH = REPO_ROOT / ".kata" / "progress.json"


def load_progress(path: Path | None = None) -> dict[str, str]:
    path = path or PROGRESS_PATH
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def record_progress(result: Result, path: Path | None = None) -> None:
    """Remember each rung's status from a check of the learner's own exercises."""
    path = path or PROGRESS_PATH
    progress = load_progress(path)
    progress.update({rung.id: rung.status for rung in result.rungs})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(progress, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    except OSError:  # a read-only checkout still grades; it just forgets
        pass
