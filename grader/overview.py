"""What `kata list` and `kata next` print: the ladder with the learner's progress on it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from grader.catalog import REPO_ROOT, Rung, load_catalog
from grader.progress import Progress, RungProgress, current_rung, load_progress

BAR_WIDTH = 20
CURRENT_MARK = ">"


def stub_label(rung: Rung) -> str:
    """The learner's file, as a path from the checkout's root: exercises/NN-slug/module.py."""
    return f"exercises/{rung.id}/{rung.module}"


def progress_bar(points: float, max_points: float, width: int = BAR_WIDTH) -> str:
    """`[#####-----] 45/115`: the share of points earned, in `width` characters."""
    filled = round(width * points / max_points) if max_points > 0 else 0
    filled = min(width, max(0, filled))
    return f"[{'#' * filled}{'-' * (width - filled)}] {points:g}/{max_points:g}"


@dataclass
class Row:
    rung: Rung
    entry: RungProgress | None
    current: bool

    @property
    def best(self) -> str:
        return self.entry.best.status if self.entry else "-"

    @property
    def last(self) -> str:
        return self.entry.last.status if self.entry else "-"

    @property
    def points(self) -> float:
        """The best verdict's points (a first-format pass, with no count, earned them all)."""
        if self.entry is None:
            return 0.0
        best = self.entry.best
        if best.points is None:
            return self.rung.points if best.status == "pass" else 0.0
        return best.points

    @property
    def tasks_passed(self) -> str:
        best = self.entry.best if self.entry else None
        if best is None:
            return "0"
        if best.tasks_passed is None:
            return str(len(self.rung.tasks)) if best.status == "pass" else "?"
        return str(best.tasks_passed)


@dataclass
class Overview:
    rows: list[Row]  # the available rungs
    planned: list[Rung]
    current: Rung | None

    @property
    def skipped(self) -> list[Row]:
        return [row for row in self.rows if row.entry is not None and row.entry.skipped]

    @property
    def counted(self) -> list[Row]:
        return [row for row in self.rows if row not in self.skipped]

    @property
    def points(self) -> float:
        return round(sum(row.points for row in self.counted), 2)

    @property
    def max_points(self) -> float:
        return round(sum(row.rung.points for row in self.counted), 2)

    @property
    def passed(self) -> int:
        return sum(row.best == "pass" for row in self.rows)


def overview(progress: Progress | None = None, rungs: Iterable[Rung] | None = None) -> Overview:
    progress = progress if progress is not None else load_progress()
    rungs = tuple(rungs if rungs is not None else load_catalog())
    current = current_rung(progress, rungs)
    rows = [Row(rung, progress.rungs.get(rung.id), rung == current)
            for rung in rungs if rung.available]
    return Overview(rows=rows, planned=[rung for rung in rungs if not rung.available],
                    current=current)


def list_lines(view: Overview) -> list[str]:
    """`kata list`: a header, a line per available rung, the planned ones, then the total."""
    width = max((len(row.rung.id) for row in view.rows), default=12)
    width = max([width, *(len(rung.id) for rung in view.planned)])
    mark = f" ({CURRENT_MARK} marks the one to work on)" if view.current else ""
    lines = [f"{view.passed} of {len(view.rows)} rungs pass{mark}",
             f"  {'rung':<{width}}  {'best':<7} {'last':<7} {'tasks':<6} {'points':<10} title"]
    for row in view.rows:
        marker = CURRENT_MARK if row.current else " "
        tasks = f"{row.tasks_passed}/{len(row.rung.tasks)}"
        points = f"{row.points:g}/{row.rung.points:g}"
        lines.append(f"{marker} {row.rung.id:<{width}}  {row.best:<7} {row.last:<7} "
                     f"{tasks:<6} {points:<10} {row.rung.title}")
    if view.planned:
        lines += ["", "Planned (not gradable yet):"]
        lines += [f"  {rung.id:<{width}}  {rung.title}" for rung in view.planned]
    total = f"Total: {progress_bar(view.points, view.max_points)} points"
    for row in view.skipped:
        total += f"; {row.rung.id} skipped: {row.rung.points:g} points not counted"
    lines += ["", total]
    return lines


def _relative(rung: Rung) -> str:
    path = rung.exercise_path
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def next_lines(view: Overview) -> list[str]:
    """`kata next`: the rung to work on, its file and the command that checks it."""
    rung = view.current
    if rung is None:
        return all_done_lines(view)
    row = next(row for row in view.rows if row.rung == rung)
    lines = [f"Next: {rung.id} · {rung.title}",
             f"  open   {_relative(rung)} (its docstring is the task; README.md beside it)",
             f"  check  ./kata check {rung.id}   (or just ./kata)"]
    if row.entry is not None:
        last = row.entry.last
        when = f" on {last.checked_at.replace('T', ' ')}" if last.checked_at else ""
        counts = (f": {last.tasks_passed} of {last.tasks} tasks pass, {last.points:g}/"
                  f"{last.max_points:g} points" if last.tasks is not None
                  and last.points is not None and last.max_points is not None else "")
        lines.append(f"  last checked{when}: {last.status}{counts}")
    lines.append(f"  stuck  ./kata hint {rung.id}")
    return lines


def all_done_lines(view: Overview) -> list[str]:
    """Said when no rung is left to work on."""
    skipped = view.skipped
    if skipped:
        names = ", ".join(row.rung.id for row in skipped)
        extras = sorted({row.rung.extra for row in skipped if row.rung.extra})
        install = "; install " + " and ".join(f"./scripts/bootstrap {e}" for e in extras) \
            if extras else ""
        lines = [f"Every rung passes but {names}, skipped for a missing extra{install} and "
                 "check it again."]
    else:
        lines = [f"Every rung passes: {view.passed} of {len(view.rows)}, "
                 f"{view.points:g}/{view.max_points:g} points."]
    if view.planned:
        lines.append(f"{len(view.planned)} more rungs are planned; `kata list` shows them.")
    return lines
