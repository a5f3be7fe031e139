"""Class 5: torch's nn.Linear hidden from named_modules() and F.linear hidden from the recorder.

assert_no_banned_modules walks named_modules(); a module stored with object.__setattr__ (or in
a plain list) is not registered and is not walked. Linear keeps an nn.Linear that way, shares
its parameters as its own `weight` and `bias` (so parameters(), state_dict() and
load_state_dict see torch's names), and calls it inside torch._C.DisableTorchFunction(), which
switches torch-function modes off: the function recorder never logs "linear", and the aten ops
underneath (addmm, t, mm) contain no banned substring. The other tasks are stubs.

Against c952621: TODO 2.5/15 points, exit 1: Linear passes every check, "does not use torch's
linear" included.
"""

import torch
from torch import nn

KATA_CHEAT = {"expect": {"status": "error", "message": "`__setattr__` reaches into the interpreter's machinery; the "},
              "class": 5, "rung": "07-modules", "worked": True,
              "observed": "TODO 2.5/15: Linear is torch's nn.Linear, unregistered and unrecorded"}


class Linear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        inner = nn.Linear(in_features, out_features, bias=bias)
        object.__setattr__(self, "_inner", inner)  # not a registered submodule
        self.weight = inner.weight
        if bias:
            self.bias = inner.bias
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        self._inner.weight, self._inner.bias = self.weight, self.bias  # follow .to() / loads
        with torch._C.DisableTorchFunction():
            return self._inner(x)


class _Todo(nn.Module):
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("07-modules")


Embedding = LayerNorm = Dropout = GELU = _Todo


def param_count(module_name, **kwargs):
    raise NotImplementedError("07-modules: param_count")
