"""`kata watch`: re-check a rung every time its file is saved, in a warm worker.

The file is polled (its size and modification time, five times a second) rather than watched
through inotify: it is one file, a fifth of a second is well inside the 1.5 s a learner should
wait for a verdict, and polling also works where file events do not arrive (network mounts,
editors that replace the file, containers with bind-mounted folders), with no dependency.

On a terminal, single keys act at once: `h` the next hint of the failing task, `n` the next rung,
`s` the reference (after a pass), `q` quit. The screen is cleared before each verdict.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click

from grader import runner
from grader.catalog import Rung, rung_after
from grader.results import Result, RungResult

POLL_SECONDS = 0.2
KEYS = "h hint · n next rung · s solution (after a pass) · q quit"


@dataclass
class Watched:
    rung: Rung
    stamp: tuple[int, int] | None = None
    result: RungResult | None = None
    running: threading.Thread | None = None
    messages: list[str] = field(default_factory=list)


def file_stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


@contextlib.contextmanager
def single_keys() -> Iterator[bool]:
    """stdin in cbreak mode (keys without Enter) when it is a terminal; yields whether it is."""
    if not sys.stdin.isatty():
        yield False
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield True
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def read_key(timeout: float) -> str | None:
    ready, _, _ = select.select([sys.stdin], [], [], timeout)
    if not ready:
        return None
    key = os.read(sys.stdin.fileno(), 1).decode("utf-8", "replace")
    return key or None


def watch(rung: Rung, render: Callable[[RungResult], str],
          record: Callable[[Result], None], hint: Callable[[RungResult | None, Rung], str],
          solution: Callable[[Rung], str], once: bool = False) -> int:
    """Watch `rung`'s file until `q` (or Ctrl-C); `once` checks a single time and returns (for
    tests and scripts). Returns the exit code of the last verdict."""
    runner.start_warm_worker()
    state = Watched(rung)
    lock = threading.Lock()

    def check() -> None:
        started = time.monotonic()
        try:
            result, meta = runner.check_rung(state.rung)
        except runner.SetupError as exc:
            with lock:
                state.result = None
                state.messages = [f"kata: {exc}"]
            show()
            return
        with lock:
            state.result = result
            state.messages = []
        record(Result(rungs=[result], meta={"impl": "exercises", **meta}))
        show(time.monotonic() - started)

    def show(seconds: float | None = None) -> None:
        with lock:
            click.clear()
            where = f"exercises/{state.rung.id}/{state.rung.module}"
            took = f" · checked in {seconds:.1f} s" if seconds is not None else ""
            click.echo(click.style(f"kata watch · {state.rung.id}", bold=True)
                       + f" · {where}{took}")
            click.echo()
            if state.result is not None:
                click.echo(render(state.result))
            for message in state.messages:
                click.echo(message)
            click.echo()
            click.echo(click.style(KEYS, dim=True) + "  (saving the file checks it again)")

    def start_check() -> None:
        with lock:
            if state.running is not None and state.running.is_alive():
                return
            state.stamp = file_stamp(state.rung.exercise_path)
            state.running = threading.Thread(target=check, daemon=True)
            state.running.start()

    start_check()
    if once:
        assert state.running is not None
        state.running.join()
        return 0 if state.result is not None and state.result.status == "pass" else 1
    with single_keys() as keys:
        while True:
            key = read_key(POLL_SECONDS) if keys else None
            if not keys:
                time.sleep(POLL_SECONDS)
            if key == "q":
                break
            if key == "h":
                with lock:
                    state.messages = [hint(state.result, state.rung)]
                show()
            elif key == "n":
                nxt = rung_after(state.rung.id)
                if nxt is None:
                    with lock:
                        state.messages = ["This is the last rung; there is no next one."]
                    show()
                else:
                    with lock:
                        state.rung, state.result = nxt, None
                    start_check()
            elif key == "s":
                with lock:
                    passed = state.result is not None and state.result.status == "pass"
                    state.messages = [solution(state.rung) if passed else
                                      "The reference opens once this rung passes "
                                      f"(or: kata solution {state.rung.id} --force)."]
                show()
            running = state.running is not None and state.running.is_alive()
            if not running and file_stamp(state.rung.exercise_path) != state.stamp:
                start_check()
    result = state.result
    return 0 if result is not None and result.status == "pass" else 1
