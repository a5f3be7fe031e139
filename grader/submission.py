"""Put a learner's submitted files where the grader looks: `python -m grader.submission DIR`.

Gradescope and PrairieLearn hand the grader a folder of whatever the learner uploaded: single
modules (`attention.py`), or a whole repository (`exercises/08-attention/attention.py`). For each
available rung this finds the module by name, prefers the path the course copy uses, and copies it
over the stub in `exercises/`. A rung with nothing submitted keeps its stub and grades todo.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from grader.catalog import Rung, load_catalog


def find_module(submission: Path, rung: Rung) -> Path | None:
    """The submitted file for `rung`, or None: `exercises/<id>/<module>` first, then by name."""
    found = sorted(path for path in submission.rglob(rung.module) if path.is_file())
    for path in found:
        if path.parent.name == rung.id:
            return path
    return found[0] if found else None


def place_submission(submission: Path) -> list[str]:
    """Copy each submitted module over its stub; one line per rung saying what was used."""
    lines = []
    for rung in (r for r in load_catalog() if r.available):
        source = find_module(submission, rung)
        if source is None:
            lines.append(f"{rung.id}: no {rung.module} submitted; the stub is graded (todo)")
            continue
        shutil.copyfile(source, rung.exercise_path)
        lines.append(f"{rung.id}: graded {source.relative_to(submission)}")
    return lines


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: python -m grader.submission SUBMISSION_DIR", file=sys.stderr)
        return 2
    for line in place_submission(Path(argv[0])):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
