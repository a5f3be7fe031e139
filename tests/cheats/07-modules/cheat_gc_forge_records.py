"""Class 2: find the plugin's RunState with gc and write pass records with its nonce.

The plugin keeps the nonce and the open result channel in a RunState object in the same
process as learner code. At import this module scans gc.get_objects() for it, writes one "test"
record per task with status "pass" and a "done" record, then ends the process with os._exit(0)
before pytest can record anything real. Records carry the right nonce, so the runner believes
them; it never checks that the tests named exist in the spec.

Against c952621: PASS 15/15 points, exit 0 (6 forged records, one per task).
"""

import gc
import os

KATA_CHEAT = {"bare": {"status": "error", "message": "the grader could not trust this run: the grader received res"},
              "expect": {"status": "error", "message": "import gc: 07-modules does not use `gc`; its modules may imp"},
              "class": 2, "rung": "07-modules", "worked": True,
              "observed": "PASS 15/15 points, exit 0 from 6 forged records"}

TASKS = ("Linear", "Embedding", "LayerNorm", "Dropout", "GELU", "param_count")

for _obj in gc.get_objects():
    if type(_obj).__name__ == "RunState" and getattr(_obj, "nonce", None):
        for _i, _task in enumerate(TASKS):
            _obj.write("test", nodeid=f"spec::test_{_i}", name=f"test_{_task.lower()}_is_right",
                       rung="07-modules", task=_task, category="values", status="pass",
                       message="", duration=0.01, visibility="visible")
        _obj.write("done", count=len(TASKS), exitstatus=0, time=0.0)
        os._exit(0)
