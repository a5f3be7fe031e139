"""pytest plugin: runs one rung's spec against a learner's module and records every result.

The runner starts `python -m pytest <spec> -p grader.plugin --noconftest` in a worker process.
This plugin gives the spec its `candidate`, `reference` and `device` fixtures, turns each test's
outcome into one record (rung, task, category, status, message, duration) and writes the records,
tagged with a per-run nonce, to a private file descriptor. The parent trusts nothing else: not the
exit code, not the output.
"""

from __future__ import annotations

import functools
import json
import os
import random
import time
import traceback
from pathlib import Path
from typing import Any, TextIO

import pytest

CATEGORIES = ("shape", "values", "grad", "properties", "structure", "speed", "gpu", "training")
RUN_LAST = ("speed", "gpu")
MESSAGE_LIMIT = 4000

_RECORDED = pytest.StashKey[bool]()
_STATE = pytest.StashKey["RunState"]()


class RunState:
    """Per-session state: where records go, and how each task has fared so far."""

    def __init__(self, config: pytest.Config) -> None:
        self.rung: str | None = config.getoption("kata_rung")
        impl = config.getoption("kata_impl")
        self.impl = Path(impl).resolve() if impl else None
        self.nonce = ""
        self.channel: TextIO | None = None
        self.task_status: dict[str, str] = {}
        self.count = 0
        self._open_channel()

    def _open_channel(self) -> None:
        result_fd = os.environ.pop("KATA_RESULT_FD", None)
        nonce_fd = os.environ.pop("KATA_NONCE_FD", None)
        if result_fd is None or nonce_fd is None:
            return
        with os.fdopen(int(nonce_fd), "r") as nonce_pipe:
            self.nonce = nonce_pipe.read().strip()
        self.channel = os.fdopen(int(result_fd), "w", buffering=1, encoding="utf-8")

    def write(self, kind: str, **fields: Any) -> None:
        if self.channel is None:
            return
        self.channel.write(json.dumps({"nonce": self.nonce, "kind": kind, **fields}) + "\n")
        self.channel.flush()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kata", "torchkata grading")
    group.addoption("--kata-rung", dest="kata_rung",
                    help="rung id the spec grades, e.g. 08-attention")
    group.addoption("--kata-impl", dest="kata_impl",
                    help="the .py file standing in for the learner module")
    group.addoption("--kata-reference", dest="kata_reference",
                    help="the reference module (default: the catalog's reference/ path)")
    group.addoption("--kata-device", dest="kata_device", default="cpu",
                    choices=("cpu", "cuda", "auto"), help="device for spec inputs (default cpu)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "rung(id): the rung a spec module grades")
    config.addinivalue_line("markers", "task(name, category): the task and category a test checks")
    config.addinivalue_line("markers", "hidden: a grading-only check; `kata export` leaves it out "
                            "of the learners' copy and it runs where the course grades")
    if config.getoption("kata_rung") is None:
        return
    import torch
    from hypothesis import HealthCheck, settings

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process
        pass
    settings.register_profile(
        "kata", max_examples=12, deadline=None, derandomize=True, database=None,
        print_blob=False, report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much],
    )
    settings.load_profile("kata")
    state = RunState(config)
    config.stash[_STATE] = state
    device = resolve_device(config.getoption("kata_device"))
    state.write("meta", torch=torch.__version__, device=str(device),
                device_name=(torch.cuda.get_device_name(device) if device.type == "cuda"
                             else "cpu"))


def resolve_device(name: str) -> Any:
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise pytest.UsageError("--device cuda: torch sees no CUDA device on this machine")
        return torch.device("cuda", torch.cuda.current_device())  # tensors report cuda:0
    return torch.device(name)


def _marker_info(item: pytest.Item) -> tuple[str, str]:
    marker = item.get_closest_marker("task")
    if marker is None:
        return "", ""
    task = marker.args[0] if marker.args else marker.kwargs.get("name", "")
    return task, marker.kwargs.get("category", "")


class TaskTodo(BaseException):
    """A NotImplementedError from the learner's stub, carried past Hypothesis.

    Hypothesis shrinks and replays every failing example; a stub that is not written yet fails
    the same way on all of them, so replaying only costs time. A BaseException that is not an
    Exception passes straight through Hypothesis.
    """

    def __init__(self, original: NotImplementedError) -> None:
        super().__init__(str(original))
        self.original = original


def _stop_at_todo(inner: Any, impl: Path | None) -> Any:
    @functools.wraps(inner)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return inner(*args, **kwargs)
        except NotImplementedError as exc:
            if _learner_frame(pytest.ExceptionInfo.from_exception(exc), impl):
                raise TaskTodo(exc) from exc
            raise

    return run


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Speed and GPU checks run last, once correctness has had its say."""
    items.sort(key=lambda item: _marker_info(item)[1] in RUN_LAST)
    state = config.stash.get(_STATE, None)
    for item in items:
        hypothesis_handle = getattr(getattr(item, "obj", None), "hypothesis", None)
        if state is not None and hypothesis_handle is not None:
            hypothesis_handle.inner_test = _stop_at_todo(hypothesis_handle.inner_test, state.impl)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    state = item.config.stash.get(_STATE, None)
    if state is None:
        return
    state.write("start", nodeid=item.nodeid)
    import numpy
    import torch

    random.seed(0)
    numpy.random.seed(0)
    torch.manual_seed(0)
    task, category = _marker_info(item)
    if category == "gpu":
        device = resolve_device(item.config.getoption("kata_device"))
        if device.type != "cuda":
            pytest.skip("needs a CUDA GPU; this run is on the CPU "
                        "(on a GPU machine: kata check --device cuda)")
    if category == "speed":
        earlier = state.task_status.get(task)
        if earlier == "todo":
            pytest.skip("not measured: the task is still todo")
        if earlier in ("fail", "error"):
            pytest.skip("not measured: correctness checks of this task failed first")


def _learner_frame(excinfo: pytest.ExceptionInfo[BaseException], impl: Path | None) -> str:
    if impl is None:
        return ""
    for frame in reversed(traceback.extract_tb(excinfo.tb)):
        if Path(frame.filename).resolve() == impl:
            line = (frame.line or "").strip()
            return f"\n  raised at {impl.name}:{frame.lineno}: {line}"
    return ""


FIXTURE_NAMES = ("candidate", "reference", "device")


def _notes(exc: BaseException) -> str:
    """Hypothesis's failing example, as one line of the drawn values (fixtures left out)."""
    for note in getattr(exc, "__notes__", []):
        if not note.startswith(("Falsifying", "Failing test case")):
            continue
        drawn: list[list[str]] = []
        for line in note.splitlines()[1:]:
            name, sep, _ = line.strip().partition("=")
            if sep and name.isidentifier() and line.startswith("    ") \
                    and not line.startswith("     "):
                drawn.append([line.strip()])
            elif drawn and line.strip() not in (")", ""):
                drawn[-1].append(line.strip())
        values = []
        for parts in drawn:
            text = " ".join(p.split("  #")[0] for p in parts).rstrip(",")
            if text.partition("=")[0] not in FIXTURE_NAMES and not text.startswith("#"):
                values.append(text if len(text) <= 120 else text[:117] + "...")
        if values:
            return "\n  Example drawn: " + ", ".join(values)
    return ""


def classify(
    excinfo: pytest.ExceptionInfo[BaseException], impl: Path | None
) -> tuple[str, str, dict[str, float]]:
    """(status, message, extra fields) for a test that raised."""
    from grader.harness.speed import SpeedGrayZone

    exc = excinfo.value
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:  # Hypothesis's Flaky, groups
        exc = exc.exceptions[0]
        excinfo = pytest.ExceptionInfo.from_exception(exc)
    if isinstance(exc, TaskTodo):
        return "todo", f"not implemented yet ({exc})", {}
    if isinstance(exc, SpeedGrayZone):
        return "gray", str(exc), {}
    if isinstance(exc, NotImplementedError) and _learner_frame(excinfo, impl):
        return "todo", f"not implemented yet ({exc})", {}
    if isinstance(exc, AssertionError):
        return "fail", str(exc) + _notes(exc), {}
    if isinstance(exc, pytest.fail.Exception):
        return "fail", str(exc), {}
    if isinstance(exc, SystemExit):
        return "fail", ("your code called sys.exit() or exit(); a task returns its result "
                        "instead" + _learner_frame(excinfo, impl)), {}
    kind = type(exc).__name__
    message = f"{kind}: {exc}".strip().rstrip(":") + _learner_frame(excinfo, impl)
    return "fail", message + _notes(exc), {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    state = item.config.stash.get(_STATE, None)
    if state is None or item.stash.get(_RECORDED, False):
        return report
    if report.when == "call" or (report.when == "setup" and not report.passed):
        from grader.harness import speed

        task, category = _marker_info(item)
        extra: dict[str, float] = {}
        if report.skipped:
            status, message = "skipped", _skip_reason(report)
        elif report.passed:
            status, message = "pass", ""
        elif call.excinfo is not None:
            status, message, extra = classify(call.excinfo, state.impl)
        else:
            status, message = "fail", str(report.longrepr)
        if category == "speed" and speed.last_measurement and status in ("pass", "fail", "gray"):
            extra.update(speed.last_measurement)
        speed.last_measurement.clear()
        if len(message) > MESSAGE_LIMIT:
            message = message[:MESSAGE_LIMIT] + "\n  … (message cut)"
        previous = state.task_status.get(task, "pass")
        order = ("pass", "skipped", "gray", "todo", "fail", "error")
        if order.index(status) > order.index(previous):
            state.task_status[task] = status
        item.stash[_RECORDED] = True
        state.count += 1
        visibility = "hidden" if item.get_closest_marker("hidden") else "visible"
        state.write("test", nodeid=item.nodeid, name=item.name, rung=state.rung, task=task,
                    category=category, status=status, message=message,
                    duration=round(report.duration, 4), visibility=visibility, **extra)
    return report


def _skip_reason(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return str(report.longrepr)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _pending_collect_errors.append(str(report.longrepr))


_pending_collect_errors: list[str] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is None:
        return
    for error in _pending_collect_errors:
        state.write("collect_error", message=error[-MESSAGE_LIMIT:])
    state.write("done", count=state.count, exitstatus=int(exitstatus), time=time.time())


# fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def device(pytestconfig: pytest.Config) -> Any:
    """The torch.device spec inputs are built on."""
    return resolve_device(pytestconfig.getoption("kata_device"))


@pytest.fixture(scope="session")
def candidate(pytestconfig: pytest.Config) -> Any:
    """The learner's module, reached only through this handle."""
    from grader.harness.candidate import Candidate, load_module_from_path

    impl = pytestconfig.getoption("kata_impl")
    if not impl:
        raise pytest.UsageError("--kata-impl PATH is required: the module to grade")
    path = Path(impl).resolve()
    try:
        module = load_module_from_path(path, "kata_candidate")
    except NotImplementedError:
        raise
    except Exception as exc:
        where = _learner_frame(pytest.ExceptionInfo.from_exception(exc), path)
        raise ImportError(
            f"your module {path.name} failed while being imported: "
            f"{type(exc).__name__}: {exc}{where}"
        ) from exc
    return Candidate(module, path.name)


@pytest.fixture(scope="session")
def reference(pytestconfig: pytest.Config) -> Any:
    """The reference module of the rung under test."""
    from grader.catalog import resolve
    from grader.harness.candidate import load_module_from_path

    path = pytestconfig.getoption("kata_reference")
    if path is None:
        path = resolve(pytestconfig.getoption("kata_rung")).reference_path
    return load_module_from_path(Path(path), "kata_reference")
