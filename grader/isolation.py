"""The parent's side of worker isolation: who the worker runs as, and that nothing outlives it.

- Run as root (Gradescope, PrairieLearn, Docker, Codespaces), the runner picks a user id that no
  process has and no account names, and the worker becomes that user before any learner code
  exists (grader/worker.py). When the rung is graded, every process of that user is killed, so a
  daemon that called setsid() dies with the rest.
- Run as anyone, this process is a child subreaper (Linux): orphans of the worker are re-parented
  here instead of to init, and are killed once the rung is graded.
- On CUDA, where an address-space limit would stop CUDA itself, a watchdog sums the resident
  memory of the worker's processes and stops the run above the limit.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import stat
import sys
import sysconfig
import threading
import time
from collections.abc import Iterable
from functools import cache
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
UID_BASE = 0x30000  # 196608: far above the ids distributions hand out
UID_SPAN = 0x8000
NOBODY = 65534

PR_SET_DUMPABLE = 4
_spawned: set[int] = set()  # pids this process started as workers
_spawned_lock = threading.Lock()
_subreaper = False


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def become_subreaper() -> None:
    """Adopt the worker's orphans (Linux only; elsewhere the process group is all we end)."""
    global _subreaper
    if _subreaper or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        _subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except OSError:
        _subreaper = False


def refuse_ptrace() -> None:
    """Make this process non-dumpable: a worker running as the same user (no root to drop
    from) can then neither ptrace it nor read its memory through /proc, even where no Yama
    policy stops a process from tracing its parents."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except OSError:
        pass


def register(pid: int) -> None:
    with _spawned_lock:
        _spawned.add(pid)


def unregister(pid: int) -> None:
    with _spawned_lock:
        _spawned.discard(pid)


def _proc_entries() -> Iterable[tuple[int, int, int]]:
    """(pid, ppid, real uid) of every process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "status").read_text()
        except OSError:
            continue
        ppid = uid = -1
        for line in text.splitlines():
            if line.startswith("PPid:"):
                ppid = int(line.split()[1])
            elif line.startswith("Uid:"):
                uid = int(line.split()[1])
        yield int(entry.name), ppid, uid


def uid_in_use(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        pass
    return any(owner == uid for _, _, owner in _proc_entries())


def worker_uids() -> list[int]:
    """The uids a root worker should try, best first: a fresh one of its own, then nobody."""
    for _ in range(20):
        uid = UID_BASE + secrets.randbelow(UID_SPAN)
        if not uid_in_use(uid):
            return [uid, NOBODY]
    return [NOBODY]


def _world_reachable(path: Path) -> bool:
    """Can a user with no special rights search every directory down to `path` and read it?"""
    path = path.resolve()
    for part in [path, *path.parents]:
        try:
            mode = part.stat().st_mode
        except OSError:
            return False
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            return False
    try:
        return bool(path.stat().st_mode & stat.S_IROTH)
    except OSError:
        return False


@cache
def needs_read_search(repo_root: Path) -> bool:
    """Does the worker, once unprivileged, need CAP_DAC_READ_SEARCH to read Python and torch?"""
    places = {Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"]),
              Path(os.path.realpath(sys.executable)), repo_root}
    torch_spec = importlib.util.find_spec("torch")
    if torch_spec is not None and torch_spec.origin:
        places.add(Path(torch_spec.origin).parent)
    return not all(_world_reachable(place) for place in places)


def kill_uid(uid: int, rounds: int = 50) -> None:
    """Kill every process of `uid` (a uid of its own, never a shared one), forks included."""
    for _ in range(rounds):
        if not any(owner == uid for _, _, owner in _proc_entries()):
            return
        pid = os.fork()
        if pid == 0:  # the child becomes uid and signals all of its processes at once
            try:
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        _reap()
        time.sleep(0.01)


SCRATCH_PLACES = ("/tmp", "/var/tmp", "/dev/shm")


def entries_of(uids: Iterable[int],
               places: tuple[str, ...] = SCRATCH_PLACES) -> list[tuple[str, bool]]:
    """What these uids own in the shared scratch folders: (path, is a folder) each.

    A uid can only have created entries in folders it may write: its own (listed, not entered)
    and world-writable ones (searched); the rest of a busy /tmp is never walked."""
    owners = set(uids)
    found: list[tuple[str, bool]] = []
    pending = list(places)
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if info.st_uid in owners:
                found.append((entry.path, stat.S_ISDIR(info.st_mode)))
            elif stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_IWOTH:
                pending.append(entry.path)
    return found


def remove_files_of(uid: int, places: tuple[str, ...] = SCRATCH_PLACES) -> None:
    """Delete what a worker uid of its own left in the shared scratch folders (files that
    would fill the disk or hold memory in /dev/shm after the run)."""
    for path, is_folder in entries_of([uid], places):
        if is_folder:
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


def _descendants(root: int, table: list[tuple[int, int, int]]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid, _ in table:
        children.setdefault(ppid, []).append(pid)
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def kill_tree(pid: int) -> None:
    """Kill `pid` and everything below it."""
    table = list(_proc_entries())
    for victim in [pid, *_descendants(pid, table)]:
        try:
            os.kill(victim, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def kill_orphans() -> None:
    """Kill what the worker left behind and this process adopted as subreaper."""
    if not _subreaper:
        return
    for _ in range(20):
        me = os.getpid()
        with _spawned_lock:
            ours = set(_spawned)
        adopted = [pid for pid, ppid, _ in _proc_entries() if ppid == me and pid not in ours]
        adopted = [pid for pid in adopted if not _is_zombie(pid)]
        if not adopted:
            _reap()
            return
        for pid in adopted:
            kill_tree(pid)
        _reap()
        time.sleep(0.01)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def _reap() -> None:
    """Collect exited children that are not ours to wait for (adopted orphans)."""
    me = os.getpid()
    with _spawned_lock:
        ours = set(_spawned)
    for pid, ppid, _ in list(_proc_entries()):
        if ppid == me and pid not in ours and _is_zombie(pid):
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def resident_bytes(root: int, uid: int | None) -> int:
    """Memory of `root` and its descendants (or of every process of `uid`), each page shared
    by forked children counted once in all (proportional set size; resident size where the
    kernel has no smaps_rollup)."""
    table = list(_proc_entries())
    pids = ([pid for pid, _, owner in table if owner == uid] if uid is not None
            else [root, *_descendants(root, table)])
    total = sum(_memory_of(pid) for pid in pids)
    if uid is not None:  # files in /dev/shm are memory too, and outlive their writer
        total += _shm_bytes(uid)
    return total


def _shm_bytes(uid: int) -> int:
    total = 0
    for folder, _, files in os.walk("/dev/shm", followlinks=False):
        for name in files:
            try:
                info = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            if info.st_uid == uid:
                total += info.st_blocks * 512
    return total


def _memory_of(pid: int) -> int:
    for name, field in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
        try:
            for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            continue
    return 0
