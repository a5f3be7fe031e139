"""Class 4 (reference reached): `weights_only=False` passed as `**{...}` is invisible to the
keyword rule; a pickle the module writes with pathlib then runs eval() with the real builtins.

Technique:
- rules.DENIED_KEYWORDS checks `keyword.arg == "weights_only"` on each call. In
  `torch.load(path, **{"weights_only": False})` the keyword's `arg` is None (a `**` unpacking),
  so no rule fires; the dict literal is just a constant.
- 05-training-loop may use pathlib; `Path.open("wb")` is no denied name (write_text and
  write_bytes are), so the module writes a five-opcode protocol-0 pickle to its home folder:
  GLOBAL builtins.eval, the expression as a string, TUPLE, REDUCE.
- torch.load with weights_only=False takes the legacy path and unpickles it. eval runs in
  torch.serialization's frame, whose builtins are the real ones, so `__import__('sys')` is the
  real import. The expression stores `sys.modules['kata_reference']` into the learner's own
  module dict; torch.load then fails on the "magic number", which the module catches.
The tasks are the reference's.

Observed at ffaefd4, all layers on: PASS 15/15, exit 0.
"""

from pathlib import Path

import torch

KATA_CHEAT = {"expect": {"status": "error", "message": "weights_only=...: load with weights_only=True (the default):"},
              "class": 4, "rung": "05-training-loop", "worked": True,
              "observed": "PASS 15/15, exit 0 via torch.load(**{'weights_only': False})"}

_EXPRESSION = ("__import__('sys').modules['kata_candidate'].__dict__.__setitem__("
               "'_reference', __import__('sys').modules['kata_reference'])")
_PAYLOAD = b"cbuiltins\neval\n(V" + _EXPRESSION.encode() + b"\ntR."
_PATH = Path(__file__).parent.parent / "home" / "tmp" / "checkpoint.pt"

with _PATH.open("wb") as _file:
    _file.write(_PAYLOAD)
try:
    torch.load(_PATH, **{"weights_only": False})
except RuntimeError:  # "Invalid magic number": the eval has run by then
    pass

train_step = _reference.train_step  # noqa: F821  (set by the unpickled eval)
evaluate = _reference.evaluate  # noqa: F821
lr_at = _reference.lr_at  # noqa: F821
save_checkpoint = _reference.save_checkpoint  # noqa: F821
load_checkpoint = _reference.load_checkpoint  # noqa: F821
fit = _reference.fit  # noqa: F821
