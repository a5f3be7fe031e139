"""Class 5 (structure evaded): torch.utils.data, refused to this rung by path, is reached through a
function argument; the built-in attention then runs in a DataLoader worker process.

Technique:
- BASE_DENY refuses `torch.utils.data` (and the rules say why: "its worker processes run code
  the op recorders cannot see"), but only as a *path*: _Checker.module_path follows names bound
  by imports and `t = torch` assignments. `def _submodule(t): return t.utils.data` followed by
  `_submodule(torch)` is rooted at a parameter, so only the attribute-name rules apply, and
  neither `utils` nor `data` is a denied name. At run time a dotted read never meets the guard.
- scaled_dot_product_attention is an autograd.Function whose forward and backward each run in a
  forked DataLoader worker: the child calls F.scaled_dot_product_attention (and autograd.grad
  through it) and sends the tensors back through shared memory. The op recorders (a dispatch
  mode and a function mode, thread- and process-local) see only the parent's DataLoader
  plumbing: no banned name, and the same ops at every size.
- causal_mask and MultiHeadAttention are honest (MHA needs the weights for its dropout).

Observed at ffaefd4, all layers on: PASS 20/20, exit 0; scaled_dot_product_attention is
torch's own F.scaled_dot_product_attention, and both structure checks of the task pass.
Control (the same file with the work done in-process): FAIL 13.33/20, "your code called
`scaled_dot_product_attention`".
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

KATA_CHEAT = {"expect": {"status": "error", "message": "`.utils` on something other than an imported module: reach t"},
              "class": 5, "rung": "08-attention", "worked": True,
              "observed": "PASS 20/20, exit 0; F.scaled_dot_product_attention in a worker"}


def _submodule(t):
    return t.utils.data


_data = _submodule(torch)


class _Job(_data.Dataset):
    def __init__(self, work):
        self.work = work

    def __len__(self):
        return 1

    def __getitem__(self, index):
        return self.work()


def _elsewhere(work):
    loader = _data.DataLoader(_Job(work), batch_size=None, num_workers=1)
    return next(iter(loader))


class _BuiltinAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, mask):
        ctx.save_for_backward(q, k, v)
        ctx.mask = mask
        return _elsewhere(lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask))

    @staticmethod
    def backward(ctx, grad):
        q, k, v = ctx.saved_tensors
        mask = ctx.mask

        def gradients():
            with torch.enable_grad():
                leaves = [t.detach().requires_grad_() for t in (q, k, v)]
                out = F.scaled_dot_product_attention(*leaves, attn_mask=mask)
                return tuple(torch.autograd.grad(out, leaves, grad))

        dq, dk, dv = _elsewhere(gradients)
        return dq, dk, dv, None


def scaled_dot_product_attention(q, k, v, mask=None):
    return _BuiltinAttention.apply(q, k, v, mask)


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

    def forward(self, x):
        B, T, _ = x.shape

        def heads(t):
            return t.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)

        q, k, v = heads(self.W_query(x)), heads(self.W_key(x)), heads(self.W_value(x))
        weights = self.dropout(_weights(q, k, causal_mask(T, x.device)))
        context = (weights @ v).transpose(1, 2).contiguous().view(B, T, self.d_out)
        return self.out_proj(context)
