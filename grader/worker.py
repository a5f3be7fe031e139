"""The worker: `python -P -m grader.worker` runs one rung's spec in a process of its own.

The runner starts it with its whole configuration in `KATA_WORKER` (JSON). Before anything else,
while no learner code is loaded, the worker limits itself (CPU time, memory, output, processes,
no core files) and, when it was started as root, becomes an unprivileged user of its own: from
then on it cannot write the grader's files, read the parent's private `/proc` entries or signal
it, and `RLIMIT_NPROC` binds. Then it runs pytest with the grader's plugin, which loads the spec
and the reference, tells the parent every check it will run, and only then imports learner code.

`-P` keeps the working directory off `sys.path`, so no file a learner controls is importable by
name. Where Python's own files are not readable by other users (a Python under /root), the worker
keeps one capability, CAP_DAC_READ_SEARCH: it may read and search files, nothing else.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import resource
import sys
from typing import Any

PR_SET_KEEPCAPS = 8
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1
CAP_DAC_READ_SEARCH = 2
LINUX_CAPABILITY_VERSION_3 = 0x20080522
NOBODY = 65534


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _libc() -> Any:
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def apply_limits(config: dict[str, Any]) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cpu = int(config["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (config["output_bytes"], config["output_bytes"]))
    if config.get("memory_bytes"):
        resource.setrlimit(resource.RLIMIT_AS, (config["memory_bytes"], config["memory_bytes"]))
    _soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    wanted = int(config["processes"])
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NPROC, (wanted, hard))


def _keep_only_read_search(libc: Any) -> None:
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    data[0].effective = data[0].permitted = 1 << CAP_DAC_READ_SEARCH
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def drop_privileges(uids: list[int], keep_read: bool, own: list[str]) -> dict[str, Any]:
    """Become the first of `uids` that the kernel accepts, owning the folders in `own`; say
    what happened."""
    if os.geteuid() != 0:
        return {"dropped": False, "reason": "not root", "uid": os.getuid()}
    libc = _libc()
    last_error = ""
    for uid in uids:
        try:
            for path in own:  # the run's home, writable by whichever uid this turns out to be
                os.chown(path, uid, uid)
            if keep_read:
                libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        except OSError as exc:  # a user namespace that does not map this uid: try the next
            last_error = f"{type(exc).__name__}: {exc}"
            continue
        if keep_read:
            _keep_only_read_search(libc)
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        if os.getuid() != uid or os.geteuid() != uid:
            raise SystemExit(f"kata worker: could not become uid {uid}")
        return {"dropped": True, "uid": uid, "read_search": keep_read}
    return {"dropped": False, "reason": f"setuid failed ({last_error})", "uid": os.getuid()}


def main() -> int:
    config = json.loads(os.environ.pop("KATA_WORKER"))
    apply_limits(config)
    status = {"dropped": False, "reason": "not asked", "uid": os.getuid()}
    if config.get("uids"):
        status = drop_privileges(config["uids"], bool(config.get("keep_read")),
                                 list(config.get("own", [])))
    os.environ["KATA_PRIVILEGES"] = json.dumps(status)
    _libc().prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # the parent gone means nobody reads the result
    os.chdir(config["home"])
    import gc

    import hypothesis  # noqa: F401  imported now, so that the freeze below covers them
    import pytest
    import torch  # noqa: F401

    import grader.plugin  # noqa: F401

    # Everything imported so far lives as long as the process: keep it out of the garbage
    # collector's rounds, which otherwise walk all of torch again and again during the checks
    # (a forked worker has this from the zygote).
    gc.freeze()
    return int(pytest.main(config["pytest_args"]))


if __name__ == "__main__":
    sys.exit(main())
