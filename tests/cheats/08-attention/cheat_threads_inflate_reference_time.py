"""Class 3 (judges fooled: speed): torch.set_num_threads, a public call outside the tamper
snapshot, makes the *reference's* timed blocks burn 4-5x the CPU time while the learner's run on
one thread; a 3x-slow solution passes the speed check.

Technique: the speed judge times both sides with time.process_time (CPU time of all threads) and
sets torch.set_num_threads(1) once, before the interleaved blocks, restoring it afterwards. The
learner's forward (training mode only) sets one thread for itself, and a gradient hook on the
query projection sets 16 threads again near the end of its own backward. So every block of the
reference runs with 16 OpenMP threads on a 2-core machine: their spin-waiting is CPU time, and the
reference costs ~5 ms of CPU a call instead of ~1.2 ms. Thread counts are C-level state: no
namespace changes, no mode is left on the stack. The attention itself is _slow_honest.py's
(correct, three times the work), which graded honestly gets FAIL 13.34/20 on the speed check.

Observed at ffaefd4, all layers on: PASS 20/20, exit 0, speed ratio 0.34 (the honest twin,
tests/cheats/08-attention/_slow_honest.py, in the same session: FAIL 13.34/20, ratio 2.00).
"""

import math

import torch
from torch import nn

KATA_CHEAT = {"expect": {"status": "fail", "message": "your code left the thread count changed"},
              "max_points": 13.34,
              "class": 3, "rung": "08-attention", "worked": True,
              "observed": "PASS 20/20, exit 0; 3x-slow MHA passes the speed check"}


def _weights(q, k, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1)


def scaled_dot_product_attention(q, k, v, mask=None):
    return _weights(q, k, mask) @ v


def causal_mask(seq_len, device=None):
    return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril()


def _one_thread(grad):
    torch.set_num_threads(1)


def _many_threads(grad):
    torch.set_num_threads(16)


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
        timing = self.training and torch.is_grad_enabled()
        if timing:
            torch.set_num_threads(1)
        B, T, _ = x.shape

        def heads(t):
            return t.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)

        queries = self.W_query(x)
        q, k, v = heads(queries), heads(self.W_key(x)), heads(self.W_value(x))
        mask = causal_mask(T, x.device)
        for _ in range(3):  # the waste: a slow but correct solution
            wasted = _weights(q.exp(), k.exp(), mask) @ v.exp()
        w = self.dropout(_weights(q, k, mask))
        ctx = (w @ v).transpose(1, 2).reshape(B, T, -1) + 0 * wasted.sum()
        out = self.out_proj(ctx)
        if timing and out.requires_grad:
            out.register_hook(_one_thread)  # the start of this backward: one thread
            queries.register_hook(_many_threads)  # near its end: 16 for whoever comes next
            torch.set_num_threads(16)
        return out
