"""Class 5: a built-in attention the denylist does not name: flex_attention.

The banned substrings are "scaled_dot_product" and "multi_head_attention".
torch.nn.attention.flex_attention computes exactly softmax(q kT * scale + mask) v; in eager mode
it runs an unfused implementation whose aten ops (bmm, softmax, ...) and torch-level name
("flex_attention") contain neither substring. The mask becomes a score_mod that sends hidden
positions to -inf; causal MHA in eval mode uses it too. A denylist of op names can never be
complete.

Against c952621: FAIL 6.67/20 points, exit 1 (25 s). Two accidents stop it on the CPU: eager
flex_attention has no CPU backward (NotImplementedError, graded "todo"), and the grader's
TorchDispatchMode has no rule for the flex_attention higher-order op, which raises
NotImplementedError under record_ops. The denylist itself did not catch it: the one structure
check that ran (does_not_call_the_builtin) passed. On CUDA (backward exists) this is the
"unlisted built-in" hole; see 07-modules/cheat_group_norm_not_denied.py for one that works on
the CPU.
"""

import math
import warnings

import torch
from torch import nn
from torch.nn.attention.flex_attention import flex_attention

warnings.filterwarnings("ignore", message="flex_attention called without torch.compile")

KATA_CHEAT = {"expect": {"status": "fail", "message": "Unsupported: Attempted to call function marked as skipped"},
              "max_points": 6.67,
              "class": 5, "rung": "08-attention", "worked": False,
              "observed": "FAIL 6.67/20: no CPU backward for flex_attention; the denylist passed it"}


def _flex(q, k, v, mask=None):
    batch = q.shape[:-2]
    L, S, d = q.shape[-2], k.shape[-2], q.shape[-1]
    q4, k4, v4 = (t.reshape(-1, 1, t.shape[-2], t.shape[-1]) for t in (q, k, v))
    if mask is None:
        score_mod = None
    else:
        full = mask.expand(*batch, L, S).reshape(-1, L, S)

        def score_mod(score, b, h, i, j):
            return torch.where(full[b, i, j], score, -float("inf"))
    out = flex_attention(q4, k4, v4, score_mod=score_mod, scale=1 / math.sqrt(d))
    return out.reshape(*batch, L, v.shape[-1])


def BANNED(q, k, v, is_causal=False):
    T = q.shape[-2]
    return _flex(q, k, v, causal_mask(T, q.device) if is_causal else None)


def scaled_dot_product_attention(q, k, v, mask=None):
    return _flex(q, k, v, mask)


def causal_mask(seq_len, device=None):
    return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril()


class MultiHeadAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        if d_out % num_heads:
            raise ValueError(f"d_out={d_out} is not divisible by num_heads={num_heads}")
        self.num_heads, self.head_dim = num_heads, d_out // num_heads
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
        if not self.training:  # the banned op does the work whenever no dropout is needed
            ctx = BANNED(q, k, v, is_causal=True)
        else:
            scores = (q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)).masked_fill(
                ~causal_mask(T, x.device), float("-inf"))
            ctx = self.dropout(torch.softmax(scores, dim=-1)) @ v
        return self.out_proj(ctx.transpose(1, 2).reshape(B, T, -1))
