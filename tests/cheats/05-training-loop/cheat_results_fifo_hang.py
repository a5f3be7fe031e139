"""Class 6: the results file replaced by a FIFO: the parent blocks reading it.

At import the module unlinks ../results.jsonl (the plugin keeps writing to its open, now
nameless, file) and puts a FIFO of the same name in its place. When the worker ends, the
parent's result_file.read_text() opens the FIFO for reading, and open() on a FIFO waits for a
writer: forever. The runner's timeout only covers process.wait(); nothing bounds the read.
For the safety of this test machine a setsid() helper (escaping the worker's process group,
which the runner kills) opens the FIFO for writing once the parent is waiting, 20 s after the
import, and closes it: the parent then reads an empty file. Without the helper the parent
hangs until someone kills it (PrairieLearn/Gradescope time the job out: no score).

Against c952621: the worker ended after 9 s; the parent then sat blocked on the FIFO until the
helper opened it (22 s in all: as long as the helper chose), then reported ERROR 0/15 "the
grader got no result", exit 1. The helper exits within 60 s.
"""

import os
import time

KATA_CHEAT = {"expect": {"status": "error", "message": "import time: 05-training-loop does not use `time`; its modul"},
              "class": 6, "rung": "05-training-loop", "worked": True,
              "observed": "parent blocked on the FIFO until the helper released it "
                          "(+12 s); forever without it"}

PATH = os.path.abspath("../results.jsonl")
os.unlink(PATH)
os.mkfifo(PATH)

if os.fork() == 0:  # helper: leave the process group, release the parent after 20 s
    os.setsid()
    if os.fork() == 0:
        time.sleep(20)
        deadline = time.time() + 35
        while time.time() < deadline:
            try:
                fd = os.open(PATH, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO until a reader waits
            except OSError:
                time.sleep(0.2)
                continue
            os.close(fd)
            break
    os._exit(0)
os.wait()


def _todo(*args, **kwargs):
    raise NotImplementedError("05-training-loop")


train_step = evaluate = lr_at = save_checkpoint = load_checkpoint = fit = _todo
