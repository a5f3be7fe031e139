"""Class 5 probe: a private torch function captured at import instead of the public name.

`torch._C._nn.scaled_dot_product_attention`, bound at import, is not
torch.nn.functional.scaled_dot_product_attention, so a check that patched or wrapped the public
function would miss it. The dispatch recorder sees the aten op underneath all the same
(aten._scaled_dot_product_flash_attention_for_cpu contains "scaled_dot_product").

Against c952621: FAIL 6.67/20 points, exit 1: the aten-level recorder catches it.
"""

import math

import torch
from torch import nn

KATA_CHEAT = {"expect": {"status": "error", "message": "`torch._C` is private to torch; use its public API"},
              "class": 5, "rung": "08-attention", "worked": False,
              "observed": "FAIL 6.67/20: the aten recorder sees the captured private function"}

BANNED = torch._C._nn.scaled_dot_product_attention


def scaled_dot_product_attention(q, k, v, mask=None):
    return BANNED(q, k, v, attn_mask=mask)


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
