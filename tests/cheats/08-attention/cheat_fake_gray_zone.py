"""Class 3: SpeedGrayZone raised with a fake ratio, settled by the runner's re-measurement.

The same slow-but-correct MultiHeadAttention (honestly FAIL 13.34/20). When forward sees the
speed harness on the stack, it fills grader.harness.speed.last_measurement with ratio 0.5 and
the band's lines and raises SpeedGrayZone. classify() trusts the exception type: status "gray",
and the plugin copies last_measurement into the record. The runner then "measures again in two
fresh processes", which run the same module and report 0.5 again; the median 0.5 is below
1.75, so the test passes. Reached without import: typing.sys.modules.

Against c952621: PASS 20/20 points, exit 0; speed test passes at the fake ratio 0.50.
"""

import typing

_speed = typing.sys.modules["grader.harness.speed"]

KATA_CHEAT = {"expect": {"status": "error", "message": "`.sys` leads out of the task to the interpreter, the process"},
              "class": 3, "rung": "08-attention", "worked": True, "observed": "PASS 20/20, exit 0; fake gray ratio 0.5 confirmed by re-measurement"}


def _being_timed():
    frame = typing.sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "measure_speed_ratio":
            return True
        frame = frame.f_back
    return False


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
        if _being_timed():
            band = _speed.AS_FAST_AS_REFERENCE
            _speed.last_measurement.update(ratio=0.5, pass_at=band.pass_at,
                                           fail_above=band.fail_above)
            raise _speed.SpeedGrayZone(0.5, band, "measured 0.50x: in the gray zone")
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
