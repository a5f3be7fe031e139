"""Class 8: the worker rewrites .kata/progress.json: `kata list` shows every rung passed.

progress.json lives in the checkout (REPO_ROOT/.kata/), which the worker can write. The module
sets every rung to "pass" (and "hints shown" to nothing, so hints start over). The parent only
records the rungs it checked, and only for --impl exercises: the other rungs keep the forged
verdict, and with --impl PATH the parent writes nothing at all.

Against c952621: after one check of this file, `kata list` prints "pass" for all ten rungs;
this run itself TODO 0/15, exit 1. (.kata/ removed by hand afterwards.)
"""

import json
import os
import sys

KATA_CHEAT = {"bare": {"status": "fail", "message": "Permission denied", "root_only": True},
              "expect": {"status": "error", "message": "import json: 05-training-loop does not use `json`; its modul"},
              "class": 8, "rung": "05-training-loop", "worked": True,
              "observed": "kata list shows 'pass' for all 10 rungs after one run"}

_root = os.path.dirname(os.path.dirname(sys.modules["grader.plugin"].__file__))
_rungs = ("01-tensors", "02-autograd", "03-module", "04-dataset", "05-training-loop", "06-amp",
          "07-modules", "08-attention", "09-hf", "10-profiling")
os.makedirs(os.path.join(_root, ".kata"), exist_ok=True)
with open(os.path.join(_root, ".kata", "progress.json"), "w", encoding="utf-8") as _file:
    json.dump({**{rung: "pass" for rung in _rungs}, "hints shown": {}}, _file, indent=2)


def _todo(*args, **kwargs):
    raise NotImplementedError("05-training-loop")


train_step = evaluate = lr_at = save_checkpoint = load_checkpoint = fit = _todo
