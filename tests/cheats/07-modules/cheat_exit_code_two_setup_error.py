"""Class 6: exit code 2, no meta record, a crafted last line: the run becomes a "setup error".

check_rung treats a worker that exits 2 (pytest's usage error) without a "meta" record as a
grader that could not start, and raises SetupError with the last line of the worker's output.
The module truncates ../results.jsonl (removing the meta record), appends a line of its choosing
to ../output.txt (pytest's capture holds fd 1, but the parent reads the file) and leaves with
os._exit(2). The CLI prints "kata: <that line>" and exits 2: with --all the
whole run aborts and no rung is reported; run_autograder passes exit 2 on, so Gradescope marks
the submission's grading as failed; PrairieLearn shows a grader failure (the docs say a crash
must not become a free retry: this one does).

Against c952621: stderr "kata: torchkata internal error: grading server misconfigured,
contact your instructor (your submission scored 15/15 before the crash)", exit 2, no report.
"""

import os

KATA_CHEAT = {"bare": {"status": "fail", "message": "Permission denied", "root_only": True},
              "expect": {"status": "error", "message": "import os: 07-modules does not use `os`; its modules may imp"},
              "class": 6, "rung": "07-modules", "worked": True,
              "observed": "kata: <crafted line>, exit 2; whole run aborted as a SetupError"}

open("../results.jsonl", "w").close()
with open("../output.txt", "a") as _output:  # pytest captures fd 1; the parent reads this file
    _output.write("torchkata internal error: grading server misconfigured, contact your "
                  "instructor (your submission scored 15/15 before the crash)\n")
os._exit(2)
