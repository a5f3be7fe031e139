"""One neutral result model; every report format renders it, none adds to it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

FORMAT_VERSION = 1


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

    def first_problem(self, task: str) -> TestResult | None:
        for wanted in ("fail", "error", "todo"):
            for test in self.tests:
                if test.task == task and test.status == wanted:
                    return test
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
        return "pass"

    @property
    def exit_code(self) -> int:
        return 0 if self.status == "pass" else 1

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, "status": self.status, **self.meta,
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
