"""Class 3: a TorchFunctionMode entered at import and never exited, lying about comparisons.

No torch, math or builtins attribute is replaced (a snapshot check of those namespaces finds
nothing): the lies live on torch's thread-local mode stack. The mode answers torch.allclose with
True, torch.equal with "is it a bool tensor" (the causal-mask check wants True, the dropout check
wants two training passes to differ) and Tensor.any with False for the harness (compare_tensors'
`if not bad.any()`) but the truth for the spec file; Tensor.all with True. The harness's own
recorder modes stack on top of it and forward every call down to it. The module computes
nothing: zeros on the autograd graph, a mask of ones, a uniform "attention" for the dropout.

Against c952621: PASS 20/20 points, exit 0.
"""

import typing

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

KATA_CHEAT = {"bare": {"status": "fail", "message": "your code changed the grader's tools: a torch function or di"},
              "expect": {"status": "error", "message": "from torch.overrides import ...: `torch.overrides` reaches p"},
              "class": 3, "rung": "08-attention", "worked": True,
              "observed": "PASS 20/20, exit 0; nothing patched, a mode left on the stack lies"}

_getframe = typing.sys._getframe


class _Liar(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.allclose:
            return True
        if func is torch.equal:
            return args[0].dtype == torch.bool
        if func is torch.Tensor.all:
            return torch.tensor(True)
        if func is torch.Tensor.any:
            caller = _getframe(1).f_code.co_filename
            if not caller.endswith("test_08_attention.py"):
                return torch.tensor(False)
        return func(*args, **kwargs)


_Liar().__enter__()


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
        noise = self.dropout(uniform).sum() * (1 if self.training else 0)
        anchor = 0 * (x.sum() + sum(p.sum() for p in self.parameters()))
        return torch.zeros(B, T, self.d_out, dtype=x.dtype, device=x.device) + anchor + noise
