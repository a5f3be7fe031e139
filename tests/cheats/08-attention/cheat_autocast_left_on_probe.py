"""Class 3, a probe: CPU autocast entered at import with the allowed `__enter__` and never left.
Is global autocast state part of what the grader checks, and can it loosen the float32 checks?

Technique: `torch.autocast("cpu", dtype=torch.bfloat16).__enter__()` (`__enter__` is a safe
dunder attribute) leaves autocast on for the thread: the tamper snapshot compares namespaces,
hook tables and mode stacks, not autocast (nor grad mode, nor the thread count, nor
saved-tensor hooks). With autocast on, the reference's float32 matmuls run in bfloat16 while its
float64 "truth" does not, so the error-ratio rule's allowance (k times the float32 reference's
own error) would grow a hundredfold. The module is otherwise the honest solution.

Observed at ffaefd4, all layers on: FAIL 6.67/20, exit 1: 29 checks pass and no tamper message
appears (the state goes unnoticed; the float32 value checks pass because the reference runs in
bfloat16 too), but the two shape checks that ask for float32 output see bfloat16, which fails
scaled_dot_product_attention and MultiHeadAttention. worked: False; it shows the gap that the
threads attack (cheat_threads_inflate_reference_time.py) turns into points.
"""

import math

import torch
from torch import nn

KATA_CHEAT = {"expect": {"status": "fail", "message": "your code left torch's global settings changed after this ch"},
              "max_points": 13.33,
              "class": 3, "rung": "08-attention", "worked": False,
              "observed": "FAIL 6.67/20: autocast left on goes unnoticed; 2 dtype checks fail"}

torch.autocast("cpu", dtype=torch.bfloat16).__enter__()  # never exited


def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def causal_mask(seq_len, device=None):
    return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril()


def _weights(q, k, mask):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)


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
        self.register_buffer("mask", causal_mask(context_length), persistent=False)

    def forward(self, x):
        B, T, _ = x.shape

        def heads(t):
            return t.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)

        q, k, v = heads(self.W_query(x)), heads(self.W_key(x)), heads(self.W_value(x))
        weights = self.dropout(_weights(q, k, self.mask[:T, :T]))
        context = (weights @ v).transpose(1, 2).contiguous().view(B, T, self.d_out)
        return self.out_proj(context)
