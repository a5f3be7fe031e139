"""One neutral result model; every report format renders it, none adds to it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

FORMAT_VERSION = 1
DIAGNOSIS = "Likely mistake:"  # how a spec's message names the mistake it recognised


@dataclass
class TestResult:
    __test__ = False  # a result, not a pytest test class

    name: str
    task: str
    category: str
    status: str
    message: str = ""
    duration: float = 0.0
    visibility: str = "visible"
    ratio: float | None = None
    # what the learner's code printed (stdout and stderr) during this check, cleaned and capped
    output: str = ""


def split_points(total: float, parts: int) -> list[float]:
    """`total` in `parts` shares, to the cent, that add up to it exactly (earlier ones get more)."""
    if parts <= 0:
        return []
    cents = round(total * 100)
    share, extra = divmod(cents, parts)
    return [(share + (1 if i < extra else 0)) / 100 for i in range(parts)]


@dataclass
class TaskScore:
    """One task's credit: what platforms that score per test are given."""

    task: str
    status: str  # pass | fail | error | todo | skipped | untested
    points: float
    max_points: float
    message: str = ""


@dataclass
class RungResult:
    id: str
    title: str
    status: str
    points: float
    max_points: float
    impl: str
    tests: list[TestResult] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    tasks_todo: list[str] = field(default_factory=list)
    message: str = ""
    duration: float = 0.0
    hidden_pending: int = 0  # hidden spec tests this copy lacks; they run at grading
    source_sha256: str = ""  # of the file checked
    # the earlier rungs whose building blocks this module imports: {"rung", "origin", "why"}
    blocks: list[dict[str, str]] = field(default_factory=list)

    def first_problem(self, task: str) -> TestResult | None:
        """The failure a report shows for `task`: the first that names a likely mistake, else
        the first (specs order their checks from the simplest case up)."""
        for wanted in ("fail", "error", "todo"):
            found = [t for t in self.tests if t.task == task and t.status == wanted]
            diagnosed = [t for t in found if DIAGNOSIS in t.message]
            if found:
                return (diagnosed or found)[0]
        return None

    def task_status(self, task: str) -> str:
        statuses = {t.status for t in self.tests if t.task == task}
        for status in ("error", "fail", "todo"):
            if status in statuses:
                return status
        if not statuses:
            return "error" if self.status == "error" else "untested"
        if statuses == {"skipped"}:
            return "skipped"
        return "pass"

    def task_scores(self) -> list[TaskScore]:
        """Per task: its share of the rung's points, earned when the task passes.

        A task whose checks were all skipped (a GPU-only check on a CPU machine) keeps its points,
        as long as some check of the rung ran and passed; `kata check --require-gpu` turns such
        skips into failures first.
        """
        scores = []
        for task, share in zip(self.tasks, split_points(self.max_points, len(self.tasks)),
                               strict=True):
            status = self.task_status(task) if self.status != "skipped" else "skipped"
            # a rung that was skipped, stopped early (timeout, crash) or passed no check at all
            # (every check skipped) earns nothing
            graded = self.status not in ("skipped", "error") and any(
                t.status == "pass" for t in self.tests)
            earned = share if graded and status in ("pass", "skipped") else 0.0
            problem = self.first_problem(task)
            message = problem.message if problem else (self.message if status == "error" else "")
            scores.append(TaskScore(task, status, earned, share, message))
        return scores


@dataclass
class Result:
    rungs: list[RungResult]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        statuses = {rung.status for rung in self.rungs}
        for status in ("error", "fail", "todo"):
            if status in statuses:
                return status
        if statuses == {"skipped"}:
            return "skipped"
        return "pass"

    @property
    def exit_code(self) -> int:
        """0 when nothing failed: a rung skipped for a missing extra is not a failure."""
        return 0 if self.status in ("pass", "skipped") else 1

    @property
    def points(self) -> float:
        return round(sum(rung.points for rung in self.rungs), 2)

    @property
    def max_points(self) -> float:
        return round(sum(rung.max_points for rung in self.rungs), 2)

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, "status": self.status, "points": self.points,
                "max_points": self.max_points, **self.meta,
                "rungs": [asdict(rung) for rung in self.rungs]}


def rung_status(tests: list[TestResult]) -> str:
    statuses = {test.status for test in tests}
    if "error" in statuses:
        return "error"
    if "fail" in statuses:
        return "fail"
    if "todo" in statuses:
        return "todo"
    return "pass"
