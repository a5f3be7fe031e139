"""Class 5 (structure evaded): a Python loop over the query positions, padded to a fixed 64
rounds, passes the "no loop over positions" op count at every size the check tries.

Technique: assert_op_count_constant now counts only ops that touch data, at three sizes (4, 8,
32), and allows OP_SLACK = 3 differing ops; its docstring says a loop padded to a fixed number
of rounds "shows there" because the last size is a few times the others. It shows only when the
padding is smaller than the largest size tried. This loop always runs 64 rounds: round i computes
the weights of query i while i < L, and the same ops on query 0 (real data, so they count) once
i >= L; only the first L rows are kept and joined with one torch.cat. Every size up to 64 gives
the very same op counter. The batch-size check sees no loop at all (batch dims are broadcast).
scaled_dot_product_attention has no speed check; MultiHeadAttention (which has one) uses a
vectorised helper, and causal_mask is the one-liner.

Observed at ffaefd4, all layers on: PASS 20/20, exit 0; test_sdpa_has_no_loop_over_positions_or_
batch passes although scaled_dot_product_attention is a Python loop over the queries.
"""

import math

import torch
from torch import nn

KATA_CHEAT = {"expect": {"status": "fail", "message": "32 your code runs 1155 tensor operations, the reference"},
              "max_points": 13.33,
              "class": 5, "rung": "08-attention", "worked": True,
              "observed": "PASS 20/20, exit 0 with a 64-round Python loop over queries"}

ROUNDS = 64


def scaled_dot_product_attention(q, k, v, mask=None):
    L, S = q.shape[-2], k.shape[-2]
    scores_shape = (*torch.broadcast_shapes(q.shape[:-2], k.shape[:-2]), L, S)
    full_mask = None if mask is None else mask.expand(scores_shape)
    keys = k.transpose(-2, -1)
    rows = []
    for i in range(ROUNDS):
        j = i if i < L else 0  # past the last query: the same ops on query 0, thrown away
        scores = q[..., j:j + 1, :] @ keys / math.sqrt(q.shape[-1])
        if full_mask is not None:
            scores = scores.masked_fill(~full_mask[..., j:j + 1, :], float("-inf"))
        row = torch.softmax(scores, dim=-1) @ v
        if i < L:
            rows.append(row)
    return torch.cat(rows, dim=-2)


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
