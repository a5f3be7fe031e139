"""Class 3: the freezing check counts trainable parameters with numel() and reads
requires_grad; leave everything trainable and patch torch so that the frozen-looking answer
comes back (Tensor.requires_grad can't be patched, so patch nn.Module.named_parameters to hide
the parameters that should be frozen).

Assigning to an attribute of an imported module is refused by the source rules, and the
run-time guard would catch a change to torch made any other way.

Written against the grader as it is (the rung is new): refused by the source rules.
"""

from torch import nn

KATA_CHEAT = {"expect": {"status": "error", "message": "nn.Module.named_parameters"},
              "class": 3, "rung": "15-classifier", "worked": False,
              "observed": "refused by the source rules before it ran"}

_real = nn.Module.named_parameters


def _hidden(self, *args, **kwargs):
    for name, param in _real(self, *args, **kwargs):
        if name.startswith(("trf_blocks.", "final_norm.", "out_head.")):
            yield name, param


nn.Module.named_parameters = _hidden


def freeze_for_finetuning(model):
    return model
