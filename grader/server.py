"""The check server: one background process per checkout that keeps a warm worker, so that
`kata check` costs a fork, not a Python start and `import torch` (the way dmypy and the Gradle
daemon work).

The first `kata check` on a terminal starts it (`python -m grader.server`, detached, its log in
`.kata/server.log`). It listens on a Unix socket in a folder only its user may enter, grades what
a client asks with the same runner as a cold check (grader/runner.py: source rules, isolation,
the manifest protocol; the zygote only saves the start-up), and streams each rung's result back
as soon as it is known. It exits after IDLE_SECONDS without a request, and a client replaces it
when it was started from other grader code, another catalog or another `.venv` (its `identity`).
A client that goes away (Ctrl-C) cancels its run: the worker is killed at once.

The server trusts nothing a worker sends any more than a cold check does; it holds no learner
code, only the runner. Off with `kata check --cold` or `KATA_SERVER=0`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from grader.catalog import PACKAGE_DIR, REPO_ROOT, resolve
from grader.results import Result, RungResult, TestResult

IDLE_SECONDS = 15 * 60
START_SECONDS = 60.0
PROTOCOL = 1


class ServerUnavailable(Exception):
    """No server could be reached or started; the caller grades in its own process."""


def identity() -> str:
    """What the server must have been started from: the grader's code, its catalog, the .venv
    and the interpreter, and the settings a worker inherits from the environment."""
    digest = hashlib.sha256(f"{PROTOCOL} {sys.executable} {REPO_ROOT}".encode())
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if path.suffix in (".py", ".toml", ".json") and "__pycache__" not in path.parts:
            digest.update(str(path).encode())
            with contextlib.suppress(OSError):
                digest.update(path.read_bytes())
    stamp = Path(sys.prefix) / ".kata-installed"
    with contextlib.suppress(OSError):
        digest.update(stamp.read_bytes())
    for key in ("CUDA_VISIBLE_DEVICES", "PATH", "LD_LIBRARY_PATH"):
        digest.update(f"{key}={os.environ.get(key, '')}".encode())
    return digest.hexdigest()[:32]


def socket_path() -> Path:
    """A per-user folder (0700) under XDG_RUNTIME_DIR or /tmp; one socket per checkout."""
    base = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    folder = Path(base) / f"kata-{os.getuid()}"
    name = hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:16]
    return folder / f"{name}.sock"


def _private_folder(folder: Path) -> None:
    """Create the socket's folder, or refuse one that another user could reach."""
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077 or not folder.is_dir() \
            or folder.is_symlink():
        raise ServerUnavailable(f"{folder} is not a private folder of this user")


def log_path() -> Path:
    return REPO_ROOT / ".kata" / "server.log"


# --- client ------------------------------------------------------------------------------------


def _connect(path: Path) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None
    return sock


def _lines(sock: socket.socket) -> Iterator[dict[str, Any]]:
    buffer = b""
    while True:
        data = sock.recv(1 << 16)
        if not data:
            return
        buffer += data
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            yield json.loads(line)


def _ask(sock: socket.socket, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    sock.sendall(json.dumps(request).encode() + b"\n")
    return _lines(sock)


def state() -> dict[str, Any]:
    """Whether this checkout's server runs, its pid, age and whether it is current."""
    path = socket_path()
    sock = _connect(path)
    if sock is None:
        return {"running": False, "socket": str(path)}
    with sock:
        try:
            reply = next(_ask(sock, {"op": "status"}), {})
        except (OSError, ValueError):
            reply = {}
    return {"running": True, "socket": str(path), **reply,
            "current": reply.get("identity") == identity()}


def describe_state() -> str:
    """One line for `kata doctor`."""
    from grader.checking import server_wanted

    wanted = server_wanted(cold=False)
    used = "used" if wanted else "not used here (no terminal, CI or KATA_SERVER=0)"
    found = state()
    if not found["running"]:
        return ("Check server: not running; " + ("the next kata check at a terminal starts it"
                                                 if wanted else used))
    age = time.time() - float(found.get("since", time.time()))
    current = "current" if found.get("current") else "stale: the next check replaces it"
    return (f"Check server: pid {found.get('pid')}, up {age / 60:.0f} min, {current}, warm worker "
            f"{'ready' if found.get('warm') else 'not running'}; {used}; "
            f"log {log_path()}")


def stop() -> bool:
    """Ask this checkout's server to exit; True when one was running."""
    sock = _connect(socket_path())
    if sock is None:
        return False
    with sock:
        with contextlib.suppress(OSError, ValueError):
            list(_ask(sock, {"op": "stop"}))
    return True


def _start() -> None:
    path = socket_path()
    _private_folder(path.parent)
    log = log_path()
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        subprocess.Popen([sys.executable, "-m", "grader.server"], cwd=REPO_ROOT,
                         stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                         start_new_session=True, close_fds=True)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        sock = _connect(path)
        if sock is not None:
            sock.close()
            return
        time.sleep(0.05)
    raise ServerUnavailable(f"the check server did not start; see {log}")


def _connected() -> socket.socket:
    """A connection to a current server, starting (or replacing) one as needed."""
    wanted = identity()
    for _attempt in range(4):
        sock = _connect(socket_path())
        if sock is None:
            _start()
            continue
        try:
            hello = next(_ask(sock, {"op": "hello", "identity": wanted}), {})
        except (OSError, ValueError):
            hello = {}
        if hello.get("identity") == wanted:
            return sock
        sock.close()  # another grader's server: it exits once its runs are done
        with contextlib.suppress(OSError):
            socket_path().unlink()
    raise ServerUnavailable("could not reach a current check server")


def check_via_server(request: dict[str, Any], on_start: Callable[[str], None],
                     on_done: Callable[[RungResult], None]) -> Result:
    """Grade as `runner.check_rungs` would, in the server. Raises ServerUnavailable when no
    server can be had (the caller then grades itself), SetupError as the runner does."""
    from grader.runner import GradingInterrupted, SetupError

    try:
        sock = _connected()
    except (OSError, ServerUnavailable) as exc:
        raise ServerUnavailable(str(exc)) from None
    with sock:
        try:
            for message in _ask(sock, {"op": "check", **request}):
                if "started" in message:
                    on_start(str(message["started"]))
                elif "rung" in message:
                    on_done(rung_from_dict(message["rung"]))
                elif "result" in message:
                    return Result(rungs=[rung_from_dict(r) for r in message["result"]["rungs"]],
                                  meta=message["result"]["meta"])
                elif "setup_error" in message:
                    raise SetupError(str(message["setup_error"]))
                elif "interrupted" in message:
                    raise GradingInterrupted(str(message["interrupted"]))
                elif "failed" in message:
                    raise ServerUnavailable(str(message["failed"]))
        except (OSError, ValueError) as exc:
            raise ServerUnavailable(f"the check server went away ({exc})") from None
    raise ServerUnavailable("the check server went away before the result")


def rung_from_dict(data: dict[str, Any]) -> RungResult:
    fields = {f.name for f in dataclasses.fields(RungResult)}
    test_fields = {f.name for f in dataclasses.fields(TestResult)}
    rung = RungResult(**{k: v for k, v in data.items() if k in fields and k != "tests"})
    rung.tests = [TestResult(**{k: v for k, v in t.items() if k in test_fields})
                  for t in data.get("tests", [])]
    return rung


# --- server ------------------------------------------------------------------------------------


class Server:
    def __init__(self, path: Path) -> None:
        from grader import runner

        self.runner = runner
        self.identity = identity()
        self.path = path
        self.started = time.time()
        self.last_used = time.monotonic()
        self.active = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        runner.start_warm_worker()

    def serve(self) -> None:
        _private_folder(self.path.parent)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            listener.bind(str(self.path))
        finally:
            os.umask(old_umask)
        self.inode = os.stat(self.path).st_ino
        listener.listen(16)
        listener.settimeout(1.0)
        print(f"kata server {os.getpid()} listening on {self.path}", flush=True)
        try:
            while not self.stopping.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    if self._idle():
                        break
                    continue
                threading.Thread(target=self._handle, args=(conn,), daemon=True).start()
        finally:
            listener.close()
            while self.active:  # runs in flight finish first
                time.sleep(0.1)
            with contextlib.suppress(OSError):
                if os.stat(self.path).st_ino == self.inode:
                    self.path.unlink()
            self.runner.stop_warm_worker()

    def _idle(self) -> bool:
        with self.lock:
            if self.active:
                return False
            if time.monotonic() - self.last_used > IDLE_SECONDS:
                return True
        try:
            return os.stat(self.path).st_ino != self.inode  # a newer server took over
        except OSError:
            return True  # a client removed the socket to replace this server

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                reader = _lines(conn)
                for request in reader:
                    if not self._answer(conn, request, reader):
                        return
            except (OSError, ValueError):
                return

    def _send(self, conn: socket.socket, message: dict[str, Any]) -> None:
        conn.sendall(json.dumps(message).encode() + b"\n")

    def _answer(self, conn: socket.socket, request: dict[str, Any],
                reader: Iterator[dict[str, Any]]) -> bool:
        op = request.get("op")
        if op == "hello":
            self._send(conn, {"identity": self.identity})
            if request.get("identity") != self.identity:
                self.stopping.set()  # superseded: finish what runs, take nothing new
            return True
        if op == "status":
            self._send(conn, {"pid": os.getpid(), "identity": self.identity,
                              "since": self.started, "active": self.active,
                              "warm": self.runner.warm_worker_running()})
            return False
        if op == "stop":
            self.stopping.set()
            self._send(conn, {"stopping": True})
            return False
        if op == "check":
            self._check(conn, request)
            return False
        self._send(conn, {"failed": f"unknown request {op!r}"})
        return False

    def _check(self, conn: socket.socket, request: dict[str, Any]) -> None:
        runner = self.runner
        cancel = threading.Event()

        def watch_client() -> None:  # the client closing its end (Ctrl-C) cancels the run
            with contextlib.suppress(OSError):
                while conn.recv(1 << 12):
                    pass
            cancel.set()

        threading.Thread(target=watch_client, daemon=True).start()
        with self.lock:
            self.active += 1
        try:
            rungs = [resolve(name) for name in request["rungs"]]
            result = runner.check_rungs(
                rungs, impl=request["impl"], device=request["device"],
                timeout=request.get("timeout"), require_gpu=bool(request.get("require_gpu")),
                task=request.get("task"), jobs=int(request.get("jobs", 1)),
                on_start=lambda rung: self._send(conn, {"started": rung.id}),
                on_done=lambda rung: self._send(conn, {"rung": dataclasses.asdict(rung)}),
                cancel=cancel)
            self._send(conn, {"result": {"meta": result.meta,
                                         "rungs": [dataclasses.asdict(r) for r in result.rungs]}})
        except runner.SetupError as exc:
            with contextlib.suppress(OSError):
                self._send(conn, {"setup_error": str(exc)})
        except runner.GradingInterrupted as exc:
            with contextlib.suppress(OSError):
                self._send(conn, {"interrupted": exc.where})
        except OSError:
            cancel.set()
        except Exception as exc:  # noqa: BLE001  the client falls back to a cold check
            with contextlib.suppress(OSError):
                self._send(conn, {"failed": f"{type(exc).__name__}: {exc}"})
        finally:
            with self.lock:
                self.active -= 1
                self.last_used = time.monotonic()


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in the terminal that started it
    Server(socket_path()).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
