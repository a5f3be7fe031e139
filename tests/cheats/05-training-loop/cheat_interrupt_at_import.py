"""Class 1 (and 8): KeyboardInterrupt at import: the run "finishes" with no test at all.

(pytest.exit() at import does not get here: Exit is an Exception, which the candidate fixture
wraps in an ImportError; KeyboardInterrupt is not.) pytest handles the interrupt by stopping
the session; sessionfinish still writes the "done" record. With no test records the rung's
status is rung_status([]) == "pass" while every task is "untested" (0 points). The verdict is
PASS and the exit code 0: CI that gates on the exit code shows green for an empty module. No
import needed.

Against c952621: PASS 0/15 points, exit 0 (no tests recorded).
"""

KATA_CHEAT = {"bare": {"status": "fail", "message": "KeyboardInterrupt"},
              "expect": {"status": "error", "message": "raising KeyboardInterrupt stops the grader rather than your "},
              "class": 1, "rung": "05-training-loop", "worked": True,
              "observed": "verdict PASS, 0/15 points, exit 0 with no test recorded (green CI)"}

raise KeyboardInterrupt
