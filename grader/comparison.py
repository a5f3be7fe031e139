"""`kata compare`: the learner's code beside the reference, error and time per task.

Informational only: no points, no progress. The learner's file is held to the rung's source rules
exactly as `kata check` holds it (grader/runner.py), then the rung's compare file
(grader/compare/compare_NN_slug.py) runs in the grader's worker, with the same plugin, limits and
isolation as a spec. Each of its tests ends with one row, sent as its outcome message; this
process parses that message as untrusted text: anything it cannot read becomes an error row,
never an exception.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.catalog import PACKAGE_DIR, Rung
from grader.harness.comparison_row import ROW_MARK
from grader.rules import MAX_SOURCE_BYTES
from grader.runner import (
    SetupError,
    WorkerRun,
    implementation_path,
    install_command,
    missing_requirements,
    read_learner_file,
    run_worker,
    source_problem,
)
from grader.sanitize import NAME_LIMIT, clean

COMPARE_DIR = PACKAGE_DIR / "compare"
NOTE_LIMIT = 160
BUILTIN_NAME_LIMIT = 48


class CompareRefused(Exception):
    """The learner's file cannot run at all (too large, a syntax error, a broken source rule)."""


@dataclass
class Row:
    """One task: `state` is "row" (numbers below), "todo", "error" or "skipped"."""

    task: str
    state: str
    max_abs: float | None = None
    max_rel: float | None = None
    learner: float | None = None
    reference: float | None = None
    builtin: float | None = None
    builtin_name: str = ""
    note: str = ""  # for a row: what the numbers cannot say; otherwise why there are none

    @property
    def ratio(self) -> float | None:
        if self.learner is None or not self.reference:
            return None
        return self.learner / self.reference


@dataclass
class Table:
    """One rung on one device."""

    rung: str
    device: str
    rows: list[Row] = field(default_factory=list)
    problem: str = ""  # set when the run as a whole went wrong


def compare_path(rung: Rung) -> Path:
    return COMPARE_DIR / f"compare_{rung.id.replace('-', '_')}.py"


def compare_rung(rung: Rung, impl: str = "exercises", device: str = "cpu",
                 timeout: float | None = None) -> list[Table]:
    """One table per device: the CPU, and CUDA too when `device` is cuda (or auto and a GPU is
    there). Raises SetupError (usage: exit 2) and CompareRefused (the file: exit 1)."""
    path = implementation_path(rung, impl)
    if not path.exists():
        raise SetupError(f"{rung.id}: no file {path}")
    missing = missing_requirements(rung)
    if missing:
        return [Table(rung.id, device, problem=(
            f"skipped: install the {rung.extra} extra: {install_command(rung.extra or '')} "
            f"({', '.join(missing)} not installed)"))]
    if path.is_file() and path.stat().st_size > MAX_SOURCE_BYTES:
        raise CompareRefused(f"{path.name} is larger than {MAX_SOURCE_BYTES // 1024} KB; a "
                             "rung's module is a page or two of code")
    source = read_learner_file(path)
    problem = source_problem(rung, path, source)
    if problem:
        raise CompareRefused(problem)
    seconds = float(timeout or rung.timeout)
    if device == "cpu":
        return [_table(rung, source, "cpu", seconds)]
    first = _table(rung, source, device, seconds)  # cuda, or auto: whatever the worker found
    if not first.device.startswith("cuda"):
        return [first]
    return [_table(rung, source, "cpu", seconds), first]


def _table(rung: Rung, source: bytes, device: str, timeout: float) -> Table:
    try:
        run = run_worker(rung, source, device, timeout, spec_path=compare_path(rung))
    except OSError as exc:
        return Table(rung.id, device, problem="the grader could not prepare a run: "
                                              f"{exc.strerror or exc}")
    for error in run.of_kind("setup_error"):
        raise SetupError(clean(error.get("message", "the worker would not start"), 500))
    meta = run.of_kind("meta")
    table = Table(rung.id, clean(meta[0].get("device", device), NAME_LIMIT) if meta else device)
    if run.of_kind("collect_error"):
        table.problem = ("the grader could not load its compare file (a bug in torchkata, "
                         "please report it): "
                         + _first_line(run.of_kind("collect_error")[0].get("message")))
        return table
    manifest = run.manifest()
    if manifest is None or not manifest:
        tail = run.output.strip().splitlines()[-3:]
        table.problem = (f"the grader's worker stopped before it ran your code (exit code "
                         f"{run.returncode})" + "".join(f"\n  {line}" for line in tail))
        return table
    table.rows = rows_from_run(manifest, run, rung)
    if not (run.finished and run.returncode in (0, 1)) or run.timed_out:
        table.problem = _stopped(run, timeout)
    return table


def rows_from_run(manifest: list[dict[str, Any]], run: WorkerRun, rung: Rung) -> list[Row]:
    """One row per compare test, in the order the (trusted) manifest lists them."""
    by_nodeid: dict[str, list[dict[str, Any]]] = {}
    for record in run.of_kind("test"):
        by_nodeid.setdefault(str(record.get("nodeid")), []).append(record)
    rows = []
    for entry in manifest:
        task = clean(entry.get("task", ""), NAME_LIMIT)
        if task not in rung.tasks:
            continue
        found = by_nodeid.get(str(entry.get("nodeid")), [])
        if len(found) != 1:
            rows.append(Row(task, "error", note="not run: the run stopped before this task"
                            if not found else "more than one result arrived"))
            continue
        rows.append(parse_row(task, found[0]))
    return rows


def parse_row(task: str, record: dict[str, Any]) -> Row:
    """A row from one test record, which learner code may have written: never raises."""
    status = record.get("status")
    message = clean(record.get("message", ""))
    if status == "todo":
        return Row(task, "todo")
    if status == "skipped" and record.get("grader_skip") is True:
        return Row(task, "skipped", note=_first_line(message))
    if status != "fail" or not message.startswith(ROW_MARK):
        return Row(task, "error", note=_first_line(message) or f"no comparison ({status})")
    try:
        data = json.loads(message[len(ROW_MARK):].splitlines()[0])
    except (ValueError, RecursionError, IndexError):
        data = None
    if not isinstance(data, dict):
        return Row(task, "error", note="the comparison's row could not be read")
    return Row(task, "row", max_abs=_measure(data.get("abs")), max_rel=_measure(data.get("rel")),
               learner=_seconds(data.get("learner")), reference=_seconds(data.get("reference")),
               builtin=_seconds(data.get("builtin")),
               builtin_name=clean(data.get("builtin_name", ""), BUILTIN_NAME_LIMIT
                                  ).replace("\n", " ") if isinstance(data.get("builtin_name"),
                                                                     str) else "",
               note=_first_line(data.get("note", "")) if isinstance(data.get("note"), str)
               else "")


def _measure(value: Any) -> float | None:
    """A non-negative number (infinity allowed: an error can be infinite), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if number >= 0 and not math.isnan(number) else None


def _seconds(value: Any) -> float | None:
    number = _measure(value)
    return number if number is not None and math.isfinite(number) else None


def _first_line(value: Any) -> str:
    lines = clean(value, 2000).strip().splitlines()
    text = lines[0].strip() if lines else ""
    return text if len(text) <= NOTE_LIMIT else text[:NOTE_LIMIT - 3] + "..."


def _stopped(run: WorkerRun, timeout: float) -> str:
    during = run.running_test()
    where = f" during {during}" if during else ""
    if run.timed_out:
        return f"timed out after {timeout:g} s{where}; `--timeout N` allows longer"
    if run.memory_exceeded:
        return f"stopped{where}: more than {run.memory_exceeded // 1024**3} GB of memory"
    if run.channel_overflow:
        return f"the grader's result channel was flooded{where}"
    return f"the run ended early (exit code {run.returncode}){where}"


# --- rendering ---------------------------------------------------------------------------------

UNITS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns"))
HEADERS = ("task", "max abs err", "max rel err", "learner", "reference", "built-in",
           "learner/reference")


def _error(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    return "inf" if math.isinf(value) else f"{value:.2e}"


def _time(value: float | None) -> str:
    """Seconds in the largest unit that keeps the number at least 1, three digits or more."""
    if value is None:
        return "-"
    scale, unit = next(((s, u) for s, u in UNITS if value >= s), UNITS[-1])
    number = value / scale
    return f"{number:#.3g} {unit}" if number < 100 else f"{number:,.0f} {unit}"


def render_table(table: Table, impl: str) -> str:
    cells: list[tuple[str, ...]] = []
    notes: list[str] = []
    for row in table.rows:
        if row.state == "row":
            ratio = row.ratio
            cells.append((row.task, _error(row.max_abs), _error(row.max_rel),
                          _time(row.learner), _time(row.reference),
                          _time(row.builtin), "-" if ratio is None else f"{ratio:.2f}x"))
            said = [row.note] if row.note else []
            said += [f"built-in: {row.builtin_name}"] if row.builtin_name else []
            if said:
                notes.append(f"{row.task}: {'; '.join(said)}")
        else:
            label = row.state if not row.note else f"{row.state}: {row.note}"
            cells.append((row.task, label))
    widths = [max([len(HEADERS[i])] + [len(c[i]) for c in cells if len(c) == len(HEADERS)])
              for i in range(len(HEADERS))]
    widths[0] = max([widths[0]] + [len(c[0]) for c in cells])
    header = "  ".join(h.ljust(widths[0]) if i == 0 else h.rjust(widths[i])
                       for i, h in enumerate(HEADERS))
    title = f" {table.rung} ({impl}) against the reference, on {table.device} "
    rule = title.center(len(header), "-")
    lines = [rule, header, "-" * len(rule)]
    for cell in cells:
        if len(cell) == len(HEADERS):
            lines.append("  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])
                                   for i, c in enumerate(cell)))
        else:
            lines.append(f"{cell[0].ljust(widths[0])}  {cell[1]}")
    lines.append("-" * len(rule))
    if table.problem:
        lines.append(table.problem)
    lines += notes
    return "\n".join(lines)


def render_tables(tables: list[Table], impl: str) -> str:
    return "\n\n".join(render_table(table, impl) for table in tables)
