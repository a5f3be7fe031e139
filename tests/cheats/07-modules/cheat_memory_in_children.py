"""Class 7: the 4 GiB memory limit is per process: children multiply it, and outlive the run.

RLIMIT_AS (4 GiB, CPU runs only) is inherited by every child, each with its own 4 GiB. The
module forks 4 setsid() children; each allocates and touches 1.2 GB and holds it for 12 s,
well after the worker has ended and the runner has killed its process group. The worker
measures their summed resident size while they hold it and writes it to
/tmp/kata_cheat_memory.txt for the record. Bounded for this machine: 4 x 1.2 GB, 12 s; nothing
stops 60 x 4 GiB. (On CUDA runs there is no memory limit at all.)

Against c952621: TODO 0/15 as expected for stubs; after the grader had returned, ps showed the
4 children alive with 1.34 GB resident each, 5.4 GB together (the limit says 4 GiB); they
exited on their own ~10 s later. (The in-run measurement, taken while they were still filling
their blocks, read 3.49 GB.)
"""

import os
import time

KATA_CHEAT = {"expect": {"status": "error", "message": "import os: 07-modules does not use `os`; its modules may imp"},
              "class": 7, "rung": "07-modules", "worked": True,
              "observed": "4 children held 5.4 GB RSS together past the 4 GiB limit, outliving "
                          "the run by ~10 s"}

_children = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        os.setsid()
        try:
            block = bytearray(1_200_000_000)
            for i in range(0, len(block), 4096):
                block[i] = 1
            time.sleep(12)
        finally:
            os._exit(0)
    _children.append(pid)

time.sleep(4)
_total = 0
for pid in _children:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    _total += int(line.split()[1]) * 1024
    except OSError:
        pass
with open("/tmp/kata_cheat_memory.txt", "w") as report:
    report.write(f"children resident together: {_total / 1e9:.2f} GB\n")


def _todo(*args, **kwargs):
    raise NotImplementedError("07-modules")


class _Todo:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("07-modules")


Linear = Embedding = LayerNorm = Dropout = GELU = _Todo
param_count = _todo
