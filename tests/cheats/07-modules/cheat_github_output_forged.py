"""Class 8: the worker forges $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY (the env is not scrubbed).

_worker_env removes only KATA_*, PYTEST_* and HYPOTHESIS_* variables, so a worker under GitHub
Actions inherits GITHUB_OUTPUT and GITHUB_STEP_SUMMARY (and GITHUB_ENV, GITHUB_PATH). A setsid()
daemon waits until the grader has appended its own `result=<base64>` line, then appends a
second `result=` carrying a full score in the Classroom reporter's schema (GitHub applies the
file's lines in order, so the later value of a name wins) and a step summary claiming 15/15.
It exits as soon as it has written, or after 50 s.

Against c952621 (GITHUB_OUTPUT/GITHUB_STEP_SUMMARY pointed at temporary files, --format github):
the output file ends with the forged result= line, which decodes to max_score 15 and six
passing tests worth 15 points; the summary ends with "torchkata: 15/15 points"; the grader
itself reported 0/15, exit 1.
"""

import base64
import json
import os
import time

KATA_CHEAT = {"bare": {"status": "todo", "message": ""},
              "expect": {"status": "error", "message": "import base64: 07-modules does not use `base64`; its modules"},
              "class": 8, "rung": "07-modules", "worked": True,
              "observed": "forged result= appended after the grader's to $GITHUB_OUTPUT "
                          "(15/15), fake step summary"}

_TASKS = ("Linear", "Embedding", "LayerNorm", "Dropout", "GELU", "param_count")
_forged = {"version": 1, "status": "pass", "max_score": 15.0, "tests": [
    {"name": f"07-modules · {task}", "status": "pass", "score": 2.5,
     "test_code": "kata check 07-modules", "filename": "exercises/07-modules/modules.py",
     "line_no": 0, "duration": 10} for task in _TASKS]}
_line = "result=" + base64.b64encode(json.dumps(_forged).encode()).decode() + "\n"
_output, _summary = os.environ.get("GITHUB_OUTPUT"), os.environ.get("GITHUB_STEP_SUMMARY")

if _output and os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        deadline = time.time() + 50
        while time.time() < deadline:
            try:
                with open(_output, encoding="utf-8") as file:
                    seen = file.read().count("result=")
            except OSError:
                seen = 0
            if seen:
                with open(_output, "a", encoding="utf-8") as file:
                    file.write(_line)
                if _summary:
                    with open(_summary, "a", encoding="utf-8") as file:
                        file.write("\n## torchkata: 15/15 points\n\n| rung | status | points |\n"
                                   "|---|---|---:|\n| 07-modules | PASS | 15/15 |\n")
                break
            time.sleep(0.005)
    os._exit(0)


class _Todo:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("07-modules")


Linear = Embedding = LayerNorm = Dropout = GELU = _Todo


def param_count(module_name, **kwargs):
    raise NotImplementedError("07-modules: param_count")
