"""Class 4 (reference reached): a `match` class pattern reads any attribute, denied or not.

Technique: `match torch: case object(sys=found)` makes the interpreter read `torch.sys` itself.
The attribute names of a class pattern are plain strings in the syntax tree (MatchClass.kwd_attrs),
never an ast.Attribute, so grader/rules.py never sees them; and the read does not go through the
builtins' `getattr`, so the run-time guard never sees it either. From `sys.modules` the module takes
the reference the plugin loaded before it (`kata_reference`) and re-exports its three tasks.

Observed at ffaefd4, all layers on: PASS 20/20, exit 0 (every check passes; the module has no
attention code at all).
"""

import torch

KATA_CHEAT = {"expect": {"status": "error", "message": "case ...(sys=...): `.sys` leads out of the task to the inter"},
              "class": 4, "rung": "08-attention", "worked": True,
              "observed": "PASS 20/20, exit 0"}


def _attribute(obj, **wanted):
    match obj:
        case object(sys=found):
            return found
    return None


def _modules():
    match _attribute(torch):
        case object(modules=table):
            return table
    return {}


_reference = _modules()["kata_reference"]

scaled_dot_product_attention = _reference.scaled_dot_product_attention
causal_mask = _reference.causal_mask
MultiHeadAttention = _reference.MultiHeadAttention
