"""Class 4: grader.catalog says where the reference lives; import its module by path.

The worker's PYTHONPATH starts with the checkout, so `grader` is importable from learner code.
resolve("05-training-loop").reference_path is reference/05-training-loop/loop.py; the module
execs that file's source into its own namespace (fit calls this module's train_step and
evaluate, which are then the reference's).

Against c952621: PASS 15/15 points, exit 0.
"""

from grader.catalog import resolve

KATA_CHEAT = {"expect": {"status": "error", "message": "from grader.catalog import ...: 05-training-loop does not us"},
              "class": 4, "rung": "05-training-loop", "worked": True,
              "observed": "PASS 15/15, exit 0; reference found through grader.catalog"}

exec(compile(resolve("05-training-loop").reference_path.read_text(encoding="utf-8"),
             "loop.py", "exec"), globals())
