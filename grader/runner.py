"""The runner: grades one rung in a worker process and turns its records into a RungResult.

This process never imports learner code. It copies the learner's module into a private temporary
directory, starts `python -m pytest <spec> -p grader.plugin --noconftest` there under a timeout
and resource limits, and reads back only records that carry this run's nonce. An exit code or
printed output proves nothing: learner code can fake both.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.catalog import HIDDEN_COUNTS_PATH, REPO_ROOT, Rung
from grader.results import Result, RungResult, TestResult, rung_status

MEMORY_LIMIT_BYTES = 4 * 1024**3
OUTPUT_LIMIT_BYTES = 64 * 1024**2
EXTRA_PROCESSES = 64
REMEASURE_RUNS = 2


class SetupError(Exception):
    """The run could not start: a missing file, no CUDA where asked. The CLI exits 2."""


@dataclass
class WorkerRun:
    """What one worker process left behind."""

    records: list[dict[str, Any]] = field(default_factory=list)
    returncode: int | None = None
    timed_out: bool = False
    output: str = ""
    seconds: float = 0.0

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("kind") == kind]

    @property
    def finished(self) -> bool:
        return bool(self.of_kind("done"))

    def running_test(self) -> str | None:
        """The test that had started but recorded no result when the worker stopped."""
        finished = {r["nodeid"] for r in self.of_kind("test")}
        started = [r["nodeid"] for r in self.of_kind("start") if r["nodeid"] not in finished]
        return started[-1].rsplit("::", 1)[-1] if started else None


def implementation_path(rung: Rung, impl: str) -> Path:
    if impl == "exercises":
        return rung.exercise_path
    if impl == "reference":
        if not rung.reference_path.is_file() and rung.oracle_path.is_file():
            raise SetupError("--impl reference: this course copy ships without readable "
                             "reference solutions")
        return rung.reference_path
    return Path(impl).expanduser().resolve()


def missing_requirements(rung: Rung) -> list[str]:
    """The modules of the rung's extra that this interpreter (the worker's) cannot import."""
    return [name for name in rung.requires if importlib.util.find_spec(name) is None]


def install_command(extra: str) -> str:
    """The one command that installs an extra into this checkout's .venv."""
    script = REPO_ROOT / "scripts" / "bootstrap"
    if script.is_file():
        here = Path.cwd().resolve() == REPO_ROOT
        return f"{'./scripts/bootstrap' if here else script} {extra}"
    return f"pip install 'torchkata[{extra}]'"


def oracle_reference(rung: Rung, into: Path) -> Path:
    """The reference the spec compares with: the readable file, or the course copy's oracle."""
    if rung.reference_path.is_file() or not rung.oracle_path.is_file():
        return rung.reference_path
    target = into / "oracle" / rung.module
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(zlib.decompress(rung.oracle_path.read_bytes()))
    return target


def hidden_pending(rung: Rung) -> int:
    """How many hidden spec tests `kata export` left out of this copy for this rung."""
    if not HIDDEN_COUNTS_PATH.is_file():
        return 0
    try:
        counts = json.loads(HIDDEN_COUNTS_PATH.read_text(encoding="utf-8"))
        return int(counts.get(rung.id, 0))
    except (ValueError, TypeError, AttributeError):
        return 0


def syntax_problem(path: Path) -> str | None:
    """Compile without running: a syntax error is reported with the learner's file and line."""
    try:
        compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        line = (exc.text or "").rstrip("\n")
        pointer = ""
        if line and exc.offset:
            stripped = line.lstrip()
            pointer = "\n    " + " " * max(exc.offset - 1 - (len(line) - len(stripped)), 0) + "^"
            line = stripped
        return (f"SyntaxError in {path.name} line {exc.lineno}: {exc.msg}"
                + (f"\n    {line}{pointer}" if line else ""))
    except ValueError as exc:  # null bytes in the source
        return f"{path.name} cannot be compiled: {exc}"
    return None


def _user_process_count() -> int:
    uid, count = os.getuid(), 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(list((entry / "task").iterdir()))
            except OSError:
                continue
    return count


def _limits(cpu_seconds: int, limit_memory: bool, max_processes: int):  # type: ignore[no-untyped-def]
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_FSIZE, (OUTPUT_LIMIT_BYTES, OUTPUT_LIMIT_BYTES))
        if limit_memory:
            resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
        soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        wanted = max_processes if hard == resource.RLIM_INFINITY else min(max_processes, hard)
        resource.setrlimit(resource.RLIMIT_NPROC, (wanted, hard))

    return apply


def _worker_env(result_fd: int, nonce_fd: int, work: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("KATA_", "PYTEST_", "HYPOTHESIS_"))}
    env.update(
        KATA_RESULT_FD=str(result_fd),
        KATA_NONCE_FD=str(nonce_fd),
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONHASHSEED="0",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        # glibc malloc: keep freed memory mapped (stable timings, research §0.3) and fill freed
        # blocks with a pattern, so `torch.empty_like` cannot hand back a freed correct answer.
        MALLOC_MMAP_THRESHOLD_="1073741824",
        MALLOC_TRIM_THRESHOLD_="1073741824",
        MALLOC_PERTURB_="165",
        CUBLAS_WORKSPACE_CONFIG=":4096:8",
        # Hugging Face libraries: never reach the network, keep no cache outside this run
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HOME=str(work / "hf-home"),
        TOKENIZERS_PARALLELISM="false",
    )
    return env


def run_worker(
    rung: Rung, impl: Path, device: str, timeout: float, select: list[str] | None = None
) -> WorkerRun:
    """Run the rung's spec against `impl` in a fresh, limited process."""
    run = WorkerRun()
    with tempfile.TemporaryDirectory(prefix="kata-") as workdir:
        work = Path(workdir)
        learner = work / "learner" / rung.module
        learner.parent.mkdir()
        shutil.copyfile(impl, learner)
        (work / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        nonce = secrets.token_hex(16)
        nonce_read, nonce_write = os.pipe()
        os.write(nonce_write, nonce.encode())
        os.close(nonce_write)
        result_file = work / "results.jsonl"
        result_fd = os.open(result_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        spec = str(rung.spec_path)
        targets = [f"{spec}::{name}" for name in select] if select else [spec]
        command = [
            sys.executable, "-m", "pytest", *targets,
            "-p", "grader.plugin", "--noconftest", "-p", "no:cacheprovider",
            "-c", str(work / "pytest.ini"), "--rootdir", str(work), "-q", "-rN",
            "--assert=plain",  # spec messages are the report; no rewritten-assert clutter
            "--kata-rung", rung.id, "--kata-impl", str(learner),
            "--kata-reference", str(oracle_reference(rung, work)), "--kata-device", device,
        ]
        output_path = work / "output.txt"
        started = time.monotonic()
        with open(output_path, "wb") as output:
            try:
                process = subprocess.Popen(
                    command, cwd=work / "learner", env=_worker_env(result_fd, nonce_read, work),
                    stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                    pass_fds=(result_fd, nonce_read), start_new_session=True,
                    preexec_fn=_limits(int(timeout) + 5, device == "cpu",
                                       _user_process_count() + EXTRA_PROCESSES),
                )
            finally:
                os.close(result_fd)
                os.close(nonce_read)
            try:
                run.returncode = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                run.timed_out = True
                _kill_group(process)
            _kill_group(process)  # anything the learner's code left running
        run.seconds = time.monotonic() - started
        run.output = output_path.read_bytes()[-20000:].decode("utf-8", "replace")
        for line in result_file.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and record.get("nonce") == nonce:
                run.records.append(record)
    return run


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _describe_stop(run: WorkerRun, timeout: float) -> str:
    during = run.running_test()
    where = f" during {during}" if during else ""
    if run.timed_out:
        return (f"timed out after {timeout:g} s{where}: an endless loop, or far too slow. "
                "Run with --timeout N to allow longer.")
    code = run.returncode or 0
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        reasons = {
            "SIGXCPU": "it used up its CPU time",
            "SIGXFSZ": f"it wrote more than {OUTPUT_LIMIT_BYTES // 1024**2} MB of output",
            "SIGKILL": "it was killed, perhaps for using too much memory",
        }
        reason = reasons.get(name, "a crash in native code, e.g. a bad pointer or a bug in an "
                                   "extension")
        return f"crashed ({name}){where}: {reason}."
    return (f"the grader got no result: your code ended the process (exit code {code}){where}. "
            "Don't call exit(), sys.exit() or os._exit() in your module.")


def _test_result(record: dict[str, Any]) -> TestResult:
    return TestResult(
        name=record.get("name", ""), task=record.get("task", ""),
        category=record.get("category", ""), status=record.get("status", "error"),
        message=record.get("message", ""), duration=float(record.get("duration", 0.0)),
        visibility="hidden" if record.get("visibility") == "hidden" else "visible",
        ratio=record.get("ratio"),
    )


def _remeasure(rung: Rung, impl: Path, device: str, timeout: float, test: TestResult,
               record: dict[str, Any]) -> None:
    """Settle a gray-zone speed ratio with two fresh processes and the median of three."""
    ratios = [float(record["ratio"])]
    for _ in range(REMEASURE_RUNS):
        again = run_worker(rung, impl, device, timeout, select=[test.name])
        ratios += [float(r["ratio"]) for r in again.of_kind("test")
                   if r.get("name") == test.name and r.get("ratio") is not None]
    median = statistics.median(ratios)
    decide_at = (float(record["pass_at"]) + float(record["fail_above"])) / 2
    test.ratio = median
    listed = ", ".join(f"{r:.2f}×" for r in ratios)
    if median <= decide_at:
        test.status, test.message = "pass", ""
    else:
        test.status = "fail"
        test.message += (f"\n  Measured again in fresh processes: {listed}; the median "
                         f"{median:.2f}× is above {decide_at:.2f}×.")


def check_rungs(rungs: list[Rung], impl: str = "exercises", device: str = "cpu",
                timeout: float | None = None, require_gpu: bool = False) -> Result:
    """Grade rungs one after another into one Result."""
    import platform

    from grader import __version__

    meta: dict[str, Any] = {"kata_version": __version__, "python": platform.python_version(),
                            "impl": impl, "device": device}
    rungs_done = []
    for rung in rungs:
        rung_result, worker_meta = check_rung(rung, impl, device, timeout, require_gpu)
        rungs_done.append(rung_result)
        meta.update(worker_meta)
    return Result(rungs=rungs_done, meta=meta)


GPU_REQUIRED = ("--require-gpu: this check needs a CUDA GPU and counts as failed without one "
                "(run the grader on a GPU machine with --device cuda)")


def check_rung(rung: Rung, impl: str = "exercises", device: str = "cpu",
               timeout: float | None = None,
               require_gpu: bool = False) -> tuple[RungResult, dict[str, Any]]:
    """Grade one rung; also return what the worker said of its torch and device.

    Raises SetupError when the run cannot even start.
    """
    path = implementation_path(rung, impl)
    if not path.is_file():
        raise SetupError(f"{rung.id}: no file {path}")
    timeout = float(timeout or rung.timeout)
    result = RungResult(id=rung.id, title=rung.title, status="error", points=0.0,
                        max_points=rung.points, impl=str(path), tasks=list(rung.tasks),
                        hidden_pending=hidden_pending(rung))
    missing = missing_requirements(rung)
    if missing:
        result.status = "skipped"
        result.message = (f"skipped: install the {rung.extra} extra: "
                          f"{install_command(rung.extra or '')} "
                          f"({', '.join(missing)} not installed)")
        return result, {}
    problem = syntax_problem(path)
    if problem:
        result.message = problem
        return result, {}
    run = run_worker(rung, path, device, timeout)
    result.duration = round(run.seconds, 3)
    if run.returncode in (2, 4) and not run.of_kind("meta"):
        last = [line for line in run.output.splitlines() if line.strip()]
        raise SetupError(last[-1].removeprefix("ERROR: ") if last else "the worker would not start")
    tests = [_test_result(record) for record in run.of_kind("test")]
    for test, record in zip(tests, run.of_kind("test"), strict=True):
        if test.status == "gray":
            _remeasure(rung, path, device, timeout, test, record)
        if require_gpu and test.category == "gpu" and test.status == "skipped":
            test.status, test.message = "fail", f"{GPU_REQUIRED}; {test.message}"
    result.tests = tests
    if run.of_kind("collect_error"):
        result.message = ("the grader could not load its spec (a bug in torchkata, please "
                          "report it):\n" + run.of_kind("collect_error")[0]["message"])
    elif not run.finished:
        result.message = _describe_stop(run, timeout)
    else:
        result.status = rung_status(tests)
    result.tasks_todo = [t for t in rung.tasks if result.task_status(t) == "todo"]
    if result.status != "error":
        result.points = round(sum(score.points for score in result.task_scores()), 2)
    meta = run.of_kind("meta")
    worker_meta = {k: v for k, v in meta[0].items() if k not in ("nonce", "kind")} if meta else {}
    return result, worker_meta
