"""Class 5: dispatch guards: pop the recorders off the mode stacks around the banned call.

torch.utils._python_dispatch._disable_current_modes() takes every TorchDispatchMode off the
stack for the length of a with-block, and torch._C.DisableTorchFunction() turns torch-function
handling (modes included) off. Inside both, F.scaled_dot_product_attention dispatches as if no
one watched: neither the aten recorder nor the function recorder logs anything.

Against c952621: PASS 20/20 points, exit 0 (control without the guards: FAIL 6.67/20).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import _disable_current_modes

KATA_CHEAT = {"expect": {"status": "error", "message": "from torch.utils._python_dispatch import ...: `torch.utils._"},
              "class": 5, "rung": "08-attention", "worked": True,
              "observed": "PASS 20/20, exit 0; recorders popped around the banned op"}


def BANNED(*args, **kwargs):
    with _disable_current_modes(), torch._C.DisableTorchFunction():
        return F.scaled_dot_product_attention(*args, **kwargs)


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
