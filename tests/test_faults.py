"""Learner code is untrusted: whatever it does, the grader gives a clear verdict and carries on.

Most of what these modules do (import os, sys, ctypes) the source rules and the run-time guard
refuse before it runs; `DEEP` switches both off, so that each layer underneath is tested on its
own: the parent must survive a segfault even if no rule had let one in.
"""

from __future__ import annotations

import os
import sys
import textwrap
import time

import pytest

from grader import isolation, runner
from grader.catalog import REPO_ROOT, resolve
from grader.runner import Layers, check_rung

from .helpers import describe

ATTENTION = resolve("08-attention")
TIMEOUT = 20.0
DEEP = Layers(source_rules=False, runtime_guard=False)


def grade_source(tmp_path, source: str, timeout: float = TIMEOUT, layers: Layers = DEEP):
    module = tmp_path / "attention.py"
    module.write_text(textwrap.dedent(source), encoding="utf-8")
    result, _ = check_rung(ATTENTION, impl=str(module), timeout=timeout, layers=layers)
    return result


def test_code_that_waits_times_out_with_the_test_it_was_in(tmp_path):
    """A busy loop is stopped per check (tests/test_loop.py); code that waits uses no CPU time,
    so only the rung's own deadline ends it."""
    result = grade_source(tmp_path, """
        import time

        def causal_mask(seq_len, device=None):
            time.sleep(1000)
    """, timeout=12)
    assert result.status == "error", describe(result)
    assert result.message.startswith("timed out after 12 s during test_"), result.message
    assert result.duration < 12 + 10  # the run was stopped, not waited out
    assert result.points == 0


def test_exiting_at_import_is_no_result_not_a_pass(tmp_path):
    result = grade_source(tmp_path, """
        import os
        os._exit(0)
    """)
    assert result.status == "error"
    assert "the grader got no result: your code ended the process (exit code 0)" in result.message
    assert result.points == 0


def test_sys_exit_inside_a_task_fails_that_task(tmp_path):
    result = grade_source(tmp_path, """
        import sys
        def causal_mask(seq_len, device=None):
            sys.exit(0)
    """)
    failing = [t for t in result.tests if t.task == "causal_mask"]
    assert failing and all(t.status == "fail" for t in failing), describe(result)
    assert "your code called sys.exit()" in failing[0].message
    assert "raised at attention.py:4: sys.exit(0)" in failing[0].message


def test_keyboard_interrupt_inside_a_task_fails_that_check_and_the_run_goes_on(tmp_path):
    result = grade_source(tmp_path, """
        def causal_mask(seq_len, device=None):
            raise KeyboardInterrupt
    """)
    failing = [t for t in result.tests if t.task == "causal_mask"]
    assert failing and all(t.status == "fail" for t in failing), describe(result)
    assert "KeyboardInterrupt, which would stop the grader's whole run" in failing[0].message
    others = [t for t in result.tests if t.task != "causal_mask"]
    assert others and all(t.message != "not run: the run stopped before this check"
                          for t in others), describe(result)
    assert result.status == "todo" or result.status == "fail", describe(result)


def test_an_exception_that_cannot_be_printed_fails_the_check_not_the_grader(tmp_path):
    result = grade_source(tmp_path, """
        class Unprintable(Exception):
            def __str__(self):
                raise RuntimeError("no")
        def causal_mask(seq_len, device=None):
            raise Unprintable()
    """)
    failing = [t for t in result.tests if t.task == "causal_mask"]
    assert failing and all(t.status == "fail" for t in failing), describe(result)
    assert "cannot be printed" in failing[0].message, failing[0].message
    assert result.status in ("fail", "todo"), describe(result)


def test_os_exit_inside_a_task_is_no_result_and_names_the_test(tmp_path):
    result = grade_source(tmp_path, """
        import os
        def causal_mask(seq_len, device=None):
            os._exit(0)
    """)
    assert result.status == "error"
    assert "ended the process" in result.message and "during test_" in result.message
    assert "checks had run" in result.message
    not_run = [t for t in result.tests if t.message.startswith("not run")]
    assert not_run, describe(result)


def test_a_segfault_is_reported_as_a_crash(tmp_path):
    result = grade_source(tmp_path, """
        import ctypes
        def causal_mask(seq_len, device=None):
            return ctypes.string_at(0)
    """)
    assert result.status == "error"
    assert result.message.startswith("crashed (SIGSEGV)"), result.message


def test_a_syntax_error_names_the_file_and_line(tmp_path):
    result = grade_source(tmp_path, """
        def causal_mask(seq_len, device=None)
            return None
    """, layers=Layers())
    assert result.status == "error"
    assert result.message.startswith("SyntaxError in attention.py line 2"), result.message


def test_a_file_nested_too_deeply_gets_a_message_not_a_traceback(tmp_path):
    module = tmp_path / "attention.py"
    module.write_text("x = " + "(" * 5000 + "1" + ")" * 5000 + "\n", encoding="utf-8")
    result, _ = check_rung(ATTENTION, impl=str(module))
    assert result.status == "error" and result.points == 0
    assert "attention.py" in result.message and "Traceback" not in result.message


def test_a_huge_file_is_refused_before_anything_reads_it_whole(tmp_path):
    module = tmp_path / "attention.py"
    module.write_text("# padding\n" * 200_000, encoding="utf-8")
    result, _ = check_rung(ATTENTION, impl=str(module))
    assert result.status == "error" and "larger than" in result.message, result.message


def test_breaking_a_source_rule_names_the_file_the_line_and_what_to_do(tmp_path):
    result = grade_source(tmp_path, """
        import torch
        import numpy as np

        def causal_mask(seq_len, device=None):
            return torch.ones(seq_len, seq_len, dtype=torch.bool).tril()
    """, layers=Layers())
    assert result.status == "error" and result.tests == [], describe(result)
    assert "attention.py:3: import numpy: 08-attention does not use `numpy`" in result.message
    assert "its modules may import" in result.message and "torch" in result.message


def test_forged_records_without_the_nonce_are_ignored(tmp_path):
    result = grade_source(tmp_path, """
        import json, os
        fake = {"nonce": "guess", "kind": "test", "name": "test_x", "task": "causal_mask",
                "category": "values", "status": "pass", "message": ""}
        for fd in range(3, 64):
            for kind in ("test", "done"):
                try:
                    os.write(fd, (json.dumps(dict(fake, kind=kind)) + "\\n").encode())
                except OSError:
                    pass
        os._exit(0)
    """)
    assert result.status == "error", describe(result)
    assert result.points == 0
    assert all(t.message.startswith("not run") for t in result.tests), describe(result)


def test_a_half_written_line_does_not_swallow_the_next_record(tmp_path):
    result = grade_source(tmp_path, """
        import os
        import torch
        def causal_mask(seq_len, device=None):
            for fd in range(3, 64):
                try:
                    os.write(fd, b'{"nonce": "')
                except OSError:
                    pass
            return torch.zeros(seq_len, seq_len, dtype=torch.bool)
    """)
    mask = [t for t in result.tests if t.task == "causal_mask"]
    assert any(t.status == "fail" and t.category == "values" for t in mask), describe(result)
    assert not any(t.message.startswith("not run") for t in result.tests), describe(result)


def test_the_nonce_and_result_channel_are_not_in_the_environment(tmp_path):
    result = grade_source(tmp_path, """
        import os
        def causal_mask(seq_len, device=None):
            leaked = sorted(k for k in os.environ if k.startswith("KATA_"))
            raise RuntimeError(f"visible: {leaked}")
    """)
    messages = [t.message for t in result.tests if t.task == "causal_mask"]
    assert messages and all("visible: []" in m for m in messages), describe(result)


def test_an_exception_names_the_learners_line(tmp_path):
    result = grade_source(tmp_path, """
        import torch
        def causal_mask(seq_len, device=None):
            return torch.ones(seq_len, seq_len + 1).tril() @ torch.ones(seq_len, 1)
    """, layers=Layers())
    failing = [t for t in result.tests if t.task == "causal_mask" and t.status == "fail"]
    assert failing, describe(result)
    assert "RuntimeError" in failing[0].message
    assert "raised at attention.py:4: return torch.ones(seq_len" in failing[0].message


def test_terminal_escapes_and_lone_surrogates_never_reach_a_report(tmp_path):
    result = grade_source(tmp_path, """
        def causal_mask(seq_len, device=None):
            raise ValueError("\\x1b[2J\\x1b[1;32m PASS 20/20 \\udcff \\u202e tail \\x07")
    """, layers=Layers())
    messages = [t.message for t in result.tests if t.task == "causal_mask"]
    assert messages, describe(result)
    for message in messages:
        assert "\x1b" not in message and "\x07" not in message and "\u202e" not in message
        message.encode("utf-8")  # no lone surrogate left


@pytest.mark.parametrize("size_mb", [200])
def test_flooding_output_fails_the_task_and_the_grader_carries_on(tmp_path, size_mb):
    result = grade_source(tmp_path, f"""
        def causal_mask(seq_len, device=None):
            print("x" * ({size_mb} * 1024 * 1024))
    """, layers=Layers())
    assert result.tests, describe(result)
    failing = [t for t in result.tests if t.task == "causal_mask"]
    assert failing and all(t.status == "fail" for t in failing), describe(result)


def _processes_of_this_test(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if marker.encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


DAEMON = """
    import os
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", "60", "{marker}"])
        os._exit(0)
    def causal_mask(seq_len, device=None):
        raise NotImplementedError("08-attention: causal_mask")
"""


def assert_the_daemon_dies_with_the_run(tmp_path) -> None:
    marker = f"kata-daemon-{os.getpid()}-{time.monotonic_ns()}"
    result = grade_source(tmp_path, DAEMON.format(marker=marker))
    assert result.points == 0
    time.sleep(0.5)
    assert _processes_of_this_test(marker) == [], "the daemon outlived the grader's run"


def test_a_daemon_the_learner_starts_does_not_outlive_the_run(tmp_path):
    assert_the_daemon_dies_with_the_run(tmp_path)


@pytest.mark.skipif(not isolation.running_as_root(), reason="the worker drops privileges only "
                    "when the grader runs as root (Gradescope, PrairieLearn, Docker)")
def test_run_as_root_the_worker_can_neither_write_the_grader_nor_signal_the_parent(tmp_path):
    target = REPO_ROOT / "grader" / "kata-fault-test.txt"
    result = grade_source(tmp_path, f"""
        import os
        def causal_mask(seq_len, device=None):
            outcome = []
            try:
                open({str(target)!r}, "w").write("x")
                outcome.append("wrote the grader")
            except OSError as exc:
                outcome.append(f"write refused ({{exc.errno}})")
            try:
                os.kill(os.getppid(), 0)
                outcome.append("could signal the parent")
            except OSError as exc:
                outcome.append(f"signal refused ({{exc.errno}})")
            outcome.append(f"uid {{os.getuid()}}")
            raise RuntimeError("; ".join(outcome))
    """)
    assert not target.exists()
    message = next(t.message for t in result.tests if t.task == "causal_mask")
    assert "write refused" in message and "signal refused" in message, message
    assert "uid 0" not in message, message


def test_ctrl_c_ends_the_worker_at_once_and_exits_130(tmp_path):
    import signal
    import subprocess
    import sys

    module = tmp_path / "attention.py"
    # every function loops: whichever check calls learner code first is the one interrupted
    module.write_text("def causal_mask(seq_len, device=None):\n    while True:\n        pass\n\n\n"
                      "def scaled_dot_product_attention(q, k, v, mask=None):\n"
                      "    while True:\n        pass\n", encoding="utf-8")
    kata = subprocess.Popen([sys.executable, "-m", "grader", "check", "08", "--impl",
                             str(module)], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _children(kata.pid):
        time.sleep(0.2)
    workers = _children(kata.pid)
    assert workers, "the worker never started"
    # inside the endless loop once the worker has spent 5 s of CPU (imports and collection take
    # less); its own per-check limit stops a loop at 10 s, so this is measured in CPU, not wall time
    while time.monotonic() < deadline and _cpu_seconds(workers[0]) < 5:
        time.sleep(0.2)
    kata.send_signal(signal.SIGINT)
    out, err = kata.communicate(timeout=30)
    assert kata.returncode == 130, (out, err)
    assert "stopped by Ctrl-C in 08-attention" in err and "Traceback" not in err, err
    assert "during test_" in err, err
    time.sleep(0.5)
    alive = [pid for pid in workers if os.path.exists(f"/proc/{pid}")
             and "Z" not in open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]]
    assert not alive, "a worker outlived Ctrl-C"


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 once it is gone)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def test_memory_is_limited_across_all_the_workers_processes(tmp_path, monkeypatch):
    """RLIMIT_AS holds per process; three children of 600 MB each go over a 1 GB total."""
    monkeypatch.setitem(runner.TOTAL_MEMORY_LIMIT_BYTES, "cpu", 1024**3)
    result = grade_source(tmp_path, """
        import os, time
        for _ in range(3):
            if os.fork() == 0:
                block = bytearray(600 * 1024 * 1024)
                for i in range(0, len(block), 4096):
                    block[i] = 1
                time.sleep(30)
                os._exit(0)
        time.sleep(30)
    """, timeout=60)
    assert result.status == "error" and result.points == 0, describe(result)
    assert "used more than 1 GB of memory together" in result.message, result.message
    assert result.duration < 40


def test_as_a_plain_user_the_subreaper_still_ends_a_daemon(tmp_path, monkeypatch):
    """Without root there is no uid of the run's own to kill: the parent adopts the orphans."""
    monkeypatch.setattr(isolation, "running_as_root", lambda: False)
    assert_the_daemon_dies_with_the_run(tmp_path)


@pytest.mark.skipif(not isolation.running_as_root(), reason="only a root grader drops privileges")
def test_a_root_grader_that_could_not_drop_privileges_says_so(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from grader.cli import cli

    monkeypatch.setattr(isolation, "worker_uids", lambda: [])
    module = tmp_path / "attention.py"
    module.write_text("def causal_mask(seq_len, device=None):\n"
                      "    raise NotImplementedError('08-attention: causal_mask')\n")
    result = CliRunner().invoke(cli, ["check", "08", "--impl", str(module)])
    assert "kata: warning: the grader runs as root but its worker could not switch" \
        in result.stderr, result.output


def test_a_stop_names_the_learners_line_or_says_it_landed_in_the_graders_code(tmp_path):
    """Where a check's CPU stop lands decides what the learner is told: their own line, or the
    grader's code (then a second stop is not blamed on a bare `except:` of theirs)."""
    import sys

    from grader import plugin

    learner = tmp_path / "attention.py"
    learner.write_text("def slow(where):\n    return where()\n", encoding="utf-8")
    namespace: dict = {}
    exec(compile(learner.read_text(encoding="utf-8"), str(learner), "exec"), namespace)
    inside = namespace["slow"](sys._getframe)  # the learner's frame, at its line 2
    assert plugin._learner_line(inside, learner) == (str(learner), 2)
    assert "your code was still at attention.py:2 `return where()`" in \
        plugin._stopped_message(inside, learner)
    outside = sys._getframe()
    assert plugin._learner_line(outside, learner) is None
    assert "(the grader's own code" in plugin._stopped_message(outside, learner)
    assert plugin.STOP_IN_GRADER_EXIT == runner.STOP_IN_GRADER_EXIT != runner.CAUGHT_STOP_EXIT



def test_the_examples_a_check_draws_do_not_depend_on_the_learners_file(tmp_path, monkeypatch):
    """Hypothesis mixes constants it finds in "local" source files into its draws, and the
    learner's module is local: a line of numbers in it would steer the seeds a check draws. The
    grader's workers draw from the strategies alone."""
    from hypothesis import given, settings
    from hypothesis.internal.conjecture import providers

    from grader import plugin
    from grader.strategies import seeds

    steering = set(range(1_000_003, 1_000_003 + 7_919 * 1000, 7_919))
    (tmp_path / "steering_learner.py").write_text(
        f"SEEDS = ({', '.join(map(str, sorted(steering)))})\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, "steering_learner", __import__("steering_learner"))

    def steered_draws() -> set[int]:
        # the constants allowed per kind of draw are cached: start from an empty cache
        monkeypatch.setattr(providers, "CONSTANTS_CACHE", type(providers.CONSTANTS_CACHE)(1024))
        drawn: list[int] = []

        @settings(max_examples=300, derandomize=True, database=None)
        @given(seed=seeds())
        def draw(seed):
            drawn.append(seed)

        draw()
        return steering.intersection(drawn)

    assert steered_draws(), "Hypothesis no longer draws local constants: drop the workaround"
    monkeypatch.setattr(providers, "_get_local_constants", providers._get_local_constants)
    plugin._draw_no_constants_from_source()
    assert steered_draws() == set()
