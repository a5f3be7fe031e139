"""Class 6: the per-check CPU stop is caught, again and again: only the rung's deadline ends
the run.

A check's code that has used CHECK_CPU_SECONDS of CPU time gets CheckStopped (grader/plugin.py,
SIGPROF), a BaseException, re-sent every half second should the code catch it. The source rules
refuse raising a BaseException, not catching one: a bare `except:` in a loop swallows every
stop and the check never ends. Nothing is earned (the rung times out with no result for the
check), but the per-check limit, meant to name the endless loop after 10 s, is escaped: the
learner waits the rung's whole deadline (180-240 s on most rungs) for "timed out", and a check
server is busy with it all that time. `timeout` below shortens the rung's deadline for the
suite.

Observed at 6313c28 (warm): ERROR 0/10, "timed out after 30 s during
test_distances_are_n_by_m_in_the_input_dtype" instead of "stopped after 10 s of CPU time".
Fixed: a stop that comes back half a second after being caught ends the worker, with a record
for that check saying what happened; the rung stops there and earns nothing.
"""

KATA_CHEAT = {"bare": {"status": "error", "message": "caught the grader's stop"},
              "expect": {"status": "error", "message": "caught the grader's stop"},
              "class": 6, "rung": "01-tensors", "worked": True, "timeout": 60,
              "observed": "every CheckStopped swallowed by a bare except; the rung timed out"}


def pairwise_sq_distances(x, y):
    count = 0
    while True:
        try:
            while True:
                count += 1
        except:  # noqa: E722  the grader's stop, every time it comes
            count = 0


def _todo(*args, **kwargs):
    raise NotImplementedError("01-tensors")


one_hot = broadcast_shape = sliding_windows = tensor_nbytes = batched_outer = _todo
