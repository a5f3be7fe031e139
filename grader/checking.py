"""How a `kata check` is graded: in the per-checkout server when there is one to be had, else in
this process, through a warm worker when several rungs share it; cold (a fresh Python per rung)
with `--cold`. The result is the same whichever way: only the start-up differs."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader import runner
from grader.catalog import Rung
from grader.results import Result, RungResult


@dataclass(frozen=True)
class Request:
    rungs: tuple[Rung, ...]
    impl: str = "exercises"
    device: str = "cpu"
    timeout: float | None = None
    require_gpu: bool = False
    task: str | None = None
    jobs: int = 1


def server_wanted(cold: bool) -> bool:
    """The server is for people at a terminal: on there unless `--cold` or KATA_SERVER=0;
    KATA_SERVER=1 turns it on anywhere (a one-shot autograder run needs no daemon left behind)."""
    setting = os.environ.get("KATA_SERVER", "")
    if cold or setting == "0":
        return False
    if setting == "1":
        return True
    return sys.stderr.isatty() and not os.environ.get("CI")


def default_jobs(count: int) -> int:
    return max(1, min(count, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else (os.cpu_count() or 1)))


def grade(request: Request, cold: bool = False,
          on_start: Callable[[str], None] | None = None,
          on_done: Callable[[RungResult], None] | None = None) -> Result:
    """Grade as asked; SetupError and GradingInterrupted come through as the runner raises them."""
    started = on_start or (lambda rung_id: None)
    finished = on_done or (lambda rung: None)
    impl = request.impl
    if impl not in ("exercises", "reference"):
        impl = str(Path(impl).expanduser().absolute())  # the server's cwd is not ours
    if server_wanted(cold):
        from grader import server

        try:
            return server.check_via_server(
                {"rungs": [r.id for r in request.rungs], "impl": impl, "device": request.device,
                 "timeout": request.timeout, "require_gpu": request.require_gpu,
                 "task": request.task, "jobs": request.jobs},
                on_start=started, on_done=finished)
        except server.ServerUnavailable as exc:
            print(f"kata: the check server is not available ({exc}); checking without it",
                  file=sys.stderr)
    if not cold and len(request.rungs) > 1:
        runner.start_warm_worker()
    return runner.check_rungs(list(request.rungs), impl=impl, device=request.device,
                              timeout=request.timeout, require_gpu=request.require_gpu,
                              task=request.task, jobs=request.jobs,
                              on_start=lambda rung: started(rung.id), on_done=finished)
