"""Class 4 (reference reached): any attribute is allowed when the expression starts with `self`.

Technique: grader/rules.py treats a chain rooted at `self` or `cls` as the learner's own object
(`own` in _Checker.visit_Attribute) and then skips every name rule but the dunder one: denied
names (`sys`, `f_back`, `gc`, ...) and private ones (`_C`) are all accepted after `self.`. Nothing
makes `self` an instance: a plain function whose first parameter is called `self`, given the
torch module, reads `torch.sys`. Attribute reads written with a dot never pass through the
run-time guard (only the getattr builtin does), so nothing stops it at run time either.
From `sys.modules` the module takes the reference (`kata_reference`) and re-exports its tasks.

Observed at ffaefd4, all layers on: PASS 15/15, exit 0.
"""

import torch

KATA_CHEAT = {"expect": {"status": "error", "message": "`.sys` leads out of the task to the interpreter, the process"},
              "class": 4, "rung": "07-modules", "worked": True, "observed": "PASS 15/15, exit 0"}


def _reference_of(self):
    return self.sys.modules["kata_reference"]


_reference = _reference_of(torch)

Linear = _reference.Linear
Embedding = _reference.Embedding
LayerNorm = _reference.LayerNorm
Dropout = _reference.Dropout
GELU = _reference.GELU
param_count = _reference.param_count
