"""Class 7 (and 6): Ctrl-C handling: SIGINT to the grader leaves the worker running.

run_worker kills the worker's process group after process.wait() returns or times out, but not
in a `finally`: a KeyboardInterrupt in the parent skips _kill_group. The worker sends SIGINT
to os.getppid() (what a learner's Ctrl-C does, or any code that can signal its parent). The
grader prints "kata: aborted", exits 1 (a verdict for run_autograder: no results.json) and
deletes the temporary folder while the worker, in its own session, goes on running: here it
sleeps 30 s and exits (bounded for this machine; it could run until its CPU limit, or forever
while sleeping).

Against c952621: "kata: aborted", exit 1, no report; the worker process was still alive 25 s
after the grader had exited.
"""

import os
import signal
import time

KATA_CHEAT = {"bare": {"status": "fail", "message": "Operation not permitted", "root_only": True},
              "expect": {"status": "error", "message": "import os: 08-attention does not use `os`; its modules may i"},
              "class": 7, "rung": "08-attention", "worked": True,
              "observed": "kata: aborted, exit 1; worker left running 30 s after the grader exited"}

os.kill(os.getppid(), signal.SIGINT)
time.sleep(30)
os._exit(0)
