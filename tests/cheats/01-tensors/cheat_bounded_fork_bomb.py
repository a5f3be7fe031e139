"""Class 7: a (bounded) fork bomb that outlives the run and ignores EXTRA_PROCESSES.

The runner caps RLIMIT_NPROC at "the user's processes now + 64". Linux does not enforce
RLIMIT_NPROC for root (CAP_SYS_RESOURCE/CAP_SYS_ADMIN), and the grader runs as root here (and
in Gradescope's container), so the cap is moot. 150 children are forked, each calls setsid()
(leaving the process group the runner kills), sleeps 25 s and exits: the run ends with 150
processes still alive. For safety the bomb is capped at 150 processes and 25 s; a real one
would not be. (As a normal user the cap would stop it at 64, but the setsid() children would
still outlive the run.)

Against c952621: TODO 0/10, exit 1 as expected for stubs, and 150 worker processes still
running after the grader exited (counted with ps); gone 25 s later.
"""

import os
import time

KATA_CHEAT = {"bare": {"status": ["error", "todo"], "message": ""},
              "expect": {"status": "error", "message": "import os: 01-tensors does not use `os`; its modules may imp"},
              "class": 7, "rung": "01-tensors", "worked": True,
              "observed": "150 setsid() processes left running after the grader exited (root: "
                          "RLIMIT_NPROC not enforced)"}

for _ in range(150):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        os.setsid()
        time.sleep(25)
        os._exit(0)


def _todo(*args, **kwargs):
    raise NotImplementedError("01-tensors")


pairwise_sq_distances = one_hot = broadcast_shape = sliding_windows = _todo
tensor_nbytes = batched_outer = _todo
