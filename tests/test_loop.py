"""The learner's loop: a check stopped at the learner's line, what learner code prints, one task
at a time, the warm worker (the same verdicts as a cold one, out of its children's reach, replaced
when it dies), rungs graded in parallel, the per-checkout check server and `kata watch`.

Each behaviour is shown on the cheapest rung that has it, 01-tensors, mostly on one of its tasks.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import isolation, runner, server
from grader.catalog import REPO_ROOT, load_catalog, resolve
from grader.cli import cli
from grader.plugin import CHECK_CPU_SECONDS
from grader.progress import load_progress, record_progress
from grader.reports.text import LEARNER_PREFIX, render_text
from grader.results import Result, RungResult, split_points
from grader.runner import GradingInterrupted, Layers, SetupError, check_rung, check_rungs
from grader.watch import watch
from grader.zygote import ForkedWorker

from .helpers import MUTANTS_DIR, describe

TENSORS = resolve("01-tensors")
REFERENCE = TENSORS.reference_path.read_text(encoding="utf-8")
NBYTES = "tensor_nbytes"  # two checks, plain Python: the cheapest task to grade alone
NBYTES_RETURN = "    return math.prod(shape) * dtype.itemsize"
LOOP_LINE = "    while True: pass  # its condition never changes"
PLANNED = next(rung.id for rung in load_catalog() if not rung.available)
SHARES = dict(zip(TENSORS.tasks, split_points(TENSORS.points, len(TENSORS.tasks)), strict=True))


def learner_file(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    """The reference of 01-tensors with each `old` text (found exactly once) replaced."""
    source = REFERENCE
    for old, new in replacements:
        assert source.count(old) == 1, f"{old!r} is not in the reference exactly once"
        source = source.replace(old, new)
    path = tmp_path / TENSORS.module
    path.write_text(source, encoding="utf-8")
    return path


def looping_file(tmp_path: Path) -> tuple[Path, int]:
    """tensor_nbytes loops for ever; the others are the reference. Also the loop's line number."""
    path = learner_file(tmp_path, (NBYTES_RETURN, LOOP_LINE))
    return path, path.read_text(encoding="utf-8").splitlines().index(LOOP_LINE) + 1


def verdict(result: RungResult) -> tuple[object, ...]:
    """What a learner is told: the rung's status, points and message, and every check's."""
    return (result.status, result.points, result.message,
            [(t.task, t.name, t.status, t.message) for t in result.tests])


def kata(*args: str):
    return CliRunner().invoke(cli, list(args))


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first); None when gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def alive(pid: int) -> bool:
    fields = stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def children(pid: int) -> list[int]:
    """The live (not zombie) processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = stat_fields(int(entry.name))
            if fields is not None and fields[0] != "Z" and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_for(condition: Callable[[], object], what: str, seconds: float = 120.0) -> None:
    """Poll until `condition` holds; a guard against hanging, not a bound on how long it takes."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.1)


@pytest.fixture
def started_workers(monkeypatch) -> list[runner.Worker]:
    """Every worker the runner starts from now on: forked by the zygote or a fresh Python."""
    started: list[runner.Worker] = []
    original = runner._start_worker

    def spy(*args, **kwargs):
        worker = original(*args, **kwargs)
        started.append(worker)
        return worker

    monkeypatch.setattr(runner, "_start_worker", spy)
    return started


@pytest.fixture
def warm_worker_restored():
    """For tests that stop or kill the warm worker: the rest of this process grades through one."""
    assert runner.warm_worker_running()
    try:
        yield
    finally:
        runner.start_warm_worker()


# --- one check stopped, the rest of the run goes on ---------------------------------------------


def test_an_endless_loop_fails_its_tasks_first_check_at_its_line_and_the_other_tasks_pass(
        tmp_path):
    path, line = looping_file(tmp_path)
    result, _ = check_rung(TENSORS, impl=str(path))
    looping = [t for t in result.tests if t.task == NBYTES]
    assert len(looping) >= 2, describe(result)
    first, later = looping[0], looping[1:]
    assert first.status == "fail", describe(result)
    assert f"stopped after {CHECK_CPU_SECONDS:g} s of CPU time" in first.message, first.message
    assert f"tensors.py:{line} `{LOOP_LINE.strip()}`" in first.message, first.message
    for check in later:
        assert check.status == "fail", describe(result)
        assert check.message.startswith("not checked: an earlier check of this task was "
                                        "stopped after"), check.message
    assert result.status == "fail", describe(result)
    for score in result.task_scores():
        if score.task == NBYTES:
            assert score.status == "fail" and score.points == 0, score
        else:
            assert score.status == "pass" and score.points == SHARES[score.task], score
    assert result.points == round(TENSORS.points - SHARES[NBYTES], 2)


def test_what_learner_code_prints_arrives_with_its_check_and_under_the_failure(tmp_path):
    path = learner_file(
        tmp_path,
        ("from torch import Tensor\n",
         "from torch import Tensor\n\nprint('tensors.py was imported')\n"),
        (NBYTES_RETURN, "    print('tensor_nbytes sees', tuple(shape), dtype)\n"
                        + NBYTES_RETURN + " + 1"))
    result, _ = check_rung(TENSORS, impl=str(path), task=NBYTES)
    assert result.tests and all(t.status == "fail" for t in result.tests), describe(result)
    first = result.tests[0]
    assert "tensor_nbytes sees (" in first.output, first.output
    assert all("tensor_nbytes sees (" in t.output for t in result.tests), describe(result)
    imported = [t.name for t in result.tests if "tensors.py was imported" in t.output]
    assert imported == [first.name], "the import-time print belongs to the check that imported"

    lines = render_text(Result(rungs=[result]), width=200).splitlines()
    failure = next(i for i, text in enumerate(lines) if first.name in text)
    heading = next(i for i, text in enumerate(lines) if "Your code printed:" in text)
    printed = next(i for i, text in enumerate(lines)
                   if LEARNER_PREFIX + "tensor_nbytes sees (" in text)
    assert failure < heading < printed, "\n".join(lines)


# --- one task alone ------------------------------------------------------------------------------


def test_one_task_is_graded_alone_for_its_share_of_the_points():
    task = "broadcast_shape"
    result, _ = check_rung(TENSORS, impl="reference", task=task)
    assert result.tasks == [task]
    assert result.max_points == SHARES[task]
    assert result.status == "pass" and result.points == SHARES[task], describe(result)
    assert result.tests and {t.task for t in result.tests} == {task}, describe(result)


def test_an_unknown_task_is_a_setup_error_naming_the_rungs_tasks():
    with pytest.raises(SetupError, match="--task nope: 01-tensors has no such task") as raised:
        check_rung(TENSORS, impl="reference", task="nope")
    assert all(task in str(raised.value) for task in TENSORS.tasks)


def test_kata_check_with_an_unknown_task_is_one_line_and_exit_2():
    result = kata("check", "01", "--task", "nope")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kata: --task nope: 01-tensors has no such "
                                                   "task (its tasks: "), result.stderr
    assert "Traceback" not in result.output


# --- the warm worker -----------------------------------------------------------------------------


@pytest.mark.parametrize("impl", [
    "reference",
    str(MUTANTS_DIR / "01-tensors" / "mutant_one_hot_no_range_check.py"),
    str(MUTANTS_DIR / "01-tensors" / "mutant_windows_copy.py"),
], ids=["reference", "one_hot_no_range_check", "windows_copy"])
def test_a_warm_and_a_cold_worker_give_the_same_verdict(impl, started_workers,
                                                        warm_worker_restored):
    warm, _ = check_rung(TENSORS, impl=impl)
    runner.stop_warm_worker()
    assert not runner.warm_worker_running()
    cold, _ = check_rung(TENSORS, impl=impl)
    assert [type(w) for w in started_workers] == [ForkedWorker, subprocess.Popen]
    assert verdict(warm) == verdict(cold), describe(warm) + "\n" + describe(cold)
    assert warm.status == ("pass" if impl == "reference" else "fail"), describe(warm)


REACH_THE_ZYGOTE = """
    import ctypes
    import json
    import os

    def tensor_nbytes(shape, dtype):
        parent = os.getppid()
        own_sockets = []
        for name in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                    own_sockets.append(int(name))
            except OSError:
                pass  # the listing's own descriptor, closed by now
        links = []
        try:
            names = os.listdir(f"/proc/{parent}/fd")
        except OSError:
            names = []
        for name in names:
            try:
                links.append(os.readlink(f"/proc/{parent}/fd/{name}"))
            except OSError:
                pass
        taken = []
        try:
            pidfd = os.pidfd_open(parent)
        except OSError:
            pidfd = None
        if pidfd is not None:
            syscall = ctypes.CDLL(None, use_errno=True).syscall
            for target in range(64):
                got = syscall(438, pidfd, target, 0)  # pidfd_getfd
                if got >= 0:
                    taken.append(target)
        report = {"parent": parent, "own_sockets": own_sockets, "links": links, "taken": taken}
        raise RuntimeError("REPORT " + json.dumps(report))
"""


def test_a_forked_worker_holds_no_socket_and_cannot_take_the_zygotes(tmp_path, started_workers):
    """The zygote's socket would let learner code ask it for anything: the child closes it, and
    the zygote (not dumpable) does not let its children read or copy its descriptors."""
    source = REFERENCE + textwrap.dedent(REACH_THE_ZYGOTE)  # the later tensor_nbytes wins
    path = tmp_path / TENSORS.module
    path.write_text(source, encoding="utf-8")
    deep = Layers(source_rules=False, runtime_guard=False)  # os and ctypes let in on purpose
    result, _ = check_rung(TENSORS, impl=str(path), task=NBYTES, layers=deep)
    assert [type(w) for w in started_workers] == [ForkedWorker]
    reports = [t.message for t in result.tests if "REPORT " in t.message]
    assert reports, describe(result)
    report = json.loads(reports[0].split("REPORT ", 1)[1].split("\n", 1)[0])
    assert runner._warm is not None and report["parent"] == runner._warm.process.pid, report
    assert report["own_sockets"] == [], report
    assert report["links"] == [] and report["taken"] == [], report


def test_a_dead_zygote_means_a_cold_run_with_the_same_verdict_and_a_new_zygote(
        started_workers, warm_worker_restored):
    mutant = str(MUTANTS_DIR / "01-tensors" / "mutant_nbytes_four_bytes.py")
    before, _ = check_rung(TENSORS, impl=mutant, task=NBYTES)
    assert before.status == "fail", describe(before)
    dead = runner._warm
    assert dead is not None
    os.kill(dead.process.pid, signal.SIGKILL)
    dead.process.wait()
    dead._reader.join(timeout=60)  # the handle has read the end of the zygote's socket
    assert not runner.warm_worker_running()

    after, _ = check_rung(TENSORS, impl=mutant, task=NBYTES)
    assert verdict(after) == verdict(before), describe(after)
    # the cold run also started a replacement (a server's zygote heals itself)
    wait_for(runner.warm_worker_running, "a new zygote after the dead one")
    runner.start_warm_worker()
    assert runner.warm_worker_running() and runner._warm is not dead
    assert runner._warm.process.pid != dead.process.pid
    # nothing of the dead one is kept: its folder, its socket, its pid spared as an orphan
    assert not dead.cwd.parent.exists() and dead.sock.fileno() == -1
    assert dead.process.pid not in isolation._spawned
    again, _ = check_rung(TENSORS, impl=mutant, task=NBYTES)
    assert verdict(again) == verdict(before), describe(again)
    assert [type(w) for w in started_workers] == [ForkedWorker, subprocess.Popen, ForkedWorker]


# --- rungs in parallel ---------------------------------------------------------------------------

THREE = [resolve(rung_id) for rung_id in ("01-tensors", "03-module", "04-dataset")]


def statuses(result: Result) -> list[tuple[object, ...]]:
    return [(rung.id, rung.status, rung.points, [(t.name, t.status) for t in rung.tests])
            for rung in result.rungs]


def test_parallel_rungs_are_reported_in_catalog_order_once_each_as_a_serial_run_grades_them():
    started: list[str] = []
    done: list[str] = []
    parallel = check_rungs(THREE, jobs=2, on_start=lambda rung: started.append(rung.id),
                           on_done=lambda rung: done.append(rung.id))
    assert done == [rung.id for rung in THREE]
    assert sorted(started) == sorted(done)
    serial = check_rungs(THREE, jobs=1)
    assert statuses(parallel) == statuses(serial)
    assert [rung.id for rung in parallel.rungs] == done


def test_a_cancel_as_the_second_rung_starts_interrupts_and_leaves_no_worker(started_workers):
    cancel = threading.Event()

    def on_start(rung):
        if rung.id == THREE[1].id:
            cancel.set()

    with pytest.raises(GradingInterrupted):
        check_rungs(THREE, jobs=2, on_start=on_start, cancel=cancel)
    assert started_workers, "no run had started"
    assert [w.pid for w in started_workers if alive(w.pid)] == []
    zygote = runner._warm
    assert zygote is not None and children(zygote.process.pid) == []
    assert [pid for pid in children(os.getpid()) if "grader.worker" in cmdline(pid)] == []


# --- the check server ----------------------------------------------------------------------------


def stop_server() -> None:
    found = server.state()
    if not found["running"]:
        return
    server.stop()
    pid = found.get("pid")
    wait_for(lambda: not server.state()["running"] and not (isinstance(pid, int) and alive(pid)),
             "the check server exits after server.stop()")


@pytest.fixture
def check_server(monkeypatch):
    """KATA_SERVER=1, and this checkout's server to itself: its tests share one socket, so they
    take a lock (`make test` spreads tests over processes without grouping them); no server
    before the test, none after it."""
    folder = server.socket_path().parent
    folder.mkdir(mode=0o700, exist_ok=True)
    with open(server.socket_path().with_suffix(".tests-lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            stop_server()
            monkeypatch.setenv("KATA_SERVER", "1")
            yield
        finally:
            stop_server()


def checked_through_the_server(*extra: str, env: dict[str, str] | None = None):
    result = CliRunner().invoke(cli, ["check", "01", "--impl", "reference", "--task", NBYTES,
                                      *extra], env=env)
    assert result.exit_code == 0, result.output
    assert "check server is not available" not in result.stderr, result.stderr
    return result


@pytest.mark.xdist_group("server")
def test_the_first_check_starts_the_server_the_next_reuses_it_and_stop_ends_it(check_server):
    assert not server.state()["running"]
    checked_through_the_server()
    first = server.state()
    assert first["running"] and first["current"], first
    checked_through_the_server()
    second = server.state()
    assert second["running"] and second["pid"] == first["pid"], (first, second)
    assert server.stop()
    wait_for(lambda: not server.state()["running"] and not alive(first["pid"]),
             "the server exits after server.stop()")


@pytest.mark.xdist_group("server")
def test_a_server_started_with_other_settings_is_replaced_by_the_next_check(check_server,
                                                                            tmp_path):
    other_path = os.environ.get("PATH", "") + os.pathsep + str(tmp_path)  # part of identity()
    checked_through_the_server(env={"PATH": other_path})
    stale = server.state()
    assert stale["running"] and not stale["current"], stale
    checked_through_the_server()
    fresh = server.state()
    assert fresh["running"] and fresh["current"] and fresh["pid"] != stale["pid"], fresh
    wait_for(lambda: not alive(stale["pid"]), "the superseded server exits")


@pytest.mark.xdist_group("server")
def test_ctrl_c_in_a_client_ends_its_run_in_the_server_and_exits_130(check_server, tmp_path):
    path, _ = looping_file(tmp_path)
    client = subprocess.Popen(
        [sys.executable, "-m", "grader", "check", "01", "--impl", str(path), "--task", NBYTES],
        cwd=REPO_ROOT, env={**os.environ, "KATA_SERVER": "1"}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: server.state().get("active", 0) > 0, "the server takes the check")
        pid = server.state()["pid"]
        zygotes = [child for child in children(pid) if "grader.zygote" in cmdline(child)]
        assert len(zygotes) == 1, "the server has no warm worker"
        wait_for(lambda: children(zygotes[0]), "the zygote forks the run's worker")
        worker = children(zygotes[0])[0]
        client.send_signal(signal.SIGINT)
        out, err = client.communicate(timeout=60)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    assert client.returncode == 130, (out, err)
    assert "stopped by Ctrl-C" in err and "Traceback" not in err, err
    wait_for(lambda: not alive(worker) and children(zygotes[0]) == [],
             "the server ends the run's worker")
    after = server.state()
    assert after["running"] and after["pid"] == pid, "the server outlives its client's Ctrl-C"


# --- kata watch ----------------------------------------------------------------------------------


def test_watch_once_checks_the_exercise_and_records_its_progress():
    shown: list[RungResult] = []

    def render(result: RungResult) -> str:
        shown.append(result)
        return result.status

    code = watch(TENSORS, render=render, record=record_progress, hint=lambda result, rung: "",
                 solution=lambda rung: "", once=True)
    assert len(shown) == 1 and shown[0].id == TENSORS.id
    assert shown[0].impl == str(TENSORS.exercise_path)
    assert code == (0 if shown[0].status == "pass" else 1)
    recorded = load_progress().rungs[TENSORS.id].last
    assert recorded.status == shown[0].status and recorded.points == shown[0].points


@pytest.mark.parametrize("name,message", [
    (PLANNED, f"kata: {PLANNED}: planned, not available yet"),
    ("nope", "kata: no rung 'nope'"),
])
def test_kata_watch_of_a_rung_it_cannot_check_is_one_line_and_exit_2(name, message):
    result = kata("watch", name)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr
