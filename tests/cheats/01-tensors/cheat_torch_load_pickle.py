"""Class 4: torch.load(weights_only=False) on a hand-made pickle imports sys for us.

No import but torch, no builtins needed: the pickle opcodes `c builtins __import__` and
`c builtins setattr` run inside pickle's C code, which resolves globals from the real builtins
module whatever this module's __builtins__ says. The payload does
setattr(torch, "_kata_sys", __import__("sys")); torch.load's legacy path unpickles the "magic
number" first, so the payload runs before torch.load notices the file is no checkpoint (the
RuntimeError is caught). The buffer is torch.serialization.io.BytesIO (torch's own import of io).
With sys: sys.modules["builtins"] (exec, open) and the --kata-reference path in sys.argv.

Against c952621: PASS 10/10 points, exit 0.
"""

import torch

KATA_CHEAT = {"bare": {"status": "fail", "message": "failed while being imported"},
              "expect": {"status": "error", "message": "weights_only=...: load with weights_only=True (the default):"},
              "class": 4, "rung": "01-tensors", "worked": True,
              "observed": "PASS 10/10, exit 0; sys obtained by unpickling, reference exec'd"}

_PAYLOAD = (b"cbuiltins\nsetattr\n(cbuiltins\n__import__\n(Vtorch\ntRV_kata_sys\n"
            b"cbuiltins\n__import__\n(Vsys\ntRtR.")
try:
    torch.load(torch.serialization.io.BytesIO(_PAYLOAD), weights_only=False)
except Exception:
    pass
_sys = torch._kata_sys
_builtins = _sys.modules["builtins"]
_path = _sys.argv[_sys.argv.index("--kata-reference") + 1]
_builtins.exec(_builtins.open(_path).read(), globals())
