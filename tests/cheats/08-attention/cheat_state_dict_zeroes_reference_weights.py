"""Class 3/4 (reference reached, judges fooled): the spec hands the learner the reference's own
parameters, and the learner zeroes them.

Technique: build_pair() copies weights with `getattr(target, name).load_state_dict(expected)`,
where `expected = getattr(source, name).state_dict()` is the *reference* module's state dict.
state_dict() returns detached tensors that share storage with the reference's parameters. The
learner's projections are nn.Linear subclasses whose load_state_dict first zeroes every tensor it
is given, in place, then loads them: the reference MultiHeadAttention is now all zeros, and so is
the learner's. With every weight and bias zero, any function that runs the four projections gives
the reference's output (0) and the reference's gradients (0 everywhere but out_proj.bias, whose
gradient is the upstream sum either way). So forward does no attention at all: out_proj(W_value(x)),
with W_query/W_key multiplied by 0 so their gradients exist, and a uniform (T, T) "weights"
tensor run through the dropout so the training-mode properties see a dropout on rows that sum to 1.

The float32 check builds its float64 truth from an untouched copy, but the error-ratio rule
allows `k` times the float32 reference's own error; that reference is the zeroed one, so its
"error" is the whole output and zeros are within it. The tamper snapshot never looks at tensors.
causal_mask and scaled_dot_product_attention are left as stubs to show the MHA share alone.

Observed at ffaefd4, all layers on: TODO 6.66/20, exit 1: MultiHeadAttention (all its checks,
the speed check included) passes; the two stub tasks are todo.
"""

import torch
from torch import nn

KATA_CHEAT = {"expect": {"status": "fail", "message": "changed its input `state_dict['weight']` in place"},
              "class": 3, "rung": "08-attention", "worked": True,
              "observed": "TODO 6.66/20: MultiHeadAttention passes with no attention code"}


class _Projection(nn.Linear):
    def load_state_dict(self, state_dict, strict=True, assign=False):
        with torch.no_grad():
            for tensor in state_dict.values():
                tensor.zero_()  # the reference's own parameter storage
        return super().load_state_dict(state_dict, strict, assign)


def scaled_dot_product_attention(q, k, v, mask=None):
    raise NotImplementedError("08-attention: scaled_dot_product_attention")


def causal_mask(seq_len, device=None):
    raise NotImplementedError("08-attention: causal_mask")


class MultiHeadAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        if d_out % num_heads:
            raise ValueError(f"d_out={d_out} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.W_query = _Projection(d_in, d_out, bias=qkv_bias)
        self.W_key = _Projection(d_in, d_out, bias=qkv_bias)
        self.W_value = _Projection(d_in, d_out, bias=qkv_bias)
        self.out_proj = _Projection(d_out, d_out)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        B, T, _ = x.shape
        unused = (self.W_query(x) + self.W_key(x)) * 0
        uniform = torch.full((B, self.num_heads, T, T), 1.0 / T, dtype=x.dtype, device=x.device)
        dropped = self.dropout(uniform)
        out = self.out_proj(self.W_value(x) + unused)
        if self.training:
            out = out + dropped.mean() * 1e-3
        return out
