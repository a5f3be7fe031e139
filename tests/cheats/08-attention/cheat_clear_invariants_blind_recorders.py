"""Class 5 (structure evaded) by way of class 3: the invariant that guards the harness's
"internal" flag lives in a plain list, which the module empties; then it sets the flag, and the
op recorders ignore everything, F.scaled_dot_product_attention included.

Technique:
- grader.harness.candidate._internal_depth tells the recorders "this is the harness's own
  work, leave it out". It is in sandbox.MUTABLE_GLOBALS, so the snapshot allows it to change;
  the only guard is an invariant registered by take_snapshot into sandbox._invariants, a list.
  The snapshot compares module dicts by identity, and `_invariants` stays the same list object
  after `.clear()`.
- Chains rooted at `self` skip the denied and private name rules (see
  07-modules/cheat_self_root_denied_attribute.py): `self.sys.modules[...]` finds both modules,
  `self._invariants.clear()` empties the list, `self._internal_depth = 10**6` sets the flag.
- scaled_dot_product_attention is F.scaled_dot_product_attention; MultiHeadAttention is a thin
  wrapper around it (dropout_p in training mode) plus the four projections; causal_mask is the
  one-liner. Note the dropout checks still pass: the spec looks for an nn.Dropout applied to
  (T, T) rows summing to 1, so the module applies one to uniform weights and throws it away.

Observed at ffaefd4, all layers on: PASS 20/20, exit 0; the builtin is never seen.
"""

import torch
import torch.nn.functional as F
from torch import nn

KATA_CHEAT = {"expect": {"status": "error", "message": "`.sys` leads out of the task to the interpreter, the process"},
              "class": 5, "rung": "08-attention", "worked": True,
              "observed": "PASS 20/20, exit 0 with F.scaled_dot_product_attention"}


def _modules(self):
    return self.sys.modules


def _forget_invariants(self):
    self._invariants.clear()


def _blind(self):
    self._internal_depth = 10**6


_table = _modules(torch)
_forget_invariants(_table["grader.harness.sandbox"])
_blind(_table["grader.harness.candidate"])


def scaled_dot_product_attention(q, k, v, mask=None):
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def causal_mask(seq_len, device=None):
    return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril()


class MultiHeadAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        if d_out % num_heads:
            raise ValueError(f"d_out={d_out} is not divisible by num_heads={num_heads}")
        self.num_heads, self.head_dim, self.d_out = num_heads, d_out // num_heads, d_out
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        B, T, _ = x.shape

        def heads(t):
            return t.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)

        q, k, v = heads(self.W_query(x)), heads(self.W_key(x)), heads(self.W_value(x))
        p = self.dropout.p if self.training else 0.0
        if self.training:  # the spec hooks nn.Dropout: give it softmax-like rows, then drop them
            self.dropout(torch.full((B, self.num_heads, T, T), 1.0 / T, dtype=x.dtype,
                                    device=x.device))
        context = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        return self.out_proj(context.transpose(1, 2).contiguous().view(B, T, self.d_out))
