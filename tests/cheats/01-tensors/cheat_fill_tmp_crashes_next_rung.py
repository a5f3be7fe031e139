"""Class 6/7 (parent crashed; limits): torch.save fills the parent's temporary folder; the files
outlive the run, and the next rung's set-up dies with an uncaught OSError.

Technique: `torch.save` writes files anywhere the worker's uid may write and is allowed in every
rung. RLIMIT_FSIZE caps one file at 64 MiB, but nothing caps how many: the worker writes file
after file into the folder that holds the run's own folder (its `__file__` is
`$TMPDIR/kata-XXXX/learner/tensors.py`; $TMPDIR is /tmp on Gradescope and PrairieLearn, mode
1777) until the disk is full. Clean-up kills the worker's processes, not its files; the memory
watchdog counts resident memory, not tmpfs pages (on a tmpfs /tmp these files are RAM that no
limit sees). For the next rung of `kata check --all`, runner._prepare_workdir writes the learner
file into a new folder there: ENOSPC, an OSError nothing catches, a traceback and no report.
With `--output results.json` nothing is written at all: Gradescope reports an autograder failure
instead of a score, and the disk stays full for everything after.

Safety: this copy fills only when its run folder is under /tmp/rt/small (a 300 MB tmpfs made for
the test; `TMPDIR=/tmp/rt/small`). Remove the guard to fill a real /tmp.

Observed at ffaefd4, all layers on (check_rungs([01-tensors, 02-autograd]) with TMPDIR on the
300 MB tmpfs, as `kata check --all` does): the 01-tensors run filled the tmpfs, then
`OSError: [Errno 28] No space left on device` from runner._prepare_workdir (pytest.ini) for
02-autograd: a traceback, no Result for either rung; five files (300 MB) owned by the worker's
uid left behind after the run.
"""

import torch

KATA_CHEAT = {"expect": {"status": "todo", "message": ""},
              "class": 6, "rung": "01-tensors", "worked": True,
              "observed": "next rung: OSError ENOSPC in _prepare_workdir, no report; files stay"}

_TMPDIR = __file__.rsplit("/", 3)[0]


def _fill() -> None:
    if not _TMPDIR.startswith("/tmp/rt/small"):
        return  # safety guard for the test machine
    block = torch.zeros(63 * 1024 * 1024, dtype=torch.uint8)
    for index in range(10_000):
        try:
            torch.save(block, f"{_TMPDIR}/cache-{index}")
        except Exception:
            return


_fill()


def pairwise_sq_distances(x, y):
    raise NotImplementedError


def one_hot(indices, num_classes):
    raise NotImplementedError


def broadcast_shape(a, b):
    raise NotImplementedError


def sliding_windows(x, size, stride):
    raise NotImplementedError


def tensor_nbytes(shape, dtype):
    raise NotImplementedError


def batched_outer(a, b):
    raise NotImplementedError
