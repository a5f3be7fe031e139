"""Class 3: time.process_time patched so the speed harness measures a lie.

The same slow-but-correct MultiHeadAttention (honestly FAIL 13.34/20, see _slow_honest.py).
grader.harness.speed calls `time.process_time()` through the time module, so replacing the
module attribute changes its clock. The fake clock is the real one minus the CPU time spent in
this module's forward, scaled by 0.8: the learner's blocks look 5x cheaper than they are.

Against c952621: PASS 20/20 points, exit 0; speed ratio reported 1.10 (honest: above 2).
"""

import time

KATA_CHEAT = {"bare": {"status": "fail", "message": "your code changed the grader's tools: time.process_time was "},
              "expect": {"status": "error", "message": "import time: 08-attention does not use `time`; its modules m"},
              "class": 3, "rung": "08-attention", "worked": True, "observed": "PASS 20/20, exit 0; speed ratio 1.10 reported for 3x-slow code"}

_real_clock = time.process_time
_hidden = [0.0]


def _fake_clock():
    return _real_clock() - 0.8 * _hidden[0]


time.process_time = _fake_clock


import math

import torch
from torch import nn


def _weights(q, k, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1)


def scaled_dot_product_attention(q, k, v, mask=None):
    return _weights(q, k, mask) @ v


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
        began = _real_clock()
        try:
            return self._forward(x)
        finally:
            _hidden[0] += _real_clock() - began

    def _forward(self, x):
        B, T, _ = x.shape

        def heads(t):
            return t.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)

        q, k, v = heads(self.W_query(x)), heads(self.W_key(x)), heads(self.W_value(x))
        mask = causal_mask(T, x.device)
        for _ in range(3):  # the waste: a slow but correct solution
            wasted = _weights(q.exp(), k.exp(), mask) @ v.exp()
        w = self.dropout(_weights(q, k, mask))
        ctx = (w @ v).transpose(1, 2).reshape(B, T, -1) + 0 * wasted.sum()
        return self.out_proj(ctx)
