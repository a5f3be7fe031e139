"""The warm worker: a process that has imported torch and the grader once, and forks a fresh
child for every rung run.

A cold worker pays for `import torch`, pytest and Hypothesis (about 1.5 s idle, far more on a
loaded machine) before a spec even starts. The zygote pays once. It is started by the runner
(`python -P -m grader.zygote`) with the environment every worker gets (thread counts, malloc
settings, hash seed: things read when a process or a library starts), imports what every run
needs, never touches CUDA and never runs learner code. Then it waits on a socket for requests.

Each request carries a worker's environment and working directory, and three file descriptors
(result channel, nonce pipe, output file) passed with SCM_RIGHTS. The zygote forks; the child
starts a session of its own, keeps only those descriptors (the zygote's socket among the closed
ones, so learner code can never ask for anything), takes the run's environment, and then does
exactly what `python -m grader.worker` does: limits, privilege drop, pytest. The zygote replies
with the child's pid and, when the child ends, its exit code. It is a child subreaper, so what a
worker leaves behind comes to it, and on request it kills every such orphan.

`Zygote` below is the runner's side: a Popen-like handle per child (`ForkedWorker`), safe to use
from several threads at once (`kata check --all` runs rungs in parallel).
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

PRELOAD = ("torch", "torch.nn.functional", "torch._dynamo", "numpy", "pytest", "hypothesis",
           "grader.plugin", "grader.worker", "grader.harness.candidate", "grader.harness.compare",
           "grader.harness.sandbox", "grader.harness.speed", "grader.harness.structure",
           "grader.strategies")
# The hf extra, where it is installed: 09's and 12's specs import these (1.3-2 s, as long as a
# whole check of those rungs), and only these names load the modules behind transformers' lazy
# top level. Importing them reads no file under HF_HOME and writes nothing.
PRELOAD_IF_INSTALLED = {"tokenizers": (), "transformers": (
    "AutoModelForCausalLM", "AutoTokenizer", "GPT2Config", "GPT2LMHeadModel", "PreTrainedModel",
    "PreTrainedTokenizerBase", "PreTrainedTokenizerFast")}
MAX_MESSAGE = 1 << 20
RESULT_FD, NONCE_FD = 3, 4  # where the child finds its two pipes
STARTUP_TIMEOUT = 120.0
SPAWN_SECONDS = 10.0  # a fork takes milliseconds; a zygote this slow (stopped?) is not used


# --- the zygote process ------------------------------------------------------------------------


def _serve(sock: socket.socket) -> None:
    from grader import isolation

    isolation.become_subreaper()
    workers: set[int] = set()
    sock.setblocking(False)
    buffer = b""
    pending: list[int] = []  # descriptors that came with a request not yet read whole
    while True:
        readable, _, _ = select.select([sock], [], [], 0.05)
        if readable:
            try:
                data, fds, _flags, _addr = socket.recv_fds(sock, MAX_MESSAGE, 8)
            except BlockingIOError:
                data, fds = b"", []
            except OSError:
                return
            pending += fds
            if not data and not fds:
                return  # the runner is gone
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                request = json.loads(line)
                if request.get("op") == "spawn" and len(pending) >= 3:
                    pid = _fork_worker(request, pending[:3])
                    pending = pending[3:]
                    workers.add(pid)
                    _send(sock, {"id": request["id"], "pid": pid})
                elif request.get("op") == "reap":
                    _kill_orphans(workers)
                    _send(sock, {"id": request["id"], "reaped": True})
                else:
                    _send(sock, {"id": request.get("id"), "error": "bad request"})
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in workers:
                workers.discard(pid)
                _send(sock, {"exit": pid, "code": os.waitstatus_to_exitcode(status)})


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    data = json.dumps(message).encode() + b"\n"
    sock.setblocking(True)
    try:
        sock.sendall(data)
    finally:
        sock.setblocking(False)


def _kill_orphans(workers: set[int], rounds: int = 20) -> None:
    """Every child of the zygote that is not a worker it forked came from a worker: kill it and
    everything below it, and look again until none is left (what dies re-parents its own
    children here, and a process may fork while it is being looked at)."""
    me = os.getpid()
    for _ in range(rounds):
        children: dict[int, list[int]] = {}
        zombies: set[int] = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            if fields[0] == "Z":
                zombies.add(int(entry.name))
        orphans = [pid for pid in children.get(me, []) if pid not in workers]
        if not [pid for pid in orphans if pid not in zombies]:
            break
        victims, below = [], list(orphans)
        while below:  # an orphan's whole tree: a grandchild is no worker's either
            pid = below.pop()
            victims.append(pid)
            below += children.get(pid, [])
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for pid in orphans:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        time.sleep(0.01)


def _fork_worker(request: dict[str, Any], fds: list[int]) -> int:
    channel, nonce, output = fds
    pid = os.fork()
    if pid:
        for fd in fds:
            os.close(fd)
        return pid
    code = 70
    try:
        os.setsid()
        import ctypes
        import ctypes.util

        # a worker is dumpable, as a fresh Python would be (its /proc entries its own)
        ctypes.CDLL(ctypes.util.find_library("c") or None).prctl(4, 1, 0, 0, 0)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        # out of the way of 0-4 first, whatever numbers they arrived with
        channel, nonce, output = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 16) for fd in fds)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.dup2(channel, RESULT_FD, inheritable=False)
        os.dup2(nonce, NONCE_FD, inheritable=False)
        os.closerange(NONCE_FD + 1, os.sysconf("SC_OPEN_MAX"))  # the zygote's socket too
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ["KATA_RESULT_FD"] = str(RESULT_FD)
        os.environ["KATA_NONCE_FD"] = str(NONCE_FD)
        os.chdir(request["cwd"])
        import gc
        import tempfile

        gc.enable()
        tempfile.tempdir = None  # TMPDIR is the run's own now
        from grader import worker

        code = worker.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001  a forked child must never return into the zygote
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    return 0  # not reached


def main() -> int:
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG: the runner gone, the zygote goes too
    libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no worker of this user may trace it
    sock = socket.socket(fileno=int(os.environ.pop("KATA_ZYGOTE_FD")))
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    for name, attributes in PRELOAD_IF_INSTALLED.items():
        try:  # not installed, or a version without one of these names: its spec says so itself
            module = importlib.import_module(name)
            for attribute in attributes:
                getattr(module, attribute)
        except Exception:  # noqa: BLE001  a preload only saves time; it must never stop the zygote
            continue
    # From here on the grader is reached through its real folder, not the link in the zygote's
    # own path folder (which a plain user's worker could write), and that folder is off sys.path.
    import grader

    grader.__path__[:] = [str(Path(grader.__file__).resolve().parent)]
    linked = os.environ.get("PYTHONPATH", "")
    sys.path[:] = [entry for entry in sys.path if entry != linked]
    import gc

    # what every child shares stays out of its garbage collector's way (and out of its
    # copy-on-write pages): a pre-fork server's standard move
    gc.disable()
    gc.freeze()
    _send(sock, {"ready": os.getpid()})
    _serve(sock)
    return 0


# --- the runner's side -------------------------------------------------------------------------


class ZygoteGone(Exception):
    """The zygote died or never started; the caller falls back to a cold worker."""


class ForkedWorker:
    """A worker forked by the zygote, with the part of Popen's interface the runner uses."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self.zygote = zygote
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.zygote.exit_code(self.pid, 0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self.zygote.exit_code(self.pid, timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0)
        return self.returncode


class Zygote:
    """The runner's handle on one zygote process."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = {**env, "KATA_ZYGOTE_FD": str(theirs.fileno())}
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-m", "grader.zygote"], cwd=cwd, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(theirs.fileno(),), start_new_session=True)
        theirs.close()
        self.cwd = cwd
        self.sock = ours
        self._send_lock = threading.Lock()
        self._changed = threading.Condition()
        self._replies: dict[int, dict[str, Any]] = {}
        self._exits: dict[int, int] = {}
        self._next_id = 0
        self.alive = True
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True, name="kata-zygote")
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        try:
            while True:
                data = self.sock.recv(1 << 16)
                if not data:
                    break
                buffer += data
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    message = json.loads(line)
                    with self._changed:
                        if "ready" in message:
                            self.ready.set()
                        elif "exit" in message:
                            self._exits[int(message["exit"])] = int(message["code"])
                        else:
                            self._replies[int(message["id"])] = message
                        self._changed.notify_all()
        except (OSError, ValueError):
            pass
        with self._changed:
            self.alive = False
            self.ready.set()
            self._changed.notify_all()

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> bool:
        self.ready.wait(timeout)
        return self.alive and self.ready.is_set()

    def _request(self, request: dict[str, Any], fds: list[int] | None = None,
                 timeout: float = 30.0) -> dict[str, Any]:
        with self._send_lock:
            self._next_id += 1
            ident = self._next_id
            data = json.dumps({**request, "id": ident}).encode() + b"\n"
            try:
                if fds:
                    socket.send_fds(self.sock, [data], fds)
                else:
                    self.sock.sendall(data)
            except OSError as exc:
                raise ZygoteGone(str(exc)) from None
        deadline = time.monotonic() + timeout
        with self._changed:
            while ident not in self._replies:
                left = deadline - time.monotonic()
                if not self.alive or left <= 0:
                    raise ZygoteGone("the zygote did not answer")
                self._changed.wait(left)
            return self._replies.pop(ident)

    def spawn(self, env: dict[str, str], cwd: Path, channel: int, nonce: int,
              output: int) -> ForkedWorker:
        if not self.wait_ready():
            raise ZygoteGone("the zygote did not start")
        try:
            reply = self._request({"op": "spawn", "env": env, "cwd": str(cwd)},
                                  [channel, nonce, output], timeout=SPAWN_SECONDS)
        except ZygoteGone:
            self.close()  # stopped or stuck: the runner starts a fresh one next time
            raise
        if not isinstance(reply.get("pid"), int):
            raise ZygoteGone(f"the zygote refused: {reply.get('error')}")
        return ForkedWorker(self, reply["pid"])

    def reap(self) -> None:
        """Kill what finished workers left behind (orphans the zygote adopted)."""
        try:
            self._request({"op": "reap"}, timeout=10.0)
        except ZygoteGone:
            pass

    def exit_code(self, pid: int, timeout: float | None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while pid not in self._exits:
                if not self.alive:
                    return -signal.SIGKILL  # gone with the zygote (PDEATHSIG)
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._changed.wait(left)
            return self._exits.pop(pid)

    def close(self) -> None:
        self.alive = False
        try:
            self.sock.close()
        except OSError:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


if __name__ == "__main__":
    sys.exit(main())
