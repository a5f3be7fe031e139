"""08-attention mutant: causal_mask leaves out the diagonal (tril(-1)).

A copy of the reference with this one mistake; the grader must fail it as KATA_EXPECT says.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

KATA_EXPECT = {'status': 'fail',
               'task': 'causal_mask',
               'category': 'values',
               'message': ['leaves out the diagonal'],
               'not_message': ['polarity is inverted', 'tril(1)', 'lets each query see the next key']}


def _attention_weights(q: Tensor, k: Tensor, mask: Tensor | None) -> Tensor:
    """softmax(q kᵀ / √d) with masked keys at weight 0: (..., L, d), (..., S, d) -> (..., L, S)."""
    d = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (..., L, d) @ (..., d, S) -> (..., L, S)
    if mask is not None:
        # -inf rather than a large negative number: exp(-inf) is exactly 0 in every dtype
        scores = scores.masked_fill(~mask, float("-inf"))
    # over the keys: each query distributes one unit of attention (softmax subtracts the row max)
    return torch.softmax(scores, dim=-1)  # (..., L, S)


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None
) -> Tensor:
    """Return softmax(q kᵀ / √d, -inf where mask is False) @ v.

    q: (..., L, d), k: (..., S, d), v: (..., S, dv); mask: bool, broadcastable to (..., L, S),
    True where a query may attend to a key. Returns (..., L, dv) in the dtype of q.
    """
    return _attention_weights(q, k, mask) @ v  # (..., L, S) @ (..., S, dv) -> (..., L, dv)


def causal_mask(seq_len: int, device: torch.device | str | None = None) -> Tensor:
    """Return the (seq_len, seq_len) bool mask that is True where key position <= query position.

    Row i (a query) is True in columns 0..i (the keys it may see): the diagonal and below.
    """
    return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril(-1)


class MultiHeadAttention(nn.Module):
    """Causal multi-head self-attention: (B, T, d_in) -> (B, T, d_out).

    Submodules W_query, W_key, W_value (nn.Linear(d_in, d_out, bias=qkv_bias)), out_proj
    (nn.Linear(d_out, d_out)) and an nn.Dropout(dropout) applied to the attention weights.
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        context_length: int,
        dropout: float,
        num_heads: int,
        qkv_bias: bool = False,
    ) -> None:
        """Create the projections and the dropout; ValueError unless num_heads divides d_out."""
        super().__init__()
        if d_out % num_heads != 0:
            raise ValueError(f"d_out={d_out} is not divisible by num_heads={num_heads}")
        self.d_out = d_out
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads
        self.context_length = context_length
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """Attend causally over the T positions of x (B, T, d_in); return (B, T, d_out)."""
        B, T, _ = x.shape
        H, hd = self.num_heads, self.head_dim
        if T > self.context_length:
            raise ValueError(f"sequence length {T} exceeds context_length={self.context_length}")
        # d_out is H heads of hd features side by side; move heads next to the batch axis so one
        # batched matmul computes every head, each on its own slice of the features
        q = self.W_query(x).view(B, T, H, hd).transpose(1, 2)  # (B, H, T, hd)
        k = self.W_key(x).view(B, T, H, hd).transpose(1, 2)  # (B, H, T, hd)
        v = self.W_value(x).view(B, T, H, hd).transpose(1, 2)  # (B, H, T, hd)
        weights = _attention_weights(q, k, causal_mask(T, device=x.device))  # (B, H, T, T)
        context = self.dropout(weights) @ v  # (B, H, T, T) @ (B, H, T, hd) -> (B, H, T, hd)
        # heads back side by side; transpose first, or features of different positions mix
        context = context.transpose(1, 2).reshape(B, T, self.d_out)  # (B, T, H * hd)
        return self.out_proj(context)  # (B, T, d_out)
