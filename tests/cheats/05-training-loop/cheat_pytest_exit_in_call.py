"""Class 1: pytest.exit() from inside a task (at import it would be wrapped, so not there).

At import, pytest's Exit is an Exception and the candidate fixture turns it into an
ImportError (FAIL 0/15, tried). Raised from a task during a test's call phase it is re-raised
by pytest's CallInfo (Exit is in its reraise list): the session stops, no record is written for
the running test, sessionfinish writes "done". With no test recorded the rung is "pass" with
every task untested: the verdict PASS, 0/15 points, exit 0 (a green CI run for an empty rung),
like KeyboardInterrupt at import but through pytest's own public API.

Against c952621: PASS 0/15 points, exit 0 (no test recorded; the worker itself exited 0).
"""

import pytest

KATA_CHEAT = {"bare": {"status": "fail", "message": "your code raised Exit, which would stop the grader's whole r"},
              "expect": {"status": "error", "message": "import pytest: 05-training-loop does not use `pytest`; its m"},
              "class": 1, "rung": "05-training-loop", "worked": True, "observed": "verdict PASS, 0/15, exit 0: pytest.exit in the first call ends the run"}


def _stop(*args, **kwargs):
    pytest.exit("done early", returncode=0)


train_step = evaluate = lr_at = save_checkpoint = load_checkpoint = fit = _stop
