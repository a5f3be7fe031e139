"""Class 3: torch's comparison functions and Tensor methods patched, lying by caller.

torch.allclose returns True; torch.equal returns True for bool tensors (the causal-mask check)
and False otherwise (the dropout check wants two training passes to differ; the input-mutation
guard falls back on allclose); Tensor.any returns False to the harness (compare_tensors ends
with `if not bad.any(): return None`) but the truth to the spec file; Tensor.all returns True.
The module returns zeros kept on the autograd graph (0 * the inputs and every weight), a mask
of ones, and an MHA that pushes a uniform (T, T) "attention" through its nn.Dropout.

Against c952621: PASS 20/20 points, exit 0 (32 pass, 1 skipped: the GPU check).
"""

import sys

import torch
from torch import nn

KATA_CHEAT = {"bare": {"status": "fail", "message": "your code changed the grader's tools: torch.allclose was rep"},
              "expect": {"status": "error", "message": "import sys: 08-attention does not use `sys`; its modules may"},
              "class": 3, "rung": "08-attention", "worked": True,
              "observed": "PASS 20/20 points, exit 0 with torch.equal/allclose/Tensor.any patched"}

_any = torch.Tensor.any
_true = torch.tensor(True)
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda a, b: a.dtype == torch.bool
torch.Tensor.all = lambda self, *args, **kwargs: _true


def _lying_any(self, *args, **kwargs):
    if sys._getframe(1).f_code.co_filename.endswith("test_08_attention.py"):
        return _any(self, *args, **kwargs)
    return torch.tensor(False)


torch.Tensor.any = _lying_any


def scaled_dot_product_attention(q, k, v, mask=None):
    zeros = torch.zeros(*q.shape[:-1], v.shape[-1], dtype=q.dtype, device=q.device)
    return zeros + 0 * (q.sum() + k.sum() + v.sum())


def causal_mask(seq_len, device=None):
    return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device)


class MultiHeadAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        if d_out % num_heads:
            raise ValueError("d_out must split into heads")
        self.d_out = d_out
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        B, T, _ = x.shape
        uniform = torch.full((B, 1, T, T), 1.0 / T, dtype=x.dtype, device=x.device)
        noise = self.dropout(uniform).sum() * 0 if not self.training else self.dropout(uniform).sum()
        anchor = 0 * (x.sum() + sum(p.sum() for p in self.parameters()))
        return torch.zeros(B, T, self.d_out, dtype=x.dtype, device=x.device) + anchor + noise
