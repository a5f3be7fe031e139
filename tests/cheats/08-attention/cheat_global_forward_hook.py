"""Class 3: a global module forward hook rewrites the reference MultiHeadAttention's output.

torch.nn.modules.module.register_module_forward_hook installs a hook that runs after the
forward of every nn.Module in the process. Whenever the module that ran belongs to the
reference (type(module).__module__ == "kata_reference"), the hook returns `output * 0`: still on
the autograd graph (gradients become zeros), but equal to what this module computes, zeros.
Values, float32 and gradient checks of MultiHeadAttention compare zeros with zeros; the
properties hold for a constant output. causal_mask is one honest line; scaled_dot_product_attention
is a plain function, out of reach of module hooks, and stays wrong.

Against c952621: FAIL 13.33/20 points, exit 1: MultiHeadAttention (its values, grads, speed)
passes for a module whose forward returns zeros.
"""

import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_hook

KATA_CHEAT = {"bare": {"status": "fail", "message": "your code changed the grader's tools: a global module hook w"},
              "expect": {"status": "error", "message": "from torch.nn.modules.module import register_module_forward_"},
              "class": 3, "rung": "08-attention", "worked": True,
              "observed": "FAIL 13.33/20: MHA earns its points returning zeros; sdpa fails"}


def _reference_says_zero(module, args, output):
    if type(module).__module__ == "kata_reference" and isinstance(output, torch.Tensor):
        return output * 0
    return None


register_module_forward_hook(_reference_says_zero)


def scaled_dot_product_attention(q, k, v, mask=None):
    return torch.zeros(*q.shape[:-1], v.shape[-1], dtype=q.dtype, device=q.device)


def causal_mask(seq_len, device=None):
    return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril()


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
