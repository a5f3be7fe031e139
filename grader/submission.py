"""Put a learner's submitted files where the grader looks: `python -m grader.submission DIR`.

Gradescope and PrairieLearn hand the grader a folder of whatever the learner uploaded: single
modules (`attention.py`), or a whole repository (`exercises/08-attention/attention.py`). For each
available rung this finds the module by name, prefers the path the course copy uses, and copies it
over the stub in `exercises/`. A rung with nothing submitted keeps its stub and grades todo.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from grader.catalog import Rung, load_catalog
from grader.rules import MAX_SOURCE_BYTES


def _regular_files(submission: Path, name: str) -> list[Path]:
    """Files called `name` under `submission`, found without following any symbolic link."""
    found = []
    for folder, subfolders, files in os.walk(submission, followlinks=False):
        subfolders[:] = [d for d in subfolders if not (Path(folder) / d).is_symlink()]
        if name in files:
            found.append(Path(folder) / name)
    return sorted(found)


def find_module(submission: Path, rung: Rung) -> Path | None:
    """The submitted file for `rung`, or None: `exercises/<id>/<module>` first, then by name."""
    found = _regular_files(submission, rung.module)
    for path in found:
        if path.parent.name == rung.id:
            return path
    return found[0] if found else None


def _read_plain_file(path: Path) -> bytes | str:
    """The file's bytes, or why it is not taken: a link, not a regular file, too large."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return "is a symbolic link or cannot be opened; upload the file itself"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return "is not a regular file; upload the file itself"
        if info.st_size > MAX_SOURCE_BYTES:
            return f"is larger than {MAX_SOURCE_BYTES // 1024} KB"
        return os.read(fd, MAX_SOURCE_BYTES + 1)
    finally:
        os.close(fd)


def place_submission(submission: Path) -> list[str]:
    """Copy each submitted module over its stub; one line per rung saying what was used.

    Uploads are read without following links: a submitted `attention.py` that points at the
    grader's reference is refused, and the stub is graded instead.
    """
    lines = []
    for rung in (r for r in load_catalog() if r.available):
        source = find_module(submission, rung)
        if source is None:
            lines.append(f"{rung.id}: no {rung.module} submitted; the stub is graded (todo)")
            continue
        data = _read_plain_file(source)
        if isinstance(data, str):
            lines.append(f"{rung.id}: {source.relative_to(submission)} {data}; the stub is "
                         "graded (todo)")
            continue
        rung.exercise_path.write_bytes(data)
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
