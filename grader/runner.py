"""The runner: grades one rung in a worker process and turns its records into a RungResult.

This process never imports learner code and trusts nothing the worker says unless it can check
it. Before a worker starts, the learner's file is parsed and held to the rung's source rules
(grader/rules.py). The worker (grader/worker.py) limits itself, drops to an unprivileged user when
run as root, and speaks over a pipe: one JSON record per line, each tagged with this run's nonce.

The pipe carries, in this order: `meta` and `manifest` (every check the spec holds), written
before any learner code is loaded, then the `learner` marker, then a `start` and a `test` record
per check and a final `done`. What comes before the marker cannot have been written by learner
code, so the manifest is the parent's list of checks: every one needs exactly one result, a
missing one means the run stopped early (no points), and only the grader's own reasons may skip
a check. Every string is cleaned before any report prints it (grader/sanitize.py). When the rung
is graded, everything the worker started is killed (grader/isolation.py).
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import isolation
from grader.bands import KNOWN_BANDS
from grader.block_choice import BlockSource, block_sources, blocks_imported, sha256_of
from grader.catalog import HIDDEN_COUNTS_PATH, PACKAGE_DIR, REPO_ROOT, Rung
from grader.results import Result, RungResult, TestResult, rung_status, split_points
from grader.rules import MAX_SOURCE_BYTES, check_source, describe_violations
from grader.sanitize import NAME_LIMIT, clean, finite_number
from grader.zygote import ForkedWorker, Zygote, ZygoteGone

MEMORY_LIMIT_BYTES = 4 * 1024**3  # address space of each process (CPU runs)
# Resident memory of all the worker's processes together, watched by the parent: RLIMIT_AS holds
# per process (children each get their own) and CUDA cannot live with it at all.
TOTAL_MEMORY_LIMIT_BYTES = {"cpu": 6 * 1024**3, "cuda": 12 * 1024**3}
OUTPUT_LIMIT_BYTES = 64 * 1024**2
CHANNEL_LIMIT_BYTES = 32 * 1024**2
EXTRA_PROCESSES = 64
REMEASURE_RUNS = 2
CATEGORIES = ("shape", "values", "grad", "properties", "structure", "speed", "gpu", "training")
TEST_STATUSES = ("pass", "fail", "error", "todo", "skipped", "gray")
TRUSTED_KINDS = ("meta", "manifest", "setup_error", "collect_error")


@dataclass(frozen=True)
class Layers:
    """Which of the grader's integrity layers a run applies: all of them, except in the project's
    own tests of the layers underneath (a segfault must be handled even if no rule let it in)."""

    source_rules: bool = True
    runtime_guard: bool = True


ALL_LAYERS = Layers()


class SetupError(Exception):
    """The run could not start: a missing file, no CUDA where asked. The CLI exits 2."""


class GradingInterrupted(Exception):
    """Ctrl-C: the worker and everything it started are gone; `where` says how far it got."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


@dataclass
class WorkerRun:
    """What one worker process left behind, as the parent read it."""

    records: list[dict[str, Any]] = field(default_factory=list)  # after the learner marker
    trusted: list[dict[str, Any]] = field(default_factory=list)  # before it
    learner_started: bool = False
    returncode: int | None = None
    timed_out: bool = False
    memory_exceeded: int = 0  # the limit it went over, in bytes
    channel_overflow: bool = False
    output: str = ""
    seconds: float = 0.0

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        pool = self.trusted if kind in TRUSTED_KINDS else self.records
        return [r for r in pool if r.get("kind") == kind]

    @property
    def finished(self) -> bool:
        return bool(self.of_kind("done"))

    def manifest(self) -> list[dict[str, Any]] | None:
        found = self.of_kind("manifest")
        if not found or not isinstance(found[0].get("checks"), list):
            return None
        return [c for c in found[0]["checks"] if isinstance(c, dict)]

    def running_test(self) -> str | None:
        """The check that had started but recorded no result when the worker stopped."""
        finished = {r.get("nodeid") for r in self.of_kind("test")}
        started = [r.get("nodeid") for r in self.of_kind("start")
                   if r.get("nodeid") not in finished]
        name = started[-1] if started and isinstance(started[-1], str) else None
        return clean(name.rsplit("::", 1)[-1], NAME_LIMIT) if name else None


def implementation_path(rung: Rung, impl: str) -> Path:
    if impl == "exercises":
        return rung.exercise_path
    if impl == "reference":
        if not rung.reference_path.is_file() and rung.oracle_path.is_file():
            raise SetupError("--impl reference: this course copy ships without readable "
                             "reference solutions")
        return rung.reference_path
    return Path(impl).expanduser().absolute()


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


def oracle_source(rung: Rung) -> bytes:
    """The reference the spec compares with: the readable file, or the course copy's oracle."""
    if rung.reference_path.is_file() or not rung.oracle_path.is_file():
        return rung.reference_path.read_bytes()
    return zlib.decompress(rung.oracle_path.read_bytes())


def hidden_pending(rung: Rung) -> int:
    """How many hidden spec tests `kata export` left out of this copy for this rung."""
    if not HIDDEN_COUNTS_PATH.is_file():
        return 0
    try:
        counts = json.loads(HIDDEN_COUNTS_PATH.read_text(encoding="utf-8"))
        return int(counts.get(rung.id, 0))
    except (ValueError, TypeError, AttributeError):
        return 0


def read_learner_file(path: Path) -> bytes:
    """The learner's file as bytes, read once: the worker gets a copy, never the path."""
    if not path.is_file():
        raise SetupError(f"{path} is not a regular file")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        raise SetupError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_SOURCE_BYTES:
        raise _TooLarge(path.name)
    return data


class _TooLarge(Exception):
    pass


def source_problem(rung: Rung, path: Path, data: bytes) -> str | None:
    """A syntax error or a broken source rule, as the learner should read it; None when clean."""
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"{path.name} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
    try:
        compile(source, str(path), "exec", dont_inherit=True)  # compiled, never run
        violations = check_source(source, rung.policy)
    except SyntaxError as exc:
        return _syntax_message(path, exc)
    except (RecursionError, MemoryError):
        return (f"{path.name} is nested too deeply for Python to read; write it as plain, "
                "flat statements")
    except ValueError as exc:  # null bytes in the source
        return f"{path.name} cannot be compiled: {exc}"
    if violations:
        return describe_violations(violations, path.name, source)
    return None


def _syntax_message(path: Path, exc: SyntaxError) -> str:
    line = (exc.text or "").rstrip("\n")
    pointer = ""
    if line and exc.offset:
        stripped = line.lstrip()
        pointer = "\n    " + " " * max(exc.offset - 1 - (len(line) - len(stripped)), 0) + "^"
        line = stripped
    return clean(f"SyntaxError in {path.name} line {exc.lineno}: {exc.msg}"
                 + (f"\n    {line[:200]}{pointer}" if line else ""))


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


def _worker_env(nonce_fd: int, channel_fd: int, home: Path, config: dict[str, Any]
                ) -> dict[str, str]:
    # nothing of the caller's that learner code could use: the grader's own settings, Python's,
    # and a CI runner's output files ($GITHUB_OUTPUT would take a forged score)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("KATA_", "PYTEST_", "HYPOTHESIS_", "PYTHON", "GITHUB_",
                                  "RUNNER_", "ACTIONS_", "CI_"))}
    env.update(
        KATA_WORKER=json.dumps(config),
        KATA_RESULT_FD=str(channel_fd),
        KATA_NONCE_FD=str(nonce_fd),
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
        PYTHONPATH=str(home.parent / "path"),  # the grader alone, not the checkout's top level
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONHASHSEED="0",
        PYTHONNOUSERSITE="1",
        HOME=str(home),
        USER="kata-worker",
        LOGNAME="kata-worker",
        TMPDIR=str(home / "tmp"),
        TORCHINDUCTOR_CACHE_DIR=str(home / "inductor"),
        TRITON_CACHE_DIR=str(home / "triton"),
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
        HF_HOME=str(home / "hf-home"),
        TOKENIZERS_PARALLELISM="false",
        # torch.load never runs a full unpickler, however it is called (**{"weights_only": ...})
        TORCH_FORCE_WEIGHTS_ONLY_LOAD="1",
    )
    return env


class _ChannelReader(threading.Thread):
    """Drains the result pipe as the worker writes it, keeping at most CHANNEL_LIMIT_BYTES."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.data = bytearray()
        self.overflow = False

    def run(self) -> None:
        try:
            while True:
                chunk = os.read(self.fd, 1 << 16)
                if not chunk:
                    return
                if len(self.data) + len(chunk) <= CHANNEL_LIMIT_BYTES:
                    self.data += chunk
                else:
                    self.overflow = True
        except OSError:
            return
        finally:
            try:
                os.close(self.fd)
            except OSError:
                pass


def _parse_channel(data: bytes, nonce: str, run: WorkerRun) -> None:
    """Split the pipe's bytes into records: before the learner marker trusted, after it not."""
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8", "replace"))
        except (ValueError, RecursionError):
            continue
        if not isinstance(record, dict) or record.get("nonce") != nonce:
            continue
        kind = record.get("kind")
        if not run.learner_started:
            if kind == "learner":
                run.learner_started = True
            elif kind in TRUSTED_KINDS:
                run.trusted.append(record)
            continue
        if kind in ("start", "test", "done"):
            run.records.append(record)


def _tree_digest() -> str:
    """A digest of the grader's own files, compiled ones included, and of the checkout's top
    level: learner code must never change them."""
    digest = hashlib.sha256()
    paths = [*PACKAGE_DIR.rglob("*"), *REPO_ROOT.glob("*.py"), *REPO_ROOT.glob("*.pth")]
    for path in sorted(paths):
        if path.is_file():
            digest.update(str(path).encode())
            try:
                digest.update(path.read_bytes())
            except OSError:
                digest.update(b"?")
    return digest.hexdigest()


def _prepare_workdir(work: Path, learner_source: bytes, module: str,
                     reference: bytes) -> dict[str, Path]:
    """Folders for one run. Only `home` is the worker's to write; the rest it may only read."""
    os.chmod(work, 0o711)
    private = work / "private"
    private.mkdir(mode=0o700)
    learner = work / "learner"
    learner.mkdir(mode=0o755)
    (learner / module).write_bytes(learner_source)
    os.chmod(learner / module, 0o644)
    oracle = work / "reference"
    oracle.mkdir(mode=0o755)
    (oracle / module).write_bytes(reference)
    os.chmod(oracle / module, 0o644)
    home = work / "home"
    home.mkdir(mode=0o700)
    for sub in ("tmp", "hf-home"):
        (home / sub).mkdir(mode=0o700)
    (work / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    # What the worker imports the grader from: a link to the package and nothing else, so a
    # sitecustomize.py or a module planted at the checkout's top level is never on its path.
    (work / "path").mkdir(mode=0o755)
    (work / "path" / "grader").symlink_to(PACKAGE_DIR, target_is_directory=True)
    os.chmod(work / "pytest.ini", 0o644)
    return {"private": private, "learner": learner / module, "reference": oracle / module,
            "home": home}


def _prepare_blocks(work: Path, blocks: list[BlockSource]) -> Path | None:
    """The earlier rungs' modules the worker serves through grader.blocks (read-only), and the
    list of them the plugin reads: [{"rung", "reference", "yours"}], in catalog order."""
    if not blocks:
        return None
    folder = work / "blocks"
    folder.mkdir(mode=0o755)
    listing = []
    for block in blocks:
        entry: dict[str, str | None] = {"rung": block.rung.id, "yours": None}
        for origin, data in (("reference", block.reference), ("yours", block.yours)):
            if data is None:
                continue
            place = folder / block.rung.id / origin
            place.mkdir(mode=0o755, parents=True)
            os.chmod(place.parent, 0o755)
            (place / block.rung.module).write_bytes(data)
            os.chmod(place / block.rung.module, 0o644)
            entry[origin] = str(place / block.rung.module)
        listing.append(entry)
    manifest = folder / "blocks.json"
    manifest.write_text(json.dumps(listing), encoding="utf-8")
    os.chmod(manifest, 0o644)
    return manifest


Worker = subprocess.Popen[bytes] | ForkedWorker
_warm: Zygote | None = None
_warm_lock = threading.Lock()


def start_warm_worker() -> None:
    """From now on this process grades through a zygote (grader/zygote.py) that has imported
    torch, pytest and the specs' harness once: each run forks from it instead of starting Python.
    Idempotent; a zygote that died is replaced."""
    global _warm
    with _warm_lock:
        if _warm is not None and _warm.alive:
            return
        if _warm is not None:  # it died: its socket, its folder and its pid go with it
            _discard(_warm)
        home = Path(tempfile.mkdtemp(prefix="kata-zygote-"))
        os.chmod(home, 0o711)
        (home / "path").mkdir(mode=0o755)
        (home / "path" / "grader").symlink_to(PACKAGE_DIR, target_is_directory=True)
        (home / "home").mkdir(mode=0o700)
        env = _worker_env(-1, -1, home / "home", {})
        for key in ("KATA_WORKER", "KATA_RESULT_FD", "KATA_NONCE_FD"):
            env.pop(key, None)
        env["PYTHONPATH"] = str(home / "path")
        if _warm is None:
            atexit.register(stop_warm_worker)
        _warm = Zygote(env, home / "home")
        isolation.register(_warm.process.pid)  # not an orphan to kill after each run


def stop_warm_worker() -> None:
    global _warm
    with _warm_lock:
        if _warm is not None:
            _discard(_warm)
        _warm = None


def _discard(zygote: Zygote) -> None:
    """End a zygote (if it still runs) and forget it: a pid left registered would be spared by
    `isolation.kill_orphans` once the system hands it to another process."""
    zygote.close()
    isolation.unregister(zygote.process.pid)
    shutil.rmtree(zygote.cwd.parent, ignore_errors=True)


def warm_worker_running() -> bool:
    return _warm is not None and _warm.alive


def _start_worker(command: list[str], env: dict[str, str], cwd: Path, channel: int, nonce: int,
                  output: int) -> Worker:
    """A worker for one run: forked from the zygote when there is one, else a fresh Python."""
    zygote = _warm
    if zygote is not None and zygote.alive:
        try:
            return zygote.spawn(env, cwd, channel, nonce, output)
        except ZygoteGone:
            pass
    if zygote is not None:  # it died or hung: this run goes cold, the next ones warm again
        threading.Thread(target=start_warm_worker, daemon=True, name="kata-zygote-start").start()
    return subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=output,
                            stderr=output, pass_fds=(channel, nonce), start_new_session=True)


def run_worker(
    rung: Rung, source: bytes, device: str, timeout: float, select: list[str] | None = None,
    layers: Layers = ALL_LAYERS, spec_path: Path | None = None, task: str | None = None,
    cancel: threading.Event | None = None, exit_first: bool = False,
    blocks: list[BlockSource] | None = None,
) -> WorkerRun:
    """Run the rung's spec (or `spec_path`, a spec-like file of the grader's) against `source`
    (the learner's module) in a fresh, limited process; with `exit_first`, pytest stops at the
    first failing check (the rest are reported as not run).

    Raises GradingInterrupted on Ctrl-C, after the worker and all it started are gone.
    """
    run = WorkerRun()
    isolation.become_subreaper()
    isolation.refuse_ptrace()
    as_root = isolation.running_as_root()
    uids = isolation.worker_uids() if as_root else []
    own_uid = uids[0] if uids and uids[0] != isolation.NOBODY else None
    with tempfile.TemporaryDirectory(prefix="kata-") as workdir:
        work = Path(workdir)
        places = _prepare_workdir(work, source, rung.module, oracle_source(rung))
        blocks_file = _prepare_blocks(work, block_sources(rung, "reference")
                                      if blocks is None else blocks)
        nonce = secrets.token_hex(16)
        nonce_read, nonce_write = os.pipe()
        os.write(nonce_write, nonce.encode())
        os.close(nonce_write)
        channel_read, channel_write = os.pipe()
        spec = str(spec_path or rung.spec_path)
        targets = [f"{spec}::{name}" for name in select] if select else [spec]
        pytest_args = [
            *targets, "-p", "grader.plugin", "--noconftest", "-p", "no:cacheprovider",
            "-c", str(work / "pytest.ini"), "--rootdir", str(work), "-q", "-rN",
            "--assert=plain",  # spec messages are the report; no rewritten-assert clutter
            # nothing of pytest's that only reports to a terminal nobody reads (and collects
            # garbage three times over at exit)
            "-p", "no:unraisableexception", "-p", "no:threadexception", "-p", "no:warnings",
            "--basetemp", str(places["home"] / "pytest"),
            "--kata-rung", rung.id, "--kata-impl", str(places["learner"]),
            "--kata-reference", str(places["reference"]), "--kata-device", device,
            *(["--kata-task", task] if task else []), *(["-x"] if exit_first else []),
            *(["--kata-blocks", str(blocks_file)] if blocks_file else []),
        ]
        config = {
            "pytest_args": pytest_args, "home": str(places["home"]),
            "cpu_seconds": int(timeout) + 5, "output_bytes": OUTPUT_LIMIT_BYTES,
            "memory_bytes": MEMORY_LIMIT_BYTES if device == "cpu" else 0,
            "processes": EXTRA_PROCESSES if as_root else _user_process_count() + EXTRA_PROCESSES,
            "uids": uids, "keep_read": as_root and isolation.needs_read_search(REPO_ROOT),
            # the worker's to write, as whichever uid it becomes
            "own": [str(places["home"]), str(places["home"] / "tmp"),
                    str(places["home"] / "hf-home")],
        }
        env = _worker_env(nonce_read, channel_write, places["home"], config)
        if not layers.runtime_guard:
            env["KATA_NO_RUNTIME_GUARD"] = "1"
        command = [sys.executable, "-P", "-m", "grader.worker"]
        output_fd = os.open(places["private"] / "output.txt", os.O_RDWR | os.O_CREAT, 0o600)
        digest_before = _tree_digest()
        started = time.monotonic()
        reader = _ChannelReader(channel_read)
        process: Worker | None = None
        try:
            try:
                process = _start_worker(command, env, places["home"], channel_write,
                                        nonce_read, output_fd)
            finally:
                os.close(channel_write)
                os.close(nonce_read)
            isolation.register(process.pid)
            reader.start()
            _wait(process, run, timeout, device, own_uid, cancel)
        except KeyboardInterrupt:
            _end_everything(process, own_uid)
            reader.join(timeout=2)
            run.output = _read_output(output_fd)
            os.close(output_fd)
            run_records = WorkerRun()
            _parse_channel(bytes(reader.data), nonce, run_records)
            where = run_records.running_test()
            raise GradingInterrupted(f"{rung.id}{f' during {where}' if where else ''}") from None
        _end_everything(process, own_uid)
        reader.join(timeout=5)
        run.seconds = time.monotonic() - started
        run.channel_overflow = reader.overflow
        run.output = _read_output(output_fd)
        os.close(output_fd)
        _parse_channel(bytes(reader.data), nonce, run)
        if _tree_digest() != digest_before:
            raise SetupError(
                "the grader's own files changed while your code ran (grader/). Restore them "
                "(git checkout -- grader) and grade again; a module must never write files "
                "outside the paths a task gives it.")
    return run


def _wait(process: Worker, run: WorkerRun, timeout: float, device: str,
          own_uid: int | None, cancel: threading.Event | None = None) -> None:
    """Until the worker ends, its deadline passes, it uses too much memory, or (Ctrl-C in a
    client of the server) the run is cancelled: then KeyboardInterrupt, as in the CLI."""
    deadline = time.monotonic() + timeout
    limit = TOTAL_MEMORY_LIMIT_BYTES["cpu" if device == "cpu" else "cuda"]
    while True:
        try:
            run.returncode = process.wait(timeout=max(0.01, min(0.25,
                                                               deadline - time.monotonic())))
            return
        except subprocess.TimeoutExpired:
            pass
        if cancel is not None and cancel.is_set():
            raise KeyboardInterrupt
        if time.monotonic() >= deadline:
            run.timed_out = True
            return
        if isolation.resident_bytes(process.pid, own_uid) > limit:
            run.memory_exceeded = limit
            return


def _end_everything(process: Worker | None, own_uid: int | None) -> None:
    """The worker, its process group, every process of its own uid, and adopted orphans."""
    if process is not None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        isolation.kill_tree(process.pid)
    if own_uid is not None:
        isolation.kill_uid(own_uid)
        isolation.remove_files_of(own_uid)
    if process is not None:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        isolation.unregister(process.pid)
    isolation.kill_orphans()
    if isinstance(process, ForkedWorker):
        process.zygote.reap()


def _read_output(fd: int, limit: int = 20000) -> str:
    try:
        size = os.fstat(fd).st_size
        data = os.pread(fd, limit, max(0, size - limit))
    except OSError:
        return ""
    return clean(data.decode("utf-8", "replace"), limit)


def _describe_stop(run: WorkerRun, timeout: float) -> str:
    during = run.running_test()
    where = f" during {during}" if during else ""
    if run.channel_overflow:
        return (f"the grader's result channel was flooded{where}: something in your module wrote "
                "to a file descriptor it does not own.")
    if run.memory_exceeded:
        return (f"stopped{where}: its processes used more than "
                f"{run.memory_exceeded // 1024**3} GB of memory together.")
    if run.timed_out:
        return (f"timed out after {timeout:g} s{where}, the rung's whole time: code that waits "
                "(sleep, input) or is stuck inside one huge torch operation, which the per-check "
                "limit cannot interrupt; look at what that check calls.")
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
    if code == CAUGHT_STOP_EXIT:
        return (f"stopped{where}: your code caught the grader's stop of a check that ran too "
                "long and carried on, so the rest of the rung could not run.")
    if code == STOP_IN_GRADER_EXIT:
        return (f"stopped{where}: a check ran too long and its stop landed in the grader's own "
                "code, which could not end it there, so the rest of the rung could not run.")
    if run.finished:
        return (f"the run ended without a result for every check (exit code {code}){where}: "
                "something in your module stopped the grader's run early.")
    return (f"the grader got no result: your code ended the process (exit code {code}){where}. "
            "Don't call exit(), sys.exit() or os._exit() in your module.")


def _speed_fields(record: dict[str, Any]) -> dict[str, float] | None:
    ratio = finite_number(record.get("ratio"))
    pass_at = finite_number(record.get("pass_at"))
    fail_above = finite_number(record.get("fail_above"))
    if ratio is None or ratio <= 0 or (pass_at, fail_above) not in KNOWN_BANDS:
        return None
    return {"ratio": ratio, "pass_at": pass_at or 0.0, "fail_above": fail_above or 0.0}


NOT_RUN = "not run: the run stopped before this check"
# How far each failed check of the last check_rung failed, by check name: the record's margin
# (a number, or absent: categorical), margin_kind, and drawn (Hypothesis drew the failing
# example). The project's mutant tests read it; no report shows it.
last_kill_margins: dict[str, dict[str, Any]] = {}
CAUGHT_STOP_EXIT = 86  # grader/plugin.py's; the parent never imports the plugin
STOP_IN_GRADER_EXIT = 87  # grader/plugin.py's too
FOREIGN_SKIP = ("your code skipped this check{where}; only the grader skips checks, for its own "
                "reasons (no GPU, an extra not installed). Return your result instead.")


def _check_results(manifest: list[dict[str, Any]], run: WorkerRun, rung: Rung, device: str
                   ) -> tuple[list[TestResult], list[dict[str, Any] | None], list[str]]:
    """One TestResult per manifest entry, in manifest order, from the records the worker sent.

    Names, tasks and categories come from the manifest (trusted); from a record only the status,
    the message and the measurements, each checked. Returns the tests, the record behind each
    (None when missing) and the problems that make the whole run untrustworthy.
    """
    by_nodeid: dict[str, list[dict[str, Any]]] = {}
    for sent in run.of_kind("test"):
        by_nodeid.setdefault(str(sent.get("nodeid")), []).append(sent)
    known = {str(entry.get("nodeid")) for entry in manifest}
    problems = []
    if set(by_nodeid) - known:
        problems.append("the grader received results for checks its spec does not have")
    tests: list[TestResult] = []
    records: list[dict[str, Any] | None] = []
    task_state: dict[str, str] = {}
    for entry in manifest:
        nodeid = str(entry.get("nodeid"))
        task = clean(entry.get("task", ""), NAME_LIMIT)
        category = str(entry.get("category", ""))
        test = TestResult(name=clean(entry.get("name", ""), NAME_LIMIT), task=task,
                          category=category if category in CATEGORIES else "",
                          status="error", message=NOT_RUN,
                          visibility="hidden" if entry.get("hidden") else "visible")
        found = by_nodeid.get(nodeid, [])
        record = found[0] if len(found) == 1 else None
        if len(found) > 1:
            problems.append(f"the grader received {len(found)} results for {test.name}")
            test.message = "more than one result arrived for this check"
        if record is not None:
            status = record.get("status")
            test.status = status if status in TEST_STATUSES else "error"
            test.message = clean(record.get("message", ""))
            test.duration = finite_number(record.get("duration"), 0.0) or 0.0
            test.ratio = finite_number(record.get("ratio"))
            test.output = clean(record.get("output", ""), 16000)
            if test.status == "gray" and (category != "speed" or _speed_fields(record) is None):
                test.status = "fail"
                test.message = ("the speed check's measurement did not arrive in a form the "
                                "grader accepts; " + test.message)
            if test.status == "skipped":
                earlier = task_state.get(task)
                allowed = record.get("grader_skip") is True and (
                    category != "speed" or earlier in ("fail", "error", "todo"))
                if not allowed:
                    where = clean(record.get("where", ""), 300)
                    test.status = "fail"
                    test.message = FOREIGN_SKIP.format(where=f" ({where})" if where else "")
        order = ("pass", "skipped", "gray", "todo", "fail", "error")
        previous = task_state.get(task, "pass")
        if test.status in order and order.index(test.status) > order.index(previous):
            task_state[task] = test.status
        tests.append(test)
        records.append(record)
    return tests, records, problems


def _manifest_problem(manifest: list[dict[str, Any]] | None, rung: Rung) -> str | None:
    if manifest is None:
        return "the grader's worker sent no list of checks"
    if not manifest:
        return "the spec holds no checks"
    tasks = {str(entry.get("task")) for entry in manifest}
    unknown = tasks - set(rung.tasks)
    if unknown:
        return f"the spec names tasks the catalog does not have: {', '.join(sorted(unknown))}"
    return None


def _remeasure(rung: Rung, source: bytes, device: str, timeout: float, test: TestResult,
               fields: dict[str, float], layers: Layers = ALL_LAYERS,
               cancel: threading.Event | None = None,
               blocks: list[BlockSource] | None = None) -> None:
    """Settle a gray-zone speed ratio with two fresh processes and the median of three."""
    ratios = [fields["ratio"]]
    for _ in range(REMEASURE_RUNS):
        again = run_worker(rung, source, device, timeout, select=[test.name], layers=layers,
                           cancel=cancel, blocks=blocks)
        for record in again.of_kind("test"):
            measured = _speed_fields(record)
            if record.get("name") == test.name and measured is not None:
                ratios.append(measured["ratio"])
    median = statistics.median(ratios)
    decide_at = (fields["pass_at"] + fields["fail_above"]) / 2
    test.ratio = median
    listed = ", ".join(f"{r:.2f}×" for r in ratios)
    if median <= decide_at and len(ratios) == 1 + REMEASURE_RUNS:
        test.status, test.message = "pass", ""
    else:
        test.status = "fail"
        test.message += (f"\n  Measured again in fresh processes: {listed}; the median "
                         f"{median:.2f}× is above {decide_at:.2f}×.")


def check_rungs(rungs: list[Rung], impl: str = "exercises", device: str = "cpu",
                timeout: float | None = None, require_gpu: bool = False, task: str | None = None,
                jobs: int = 1, on_start: Callable[[Rung], None] | None = None,
                on_done: Callable[[RungResult], None] | None = None,
                cancel: threading.Event | None = None) -> Result:
    """Grade rungs into one Result, `jobs` at a time.

    `on_start` hears of each rung as its run begins; `on_done` gets each rung's result as soon
    as it and every rung before it in `rungs` are graded, in that order. SetupError and
    GradingInterrupted end the whole call, after every run in flight has ended.
    """
    import platform

    from grader import __version__

    meta: dict[str, Any] = {"kata_version": __version__, "python": platform.python_version(),
                            "impl": impl, "device": device}
    if task:
        meta["task"] = task
    done: dict[int, tuple[RungResult, dict[str, Any]]] = {}
    reported = 0
    stop = cancel or threading.Event()

    def grade(index: int) -> tuple[RungResult, dict[str, Any]]:
        if stop.is_set():
            raise GradingInterrupted(rungs[index].id)
        if on_start is not None:
            on_start(rungs[index])
        return check_rung(rungs[index], impl, device, timeout, require_gpu, task=task,
                          cancel=stop)

    def report_ready() -> None:
        nonlocal reported
        while reported in done:
            if on_done is not None:
                on_done(done[reported][0])
            reported += 1

    if jobs <= 1 or len(rungs) <= 1:
        for index in range(len(rungs)):
            done[index] = grade(index)
            report_ready()
    else:
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="kata-rung") as pool:
            futures = {pool.submit(grade, index): index for index in range(len(rungs))}
            try:
                pending = set(futures)
                while pending:
                    finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    for future in finished:
                        done[futures[future]] = future.result()
                    report_ready()
            except BaseException as exc:
                stop.set()  # every run in flight ends at its next look (a quarter second)
                for future in futures:
                    future.cancel()
                if isinstance(exc, KeyboardInterrupt):
                    running = [rungs[futures[f]].id for f in pending if f.running()]
                    raise GradingInterrupted(", ".join(running) or "the run") from None
                raise
    for index in range(len(rungs)):
        meta.update(done[index][1])
    return Result(rungs=[done[index][0] for index in range(len(rungs))], meta=meta)


GPU_REQUIRED = ("--require-gpu: this check needs a CUDA GPU and counts as failed without one "
                "(run the grader on a GPU machine with --device cuda)")


def check_rung(rung: Rung, impl: str = "exercises", device: str = "cpu",
               timeout: float | None = None, require_gpu: bool = False,
               layers: Layers = ALL_LAYERS, task: str | None = None,
               cancel: threading.Event | None = None, exit_first: bool = False,
               ) -> tuple[RungResult, dict[str, Any]]:
    """Grade one rung (or, with `task`, that task of it alone, for that task's points); also
    return what the worker said of its torch and device. `exit_first` (the mutation score's
    option, never a learner's) stops at the first failing check: such a run ends in "error"
    with the checks after it not run, which is all a mutant's grade needs.

    Raises SetupError when the run cannot even start, GradingInterrupted on Ctrl-C (or when
    `cancel` is set).
    """
    if task is not None and task not in rung.tasks:
        raise SetupError(f"--task {task}: {rung.id} has no such task "
                         f"(its tasks: {', '.join(rung.tasks)})")
    path = implementation_path(rung, impl)
    if not path.exists():
        raise SetupError(f"{rung.id}: no file {path}")
    timeout = float(timeout or rung.timeout)
    tasks, max_points = list(rung.tasks), rung.points
    if task is not None:
        share = dict(zip(rung.tasks, split_points(rung.points, len(rung.tasks)), strict=True))
        tasks, max_points = [task], share[task]
    result = RungResult(id=rung.id, title=rung.title, status="error", points=0.0,
                        max_points=max_points, impl=str(path), tasks=tasks,
                        hidden_pending=hidden_pending(rung))
    missing = missing_requirements(rung)
    if missing:
        result.status = "skipped"
        result.message = (f"skipped: install the {rung.extra} extra: "
                          f"{install_command(rung.extra or '')} "
                          f"({', '.join(missing)} not installed)")
        return result, {}
    try:
        source = read_learner_file(path)
    except _TooLarge:
        result.message = (f"{path.name} is larger than {MAX_SOURCE_BYTES // 1024} KB; a rung's "
                          "module is a page or two of code")
        return result, {}
    result.source_sha256 = sha256_of(source)
    problem = source_problem(rung, path, source) if layers.source_rules else None
    if problem:
        result.message = problem
        return result, {}
    blocks = block_sources(rung, impl)
    origins = {block.rung.id: block for block in blocks}
    result.blocks = [{"rung": rung_id, "origin": origins[rung_id].origin,
                      "why": origins[rung_id].why}
                     for rung_id in blocks_imported(source) if rung_id in origins]
    try:
        run = run_worker(rung, source, device, timeout, layers=layers, task=task,
                         cancel=cancel, exit_first=exit_first, blocks=blocks)
    except OSError as exc:  # a full disk, say: this rung cannot run, the others still may
        result.message = f"the grader could not prepare a run: {exc.strerror or exc}"
        return result, {}
    result.duration = round(run.seconds, 3)
    for error in run.of_kind("setup_error"):
        raise SetupError(clean(error.get("message", "the worker would not start"), 500))
    meta = run.of_kind("meta")
    worker_meta = {k: clean(v, NAME_LIMIT) for k, v in meta[0].items()
                   if k in ("torch", "device", "device_name")} if meta else {}
    privileges = meta[0].get("privileges") if meta else None
    if isolation.running_as_root() and isinstance(privileges, dict) \
            and privileges.get("dropped") is not True:
        worker_meta["isolation_warning"] = (
            "the grader runs as root but its worker could not switch to an unprivileged user "
            f"({clean(privileges.get('reason', '?'), NAME_LIMIT)}): learner code could reach "
            "the grader's files and processes")
    if run.of_kind("collect_error"):
        result.message = ("the grader could not load its spec (a bug in torchkata, please "
                          "report it):\n" + clean(run.of_kind("collect_error")[0].get("message")))
        return result, worker_meta
    manifest = run.manifest()
    trouble = _manifest_problem(manifest, rung)
    if trouble or manifest is None:
        if not run.learner_started:
            tail = run.output.strip().splitlines()[-5:]
            result.message = (f"the grader's worker stopped before it ran your code ({trouble}; "
                              f"exit code {run.returncode})" + ("\n  " + "\n  ".join(tail)
                                                                if tail else ""))
        else:
            result.message = f"the grader could not trust this run: {trouble}"
        return result, worker_meta
    tests, records, problems = _check_results(manifest, run, rung, device)
    for test, record in zip(tests, records, strict=True):
        if test.status == "gray" and record is not None:
            fields = _speed_fields(record)
            if fields is not None:
                _remeasure(rung, source, device, timeout, test, fields, layers, cancel, blocks)
        if require_gpu and test.category == "gpu" and test.status == "skipped":
            test.status, test.message = "fail", f"{GPU_REQUIRED}; {test.message}"
    result.tests = tests
    last_kill_margins.clear()
    for test, record in zip(tests, records, strict=True):
        if record is not None and test.status == "fail":
            margin = record.get("margin")
            last_kill_margins[test.name] = {
                "margin": float(margin) if isinstance(margin, int | float) else None,
                "margin_kind": clean(record.get("margin_kind", "categorical"), NAME_LIMIT),
                "drawn": record.get("drawn") is True}
    missing_checks = [t for t, r in zip(tests, records, strict=True) if r is None]
    clean_exit = run.finished and run.returncode in (0, 1) and not run.timed_out
    if problems:
        result.message = "the grader could not trust this run: " + "; ".join(problems)
    elif missing_checks or not clean_exit:
        ran = len(tests) - len(missing_checks)
        result.message = (_describe_stop(run, timeout)
                          + f" {ran} of {len(tests)} checks had run.")
    else:
        result.status = rung_status(tests)
    result.tasks_todo = [t for t in rung.tasks if result.task_status(t) == "todo"]
    if result.status != "error":
        result.points = round(sum(score.points for score in result.task_scores()), 2)
    return result, worker_meta

