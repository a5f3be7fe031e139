"""Class 7: a setsid() child with a child of its own outlives a warm run (grader run as a plain
user).

The warm worker is forked by the zygote (grader/zygote.py), a child subreaper: when the worker
ends, what it started is re-parented to the zygote, not to the runner, so the runner's own
clean-up (isolation.kill_orphans, which kills each orphan's whole tree, round after round) finds
nothing. The zygote's `reap` killed its direct children that were not workers, in one pass. At
import this module forks a child that calls setsid() (out of the worker's process group, which
the runner kills) and forks a grandchild; both sleep 40 s. The worker ends normally, the child
is re-parented to the zygote and killed by `reap`, and only then is the grandchild re-parented
to the zygote: alive, for as long as it likes (the zygote of a check server lives 15 minutes
after the last check). Run as root the worker's own uid is killed whole (isolation.kill_uid), so
this needs a grader run as a plain user: `plain_user` grades it so (no privilege drop), with the
source rules and the run-time guard off, through the warm worker.

Observed at 6313c28 (plain user, warm, layers off): TODO 0/10, and the grandchild still running
with its cwd in the run's deleted folder after the run; a cold run killed it. Fixed: the zygote
kills each orphan's whole tree and looks again until none is left.
"""

import os
import time

KATA_CHEAT = {"bare": {"status": "todo", "message": ""},
              "plain_user": {"status": "todo", "message": ""},
              "expect": {"status": "error", "message": "import os: 01-tensors does not use `os`; its modules may imp"},
              "class": 7, "rung": "01-tensors", "worked": True,
              "observed": "warm run as a plain user: the setsid() child's child outlived the run"}

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(40)
        os._exit(0)
    time.sleep(40)
    os._exit(0)


def _todo(*args, **kwargs):
    raise NotImplementedError("01-tensors")


pairwise_sq_distances = one_hot = broadcast_shape = sliding_windows = _todo
tensor_nbytes = batched_outer = _todo
