"""Class 5: the banned op runs in another thread, where the recorders cannot see it.

TorchDispatchMode and TorchFunctionMode stacks are thread-local. Every call of
F.scaled_dot_product_attention is handed to a fresh threading.Thread and joined; the autograd
graph it builds is an ordinary graph, so gradients flow back across the thread. The structure
checks record the calling thread only: no banned op, and the op count is constant (0). Control
(the same code calling F.scaled_dot_product_attention in the main thread): FAIL 6.67/20.

Against c952621: PASS 20/20 points, exit 0.
"""

import math
import threading

import torch
import torch.nn.functional as F
from torch import nn

KATA_CHEAT = {"expect": {"status": "error", "message": "import threading: 08-attention does not use `threading`; its"},
              "class": 5, "rung": "08-attention", "worked": True,
              "observed": "PASS 20/20, exit 0; banned op in a thread (control: FAIL 6.67/20)"}


def BANNED(*args, **kwargs):
    box = []
    worker = threading.Thread(
        target=lambda: box.append(F.scaled_dot_product_attention(*args, **kwargs)))
    worker.start()
    worker.join()
    return box[0]


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
