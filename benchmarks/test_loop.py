"""The learner's loop, timed as a learner meets it: whole `kata` commands in fresh processes,
each against a bare `python -c "import torch"` timed in the same test, round by round.

Every benchmark stores `ratio_to_import_torch` (median of the command over median of the bare
import) in its extra_info; `python -m benchmarks.report FILE.json` turns a `--benchmark-json`
file into the table of docs/benchmarks.md. Nothing here asserts a time: the targets are
documented, not tested (a loaded machine must not fail a build).

    make bench-loop
"""

from __future__ import annotations

import os
import pty
import select
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from grader import server
from grader.catalog import REPO_ROOT, resolve

KATA = [sys.executable, "-m", "grader"]
ROUNDS = 5


def _run(command: list[str], **env: str) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO_ROOT, env={**os.environ, **env}, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def _import_torch() -> float:
    return _run([sys.executable, "-c", "import torch"])


def _compare(benchmark, subject: Callable[[], float], rounds: int = ROUNDS) -> None:
    """Time `subject` and the bare import alternately; record both and their ratio."""
    bare: list[float] = []
    own: list[float] = []

    def one_round() -> None:
        bare.append(_import_torch())
        own.append(subject())

    benchmark.pedantic(one_round, rounds=rounds, iterations=1, warmup_rounds=1)
    ratio = statistics.median(own) / statistics.median(bare)
    benchmark.extra_info.update(
        median_s=round(statistics.median(own), 3),
        import_torch_s=round(statistics.median(bare), 3),
        ratio_to_import_torch=round(ratio, 2))
    print(f"\n{benchmark.name}: {statistics.median(own):.2f} s, "
          f"{ratio:.2f}x a bare import torch ({statistics.median(bare):.2f} s)")


@pytest.fixture(scope="module")
def check_server():
    """A running, current server for this checkout, stopped after."""
    env = {"KATA_SERVER": "1"}
    _run([*KATA, "check", "01", "--impl", "reference"], **env)
    assert server.state()["running"]
    yield env
    server.stop()


@pytest.mark.parametrize("rung_id", ["07-modules", "08-attention"])
def test_warm_check(benchmark, check_server, rung_id):
    _compare(benchmark, lambda: _run([*KATA, "check", rung_id, "--impl", "reference"],
                                     **check_server))


@pytest.mark.parametrize("rung_id", ["07-modules", "08-attention"])
def test_cold_check(benchmark, rung_id):
    _compare(benchmark, lambda: _run([*KATA, "check", rung_id, "--impl", "reference", "--cold"],
                                     KATA_SERVER="0"))


def test_warm_check_all(benchmark, check_server):
    _compare(benchmark, lambda: _run([*KATA, "check", "--all", "--impl", "reference"],
                                     **check_server), rounds=3)


class _Screen:
    """What a pseudo-terminal's program has written, read up to a wanted text at a time."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending = b""

    def until(self, wanted: bytes, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while wanted not in self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {wanted!r} from kata watch; got {self.pending[-300:]!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    self.pending += os.read(self.fd, 1 << 16)
                except OSError:
                    break
        self.pending = self.pending.split(wanted, 1)[1]


def test_watch_from_save_to_verdict(benchmark):
    """`kata watch 01` on a terminal: from the file's modification time changing to the first
    line of the new verdict on the screen (the file's content is left as it is)."""
    rung = resolve("01-tensors")
    path: Path = rung.exercise_path
    main, child = pty.openpty()
    process = subprocess.Popen([*KATA, "watch", rung.id], cwd=REPO_ROOT, stdin=child,
                               stdout=child, stderr=child, env={**os.environ, "NO_COLOR": "1"})
    os.close(child)
    verdict_line = f"{rung.id} · ".encode()
    screen = _Screen(main)
    try:
        screen.until(verdict_line)
        screen.until(b"q quit")
        bare: list[float] = []
        own: list[float] = []

        def one_round() -> None:
            bare.append(_import_torch())
            info = path.stat()
            started = time.perf_counter()
            os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))
            screen.until(verdict_line)
            own.append(time.perf_counter() - started)
            screen.until(b"q quit")

        benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
        benchmark.extra_info.update(
            median_s=round(statistics.median(own), 3),
            import_torch_s=round(statistics.median(bare), 3),
            ratio_to_import_torch=round(statistics.median(own) / statistics.median(bare), 2))
    finally:
        os.write(main, b"q")
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        os.close(main)
