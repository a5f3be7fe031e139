"""Class 6: signals to os.getppid(): the grader itself is stopped (SIGSTOP).

The worker runs as the same user as the grader, so it may signal its parent. SIGSTOP freezes
the grader: its timeout (process.wait(timeout)) cannot fire, nothing is killed, the run waits
for whoever sends SIGCONT. SIGKILL/SIGTERM would end it outright (no report, no clean-up of the
temporary folder); SIGINT: see 08-attention/cheat_sigint_parent_orphans_worker.py. For the
safety of this machine a setsid() helper sends SIGCONT 15 s later and exits; in a grading
container the job would simply hang until the platform's timeout.

Against c952621: the grader froze for 15 s (total ~17 s for a 2 s rung), then resumed and
reported TODO 0/10, exit 1.
"""

import os
import signal
import time

KATA_CHEAT = {"bare": {"status": "fail", "message": "Operation not permitted", "root_only": True},
              "expect": {"status": "error", "message": "import os: 01-tensors does not use `os`; its modules may imp"},
              "class": 6, "rung": "01-tensors", "worked": True,
              "observed": "grader SIGSTOPped by the worker; frozen until the helper's SIGCONT (15 s)"}

_grader = os.getppid()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(15)
        try:
            os.kill(_grader, signal.SIGCONT)
        except ProcessLookupError:
            pass
    os._exit(0)
os.wait()
os.kill(_grader, signal.SIGSTOP)


def _todo(*args, **kwargs):
    raise NotImplementedError("01-tensors")


pairwise_sq_distances = one_hot = broadcast_shape = sliding_windows = _todo
tensor_nbytes = batched_outer = _todo
