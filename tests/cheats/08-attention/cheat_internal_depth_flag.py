"""Class 3 (and 5): the harness's internal-depth flag set for good: the op recorders go blind.

The dispatch and function recorders skip every op while
grader.harness.candidate._internal_depth > 0 (the flag the harness sets around its own work).
The module sets it to a million at import, then calls the banned
torch.nn.functional.scaled_dot_product_attention directly for task 1. The structure checks see
no op at all: "does not call the builtin" passes, the op count is 0 at every length.
Reached through typing.sys.modules, no import of grader.

Against c952621: PASS 20/20 points, exit 0; the banned op is never seen.
"""

import math
import typing

import torch
import torch.nn.functional as F
from torch import nn

KATA_CHEAT = {"bare": {"status": "fail", "message": "your code changed the grader's tools: the harness's internal"},
              "expect": {"status": "error", "message": "`._internal_depth` is private; use the public API (your own "},
              "class": 3, "rung": "08-attention", "worked": True,
              "observed": "PASS 20/20, exit 0; F.scaled_dot_product_attention used undetected"}

typing.sys.modules["grader.harness.candidate"]._internal_depth = 10**6


def scaled_dot_product_attention(q, k, v, mask=None):
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


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
            ctx = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            scores = (q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)).masked_fill(
                ~causal_mask(T, x.device), float("-inf"))
            ctx = self.dropout(torch.softmax(scores, dim=-1)) @ v
        return self.out_proj(ctx.transpose(1, 2).reshape(B, T, -1))
