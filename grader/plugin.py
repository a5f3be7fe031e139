"""pytest plugin: runs one rung's spec against a learner's module and records every result.

The worker (grader/worker.py) runs pytest with this plugin. It gives the spec its `candidate`,
`reference` and `device` fixtures, and writes records, tagged with a per-run nonce, to a pipe the
parent reads as they come:

1. `meta` (torch, device) and `manifest` (every collected check, with its task and category),
   then `learner`: all written after the spec and the reference are loaded and before any learner
   code exists, so the parent can trust them;
2. per check a `start` and one `test` record (status, message, duration, measurements);
3. `done`.

Learner code runs inside checks only. Whatever it raises (a skip, `pytest.exit`, KeyboardInterrupt,
an exception that cannot be printed) fails that check and the run goes on; only the grader's own
skips (no GPU, a speed check after a failure, `grader.harness.skip_check`) are skips. After every
check the run-time guard (grader/harness/sandbox.py) confirms that nothing the judges use was
changed.
"""

from __future__ import annotations

import functools
import json
import linecache
import os
import random
import signal
import time
import traceback
from pathlib import Path
from typing import Any

import pytest

from grader.harness import skips
from grader.harness.skips import GraderSkip

CATEGORIES = ("shape", "values", "grad", "properties", "structure", "speed", "gpu", "training")
RUN_LAST = ("speed", "gpu")
MESSAGE_LIMIT = 4000
# A check whose code has used this much CPU time is stopped, and the message says where the code
# was: far above any reference check (the slowest, 06's compile, takes about 2 s), far below the
# rung's own deadline. CPU time, not wall time: a loaded machine does not make it fire.
CHECK_CPU_SECONDS = 10.0
OUTPUT_LINES = 200  # lines of what learner code printed in a check that travel to the parent
OUTPUT_CHARS = 16000

_write = os.write  # bound before learner code exists
_dumps = json.dumps
_RECORDED = pytest.StashKey[bool]()
_STATE = pytest.StashKey["RunState"]()


class RunState:
    """Per-session state: where records go, and how each task has fared so far."""

    def __init__(self, config: pytest.Config) -> None:
        self.rung: str | None = config.getoption("kata_rung")
        impl = config.getoption("kata_impl")
        self.impl = Path(impl).resolve() if impl else None
        self.nonce = ""
        self.channel: int | None = None
        self.task_status: dict[str, str] = {}
        self.count = 0
        self.reference: Any = None
        self.tampered: str | None = None
        self.stopped: dict[str, str] = {}  # task -> why a check of it was stopped
        self._open_channel()

    def _open_channel(self) -> None:
        result_fd = os.environ.pop("KATA_RESULT_FD", None)
        nonce_fd = os.environ.pop("KATA_NONCE_FD", None)
        if result_fd is None or nonce_fd is None:
            return
        with os.fdopen(int(nonce_fd), "r") as nonce_pipe:
            self.nonce = nonce_pipe.read().strip()
        self.channel = int(result_fd)

    def write(self, kind: str, **fields: Any) -> None:
        """One record, on a line of its own: a half-written line before it cannot swallow it."""
        if self.channel is None:
            return
        line = b"\n" + _dumps({"nonce": self.nonce, "kind": kind, **fields}).encode() + b"\n"
        try:
            while line:
                line = line[_write(self.channel, line):]
        except OSError:
            self.channel = None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kata", "torchkata grading")
    group.addoption("--kata-rung", dest="kata_rung",
                    help="rung id the spec grades, e.g. 08-attention")
    group.addoption("--kata-impl", dest="kata_impl",
                    help="the .py file standing in for the learner module")
    group.addoption("--kata-reference", dest="kata_reference",
                    help="the reference module (default: the catalog's reference/ path)")
    group.addoption("--kata-task", dest="kata_task", default=None,
                    help="check only this task of the rung")
    group.addoption("--kata-device", dest="kata_device", default="cpu",
                    choices=("cpu", "cuda", "auto"), help="device for spec inputs (default cpu)")
    group.addoption("--kata-blocks", dest="kata_blocks", default=None,
                    help="the list of earlier rungs' modules grader.blocks serves (the runner's)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "rung(id): the rung a spec module grades")
    config.addinivalue_line("markers", "task(name, category): the task and category a test checks")
    config.addinivalue_line("markers", "hidden: a grading-only check; `kata export` leaves it out "
                            "of the learners' copy and it runs where the course grades")
    if config.getoption("kata_rung") is None:
        return
    import torch
    from hypothesis import HealthCheck, Phase, settings

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process
        pass
    # No shrink phase: a failing draw is reported as drawn. Derandomized generation starts from
    # the simplest example, so a mistake that shows everywhere fails on the smallest shapes
    # anyway, and shrinking a draw cost a learner 2-7 s per failing check (the diagnoses run on
    # every shrink step), longer than the whole verdict should take.
    settings.register_profile(
        "kata", max_examples=12, deadline=None, derandomize=True, database=None,
        print_blob=False, report_multiple_bugs=False,
        phases=(Phase.explicit, Phase.generate, Phase.target),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much],
    )
    settings.load_profile("kata")
    _draw_no_constants_from_source()
    state = RunState(config)
    config.stash[_STATE] = state
    try:
        device = resolve_device(config.getoption("kata_device"))
    except pytest.UsageError as exc:
        state.write("setup_error", message=str(exc))
        raise
    privileges = os.environ.pop("KATA_PRIVILEGES", "{}")
    state.write("meta", torch=torch.__version__, device=str(device),
                device_name=(torch.cuda.get_device_name(device) if device.type == "cuda"
                             else "cpu"), privileges=json.loads(privileges))


def _draw_no_constants_from_source() -> None:
    """Hypothesis mixes constants it finds in the source of "local" modules into its draws, and
    the learner's module is one: the examples a check draws would then depend on the learner's
    file, and parsing it costs every run about 0.05 s. The draws come from the strategies
    alone here (a private hook of Hypothesis; versions without it draw no such constants)."""
    try:
        from hypothesis.internal.conjecture import providers

        empty = providers.Constants(integers=providers.SortedSet(),
                                    floats=providers.SortedSet(key=providers.float_to_int),
                                    bytes=providers.SortedSet(), strings=providers.SortedSet())
    except (ImportError, AttributeError, TypeError):
        return
    if hasattr(providers, "_get_local_constants"):
        providers._get_local_constants = lambda: empty


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
    return str(task), str(marker.kwargs.get("category", ""))


class TaskTodo(BaseException):
    """A NotImplementedError from the learner's stub, carried past Hypothesis.

    Hypothesis replays a failing example to report it; a stub that is not written yet fails
    the same way on every example, so even that replay only costs time. A BaseException that is
    not an Exception passes straight through Hypothesis.
    """

    def __init__(self, original: NotImplementedError) -> None:
        super().__init__(str(original))
        self.original = original


class EscapedCheck(AssertionError):
    """Learner code raised something that would have stopped the run; it fails the check."""


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
    only = config.getoption("kata_task", None)
    if only:
        left_out = [item for item in items if _marker_info(item)[0] != only]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = [item for item in items if _marker_info(item)[0] == only]
    state = config.stash.get(_STATE, None)
    for item in items:
        hypothesis_handle = getattr(getattr(item, "obj", None), "hypothesis", None)
        if state is not None and hypothesis_handle is not None:
            hypothesis_handle.inner_test = _stop_at_todo(hypothesis_handle.inner_test, state.impl)


def pytest_collection_finish(session: pytest.Session) -> None:
    """The end of the trusted phase: the reference loaded, the checks listed, the world saved."""
    state = session.config.stash.get(_STATE, None)
    if state is None:
        return
    if _pending_collect_errors:
        for error in _pending_collect_errors:
            state.write("collect_error", message=error[-MESSAGE_LIMIT:])
        _pending_collect_errors.clear()
    # A failed check's message is the grader's own (classify, below); the traceback pytest would
    # format for the terminal nobody reads parses the spec file again for every failing check
    # (about half of a failing mutant's time in the worker). Collection errors above keep theirs.
    session.config.option.tbstyle = "no"
    from grader.catalog import resolve
    from grader.harness import sandbox
    from grader.harness.candidate import load_module_from_path

    path = session.config.getoption("kata_reference")
    if path is None:
        path = resolve(session.config.getoption("kata_rung")).reference_path
    try:
        block_modules = _serve_reference_blocks(session.config)
        state.reference = load_module_from_path(Path(path), "kata_reference")
    except Exception as exc:  # the grader's own file: a bug to report, not the learner's fault
        block_modules = []
        state.write("collect_error", message=f"the reference would not load: {exc!r}")
    checks = []
    for item in session.items:
        task, category = _marker_info(item)
        checks.append({"nodeid": item.nodeid, "name": item.name, "task": task,
                       "category": category, "hidden": bool(item.get_closest_marker("hidden"))})
    state.write("manifest", checks=checks)
    _refuse_remote_code()
    specs = tuple(dict.fromkeys([*(module.__name__ for module in (
        getattr(item, "module", None) for item in session.items) if module is not None),
        *block_modules]))
    sandbox.take_snapshot(extra_modules=specs)
    state.write("learner")


def _block_listing(config: pytest.Config) -> list[dict[str, Any]]:
    """The runner's list of earlier rungs' modules: [{"rung", "reference", "yours"}]."""
    path = config.getoption("kata_blocks")
    if not path:
        return []
    listing = json.loads(Path(path).read_text(encoding="utf-8"))
    return [entry for entry in listing if isinstance(entry, dict)]


def _serve_reference_blocks(config: pytest.Config) -> list[str]:
    """Trusted phase: every earlier rung's blocks from its reference, in order (each reference
    may import the ones before it), so the reference under test and the specs' oracles build on
    references alone. Returns the modules' names."""
    from grader import blocks
    from grader.harness.candidate import load_module_from_path

    names = []
    for entry in _block_listing(config):
        name = f"kata_block_{entry['rung'].replace('-', '_')}"
        blocks.provide(entry["rung"], load_module_from_path(Path(entry["reference"]), name),
                       "reference")
        names.append(name)
    blocks.provide_nothing_else()
    return names


def _serve_learner_blocks(config: pytest.Config) -> None:
    """Learner phase, before the learner's module loads: the blocks of each earlier rung that
    passes in this checkout from the learner's own module, under that rung's source rules."""
    from grader import blocks
    from grader.catalog import resolve
    from grader.harness.sandbox import load_learner_module

    for entry in _block_listing(config):
        if not entry.get("yours"):
            continue
        rung = resolve(entry["rung"])
        path = Path(entry["yours"])
        try:
            module = load_learner_module(
                path, f"kata_block_{rung.id.replace('-', '_')}_yours", rung.policy)
        except BaseException as exc:  # noqa: BLE001  it is the learner's module
            raise ImportError(
                f"your {rung.id} module, whose blocks this rung builds on, failed while being "
                f"imported: {_kind(exc)}: {_text(exc)}") from None
        blocks.provide(rung.id, module, "yours")


def _refuse_remote_code() -> None:
    """transformers never imports a model folder's own Python (trust_remote_code), however it
    is asked: a learner's module could write that folder itself."""
    import sys

    if "transformers" not in sys.modules:
        return
    import transformers.dynamic_module_utils as dynamic

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("the grader never runs a model folder's own code "
                         "(trust_remote_code): load models that transformers knows")

    names = ("get_class_from_dynamic_module", "get_cached_module_file")
    originals = {name: getattr(dynamic, name, None) for name in names}
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("transformers"):
            for name, original in originals.items():
                if original is not None and getattr(module, name, None) is original:
                    setattr(module, name, refused)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    state = item.config.stash.get(_STATE, None)
    if state is None:
        return
    state.write("start", nodeid=item.nodeid)
    _arm_check_timer(state, item)
    import numpy
    import torch

    random.seed(0)
    numpy.random.seed(0)
    torch.manual_seed(0)
    task, category = _marker_info(item)
    if state.tampered:
        raise EscapedCheck(state.tampered)
    if task in state.stopped:  # one endless loop costs CHECK_CPU_SECONDS once, not per check
        raise EscapedCheck("not checked: an earlier check of this task was "
                           + state.stopped[task])
    if category == "gpu":
        device = resolve_device(item.config.getoption("kata_device"))
        if device.type != "cuda":
            _grader_skip(item, "needs a CUDA GPU; this run is on the CPU "
                               "(on a GPU machine: kata check --device cuda)")
    if category == "speed":
        earlier = state.task_status.get(task)
        if earlier == "todo":
            _grader_skip(item, "not measured: the task is still todo")
        if earlier in ("fail", "error"):
            _grader_skip(item, "not measured: correctness checks of this task failed first")


class CheckStopped(BaseException):
    """Raised into a check's code when it has used up CHECK_CPU_SECONDS; says where it was."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


CAUGHT_STOP_EXIT = 86  # the worker's exit code when learner code swallowed the check's stop
STOP_IN_GRADER_EXIT = 87  # ... when the stop landed in the grader's own code and did not end it


def _arm_check_timer(state: RunState, item: pytest.Item) -> None:
    fired: list[str] = []
    in_learner_code: list[bool] = []  # whether the first stop landed in the learner's code

    def stop(signum: int, frame: Any) -> None:
        if fired:  # the first stop was caught and the code went on: end the run here
            _disarm_check_timer()
            task, category = _marker_info(item)
            if in_learner_code[0]:
                why, code = (". Your code caught the grader's stop and carried on (a bare "
                             "`except:` or `except BaseException:` around the loop), so the "
                             "rest of the rung could not run: catch `Exception` at most.",
                             CAUGHT_STOP_EXIT)
            else:  # e.g. inside a timing loop or a garbage-collector callback of the grader's
                why, code = (". The stop landed in the grader's own code, where it could not "
                             "end the check, so the rest of the rung could not run: make the "
                             "code this check calls faster.", STOP_IN_GRADER_EXIT)
            state.write("test", nodeid=item.nodeid, name=item.name, rung=state.rung, task=task,
                        category=category, status="fail", duration=0.0, grader_skip=False,
                        message=fired[0] + why)
            os._exit(code)
        fired.append(_stopped_message(frame, state.impl))
        in_learner_code.append(_learner_line(frame, state.impl) is not None)
        raise CheckStopped(fired[0])

    signal.signal(signal.SIGPROF, stop)
    # fires again half a second later, should the code catch the first one and carry on
    signal.setitimer(signal.ITIMER_PROF, CHECK_CPU_SECONDS, 0.5)


def _disarm_check_timer() -> None:
    signal.setitimer(signal.ITIMER_PROF, 0, 0)


def _learner_line(frame: Any, impl: Path | None) -> tuple[str, int] | None:
    """The innermost line of the learner's file on the stack, if any."""
    while frame is not None and impl is not None:
        if frame.f_code.co_filename == str(impl):
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return None


def _stopped_message(frame: Any, impl: Path | None) -> str:
    """Where the code was: the innermost line of the learner's file, else the innermost line."""
    innermost = None if frame is None else (frame.f_code.co_filename, frame.f_lineno)
    learner = _learner_line(frame, impl)
    where = learner or innermost
    if where is None:
        return f"stopped after {CHECK_CPU_SECONDS:g} s of CPU time"
    line = linecache.getline(where[0], where[1]).strip()
    place = f"{Path(where[0]).name}:{where[1]}" + (f" `{line[:120]}`" if line else "")
    if learner is None:
        return (f"stopped after {CHECK_CPU_SECONDS:g} s of CPU time, in {place} (the grader's "
                "own code, working on what your code returned or passed it): far too slow")
    return (f"stopped after {CHECK_CPU_SECONDS:g} s of CPU time: your code was still at {place}. "
            "An endless loop (does its condition ever change?), or far too slow for this size")


def _grader_skip(item: pytest.Item, reason: str) -> None:
    """Skip `item` for a reason of the grader's own (the only skips that count as skips)."""
    raise skips.grader_skip(reason)


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):  # type: ignore[no-untyped-def]
    """Nothing a check's code raises may end the run or pass for a skip."""
    try:
        return (yield)
    except (TaskTodo, GraderSkip):
        raise
    except BaseException as exc:  # noqa: BLE001  learner code can raise anything at all
        state = pyfuncitem.config.stash.get(_STATE, None)
        if isinstance(exc, CheckStopped):
            _disarm_check_timer()
            if state is not None:
                state.stopped[_marker_info(pyfuncitem)[0]] = exc.message
            raise EscapedCheck(exc.message) from None
        if isinstance(exc, Exception) and not isinstance(exc, pytest.exit.Exception):
            raise
        if isinstance(exc, pytest.fail.Exception):
            raise
        raise EscapedCheck(_escape_message(exc, state)) from None


def _escape_message(exc: BaseException, state: RunState | None) -> str:
    impl = state.impl if state else None
    where = _learner_frame(pytest.ExceptionInfo.from_exception(exc), impl)
    kind = _kind(exc)
    if isinstance(exc, SystemExit):
        return ("your code called sys.exit() or exit(); a task returns its result instead"
                + where)
    if isinstance(exc, pytest.skip.Exception):
        return ("your code skipped this check; only the grader skips checks, for its own reasons "
                "(no GPU, an extra not installed). Return your result instead" + where)
    return (f"your code raised {kind}, which would stop the grader's whole run rather than "
            "fail this check; raise an Exception (ValueError, RuntimeError, ...) or return"
            + where)


def _safe(describe: Any, fallback: str) -> str:
    try:
        return str(describe())
    except BaseException:  # noqa: BLE001  a learner's __str__ may raise anything
        return fallback


def _text(exc: BaseException) -> str:
    """str(exc), or a placeholder when the learner's exception cannot be printed."""
    return _safe(lambda: exc, "(an exception that cannot be printed)")


def _kind(exc: BaseException) -> str:
    return _safe(lambda: type(exc).__name__, "an exception")


def _learner_frame(excinfo: pytest.ExceptionInfo[BaseException], impl: Path | None) -> str:
    if impl is None:
        return ""
    try:
        for frame in reversed(traceback.extract_tb(excinfo.tb)):
            if Path(frame.filename).resolve() == impl:
                line = (frame.line or "").strip()
                return f"\n  raised at {impl.name}:{frame.lineno}: {line}"
    except Exception:  # noqa: BLE001
        return ""
    return ""


FIXTURE_NAMES = ("candidate", "reference", "device")


def _notes(exc: BaseException) -> str:
    """Hypothesis's failing example, as one line of the drawn values (fixtures left out)."""
    notes = getattr(exc, "__notes__", None)
    if not isinstance(notes, list):
        return ""
    for note in notes:
        if not isinstance(note, str) or not note.startswith(("Falsifying", "Failing test case")):
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
    """(status, message, extra fields) for a test that raised. Never raises itself."""
    try:
        return _classify(excinfo, impl)
    except BaseException:  # noqa: BLE001  a learner's exception may break any step of this
        return ("fail", "your code raised an exception that could not be described (its message "
                        "or type raised in turn)" + _learner_frame(excinfo, impl), {})


def _classify(
    excinfo: pytest.ExceptionInfo[BaseException], impl: Path | None
) -> tuple[str, str, dict[str, float]]:
    from grader.harness.speed import SpeedGrayZone

    exc = excinfo.value
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:  # Hypothesis's Flaky, groups
        exc = exc.exceptions[0]
        excinfo = pytest.ExceptionInfo.from_exception(exc)
    if type(exc) is TaskTodo:
        return "todo", f"not implemented yet ({_text(exc)})", {}
    if type(exc) is SpeedGrayZone:
        return "gray", _text(exc), {}
    if isinstance(exc, NotImplementedError) and _learner_frame(excinfo, impl):
        return "todo", f"not implemented yet ({_text(exc)})", {}
    if type(exc) is EscapedCheck:
        return "fail", _text(exc), {}
    if isinstance(exc, AssertionError) and _from_grader(excinfo):
        return "fail", _text(exc) + _notes(exc), {}
    if isinstance(exc, pytest.fail.Exception):
        return "fail", _text(exc), {}
    if isinstance(exc, SystemExit):
        return "fail", ("your code called sys.exit() or exit(); a task returns its result "
                        "instead" + _learner_frame(excinfo, impl)), {}
    kind, text = _kind(exc), _text(exc)
    message = f"{kind}: {text}".strip().rstrip(":") + _learner_frame(excinfo, impl)
    return "fail", message + _notes(exc), {}


def _from_grader(excinfo: pytest.ExceptionInfo[BaseException]) -> bool:
    """An AssertionError raised by the spec or the harness (not one the learner raised)."""
    try:
        frames = traceback.extract_tb(excinfo.tb)
    except Exception:  # noqa: BLE001
        return True
    if not frames:
        return True
    grader_dir = Path(__file__).resolve().parent
    last = Path(frames[-1].filename).resolve()
    return grader_dir in last.parents


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    state = item.config.stash.get(_STATE, None)
    if state is None or item.stash.get(_RECORDED, False):
        return report
    if report.when == "call" or not report.passed:
        _disarm_check_timer()
    if report.when == "call" or (report.when == "setup" and not report.passed):
        try:
            _record(item, call, report, state)
        except BaseException as exc:  # noqa: BLE001  the record must go out whatever happened
            item.stash[_RECORDED] = True
            task, category = _marker_info(item)
            state.write("test", nodeid=item.nodeid, name=item.name, rung=state.rung, task=task,
                        category=category, status="fail",
                        message=f"the check could not be recorded ({_text(exc)})",
                        duration=0.0, grader_skip=False)
    return report


def _record(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport,
            state: RunState) -> None:
    from grader.harness import compare, sandbox, speed

    task, category = _marker_info(item)
    extra: dict[str, Any] = {}
    grader_skip = False
    where = ""
    if report.skipped:
        excinfo = call.excinfo
        own = excinfo is not None and type(excinfo.value) is GraderSkip \
            and id(excinfo.value) in skips.issued
        if own and excinfo is not None:
            reason = str(getattr(excinfo.value, "msg", "") or "")
            status, message, grader_skip = "skipped", reason or _skip_reason(report), True
        else:
            status = "fail"
            where = _learner_frame(excinfo, state.impl).strip() if excinfo else ""
            message = ("your code skipped this check; only the grader skips checks, for its own "
                       "reasons (no GPU, an extra not installed). Return your result instead."
                       + (f"\n  {where}" if where else ""))
    elif report.passed:
        status, message = "pass", ""
    elif call.excinfo is not None:
        status, message, extra = classify(call.excinfo, state.impl)
    else:
        status, message = "fail", _safe(lambda: report.longrepr, "the check failed")
    problem = sandbox.tampering()
    left = sandbox.state_left_changed() if report.when == "call" else None
    if left and not problem and status != "todo":
        status, grader_skip = "fail", False
        message = (f"your code left torch's global settings changed after this check: {left}. "
                   "A task must leave them as it found them (use `with torch.no_grad():`, "
                   "`with torch.autocast(...):` and the like, which restore them).")
        _restore_global_state()
    if problem and status != "todo":
        state.tampered = sandbox.tamper_message(problem)
        status, message, grader_skip = "fail", state.tampered, False
    if category == "speed" and speed.last_measurement and status in ("pass", "fail", "gray"):
        extra.update({k: float(v) for k, v in speed.last_measurement.items()})
    speed.last_measurement.clear()
    if status == "fail":  # how far it failed, for the project's mutant tests (compare.last_margin)
        extra.update(_kill_margin(call, category, extra))
    compare.last_margin.clear()
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
                duration=round(report.duration, 4), visibility=visibility,
                grader_skip=grader_skip, where=where, output=_printed(report), **extra)


def _kill_margin(call: pytest.CallInfo[None], category: str, extra: dict[str, Any]
                 ) -> dict[str, Any]:
    """The failure's margin (error over allowed, or the check's own measure; none when it has
    no measure) and whether Hypothesis drew the failing example (not an @example, not a fixed
    case)."""
    from grader.harness import compare

    fields: dict[str, Any] = dict(compare.last_margin)
    if category == "speed" and extra.get("pass_at"):
        fields = {"margin": extra["ratio"] / extra["pass_at"], "margin_kind": "speed/band"}
    exc = call.excinfo.value if call.excinfo is not None else None
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    notes = getattr(exc, "__notes__", None)
    fields["drawn"] = isinstance(notes, list) and any(
        isinstance(note, str) and note.startswith(("Falsifying", "Failing"))
        and "explicit" not in note.partition("\n")[0] for note in notes)
    return fields


def _printed(report: pytest.TestReport) -> str:
    """What the check's code wrote to stdout and stderr (pytest captured it), capped."""
    text = "".join(content for name, content in report.sections
                   if name.startswith(("Captured stdout", "Captured stderr")))
    lines = text.splitlines()
    kept = "\n".join(lines[:OUTPUT_LINES])[:OUTPUT_CHARS]
    cut = len(lines) - len(kept.splitlines())
    return kept + (f"\n… {cut} more lines" if cut > 0 else "")


def _restore_global_state() -> None:
    """Put torch's global settings back, so one check's leak does not fail the next."""
    import torch

    from grader.harness import sandbox

    grad, dtype, threads, autocast, deterministic, anomaly, precision = \
        sandbox._snapshot.state if sandbox._snapshot is not None else sandbox.global_state()
    torch.set_grad_enabled(grad)
    torch.set_default_dtype(dtype)
    torch.set_num_threads(threads)
    torch.set_autocast_enabled("cpu", autocast)
    torch.use_deterministic_algorithms(deterministic)
    torch.set_anomaly_enabled(anomaly)
    torch.set_float32_matmul_precision(precision)


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
    from grader.catalog import resolve
    from grader.harness.candidate import Candidate, load_module_from_path
    from grader.harness.sandbox import load_learner_module

    impl = pytestconfig.getoption("kata_impl")
    if not impl:
        raise pytest.UsageError("--kata-impl PATH is required: the module to grade")
    path = Path(impl).resolve()
    rung = resolve(pytestconfig.getoption("kata_rung"))
    policy = rung.policy
    from grader.harness import contract

    contract.declare(rung.changes)  # what each task may change of what its caller hands it
    guarded = os.environ.pop("KATA_NO_RUNTIME_GUARD", None) is None
    try:
        _serve_learner_blocks(pytestconfig)
        if guarded:
            module = load_learner_module(path, "kata_candidate", policy)
        else:  # the project's own tests of what lies beneath the guard
            module = load_module_from_path(path, "kata_candidate")
    except NotImplementedError:
        raise
    except BaseException as exc:  # noqa: BLE001  a skip, an exit, anything: it is the learner's
        where = _learner_frame(pytest.ExceptionInfo.from_exception(exc), path)
        kind, text = _kind(exc), _text(exc)
        raise ImportError(
            f"your module {path.name} failed while being imported: {kind}: {text}{where}"
        ) from None
    return Candidate(module, path.name)


@pytest.fixture(scope="session")
def reference(pytestconfig: pytest.Config) -> Any:
    """The reference module of the rung under test, loaded before any learner code."""
    state = pytestconfig.stash.get(_STATE, None)
    if state is not None and state.reference is not None:
        return state.reference
    from grader.catalog import resolve
    from grader.harness.candidate import load_module_from_path

    path = pytestconfig.getoption("kata_reference")
    if path is None:
        path = resolve(pytestconfig.getoption("kata_rung")).reference_path
    return load_module_from_path(Path(path), "kata_reference")
