"""The line a waiting learner sees: which rungs are being checked, how many are done, how long it
has taken. Only on a terminal (stderr); rewritten in place and cleared before a verdict prints."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class ProgressLine:
    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.total = total
        self.done = 0
        self.running: list[str] = []
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self._shown = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True)

    def __enter__(self) -> ProgressLine:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.clear()

    def rung_started(self, rung_id: str) -> None:
        with self.lock:
            self.running.append(rung_id)

    def rung_done(self, rung_id: str) -> None:
        with self.lock:
            if rung_id in self.running:
                self.running.remove(rung_id)
            self.done += 1

    def clear(self) -> None:
        with self.lock:
            if self._shown:
                self.stream.write("\r\x1b[2K")
                self.stream.flush()
                self._shown = False

    def _tick(self) -> None:
        while not self._stop.wait(0.25):
            with self.lock:
                now = ", ".join(self.running) or "…"
                text = (f"checking {now} · {self.done}/{self.total} done · "
                        f"{time.monotonic() - self.started:.0f} s")
                width = 79
                self.stream.write("\r\x1b[2K" + text[:width])
                self.stream.flush()
                self._shown = True
