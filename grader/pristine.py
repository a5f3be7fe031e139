"""Pristine stubs for `kata reset`, and the backups of what it replaces.

The stub a rung starts from is kept as `grader/stubs/<rung>.py.z` (zlib-compressed source),
written by `scripts/freeze-stubs` from exercises/ in the project's own repository, where
exercises/ are the stubs (tests/test_catalog.py checks the two are equal). A learner edits and
commits exercises/, never grader/stubs/, and `kata export` copies grader/ whole, so every copy
can reset without git history (a course copy may come as a zip or a squashed template).
"""

from __future__ import annotations

import zlib
from datetime import datetime
from pathlib import Path

from grader.catalog import PACKAGE_DIR, REPO_ROOT, Rung

STUBS_DIR = PACKAGE_DIR / "stubs"
BACKUPS_DIR = REPO_ROOT / ".kata" / "backups"


class ResetError(Exception):
    """The rung cannot be reset here: no pristine stub in this copy."""


def stub_path(rung: Rung) -> Path:
    return STUBS_DIR / f"{rung.id}.py.z"


def pristine_stub(rung: Rung) -> bytes | None:
    """The rung's stub as it shipped, or None when this copy has none."""
    try:
        return zlib.decompress(stub_path(rung).read_bytes())
    except (OSError, zlib.error):
        return None


def freeze_stubs(rungs: list[Rung]) -> list[Path]:
    """Write grader/stubs/<rung>.py.z from each rung's exercises/ file (the project repo's)."""
    STUBS_DIR.mkdir(parents=True, exist_ok=True)
    written = []
    for rung in rungs:
        path = stub_path(rung)
        path.write_bytes(zlib.compress(rung.exercise_path.read_bytes(), 9))
        written.append(path)
    return written


def is_pristine(rung: Rung) -> bool:
    """The learner's file is exactly the stub (nothing to reset)."""
    stub = pristine_stub(rung)
    path = rung.exercise_path
    return stub is not None and path.is_file() and path.read_bytes() == stub


def backup_path(rung: Rung, now: datetime | None = None) -> Path:
    """A fresh `.kata/backups/<rung>/<module>-<timestamp>.py` that names no existing file."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    stem, suffix = Path(rung.module).stem, Path(rung.module).suffix
    folder = BACKUPS_DIR / rung.id
    path = folder / f"{stem}-{stamp}{suffix}"
    number = 2
    while path.exists():
        path = folder / f"{stem}-{stamp}-{number}{suffix}"
        number += 1
    return path


def reset_exercise(rung: Rung, now: datetime | None = None) -> Path | None:
    """Put the pristine stub back; return where the learner's file was kept (None: no file)."""
    stub = pristine_stub(rung)
    if stub is None:
        raise ResetError(f"{rung.id}: this copy has no pristine stub ({stub_path(rung)} is "
                         "missing)")
    target = rung.exercise_path
    kept = None
    if target.is_file():
        kept = backup_path(rung, now)
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_bytes(target.read_bytes())
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(stub)
    return kept
