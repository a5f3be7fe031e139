"""Class 5 probe: torch.jit.fork as a thread with no `import threading` (does not hide it).

torch.jit.fork is the torch-only way to ask for asynchronous work. In eager mode it runs the
function inline, on the calling thread, so the thread-local recorders see the banned op just
the same. Kept as a probe: a future version of torch.jit.fork (or torch.futures) that really
runs elsewhere would slip past the same check. A variant that does escape without an import is
`torch.threading.Thread` (torch/__init__ imports threading, so the attribute exists).

Against c952621: FAIL 6.67/20 points, exit 1: both structure checks still see the banned op.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

KATA_CHEAT = {"expect": {"status": "error", "message": "`.fork` leads out of the task to the interpreter, the proces"},
              "class": 5, "rung": "08-attention", "worked": False,
              "observed": "FAIL 6.67/20: jit.fork runs inline in eager mode, banned op seen"}


def BANNED(*args, **kwargs):
    future = torch.jit.fork(F.scaled_dot_product_attention, *args, **kwargs)
    return torch.jit.wait(future)


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
