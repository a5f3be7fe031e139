"""08-attention alternative: MultiHeadAttention the way the book writes it.

Correct, in the style of chapter 3 of "Build a Large Language Model (From Scratch)": a registered
float mask buffer (1 above the diagonal), masked_fill_ with -inf on the sliced buffer, an assert
instead of ValueError, scaling by keys.shape[-1] ** 0.5, contiguous().view to merge the heads.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

KATA_EXPECT = {"status": "pass"}


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None
) -> Tensor:
    """Return softmax(q kᵀ / √d, -inf where mask is False) @ v."""
    attn_scores = q @ k.transpose(-2, -1)
    if mask is not None:
        attn_scores = attn_scores.masked_fill(mask.logical_not(), -torch.inf)
    attn_weights = torch.softmax(attn_scores / k.shape[-1] ** 0.5, dim=-1)
    return attn_weights @ v


def causal_mask(seq_len: int, device: torch.device | str | None = None) -> Tensor:
    """Return the (seq_len, seq_len) bool mask that is True where key position <= query position."""
    return ~torch.triu(torch.ones(seq_len, seq_len, device=device), diagonal=1).bool()


class MultiHeadAttention(nn.Module):
    """Causal multi-head self-attention: (B, T, d_in) -> (B, T, d_out)."""

    def __init__(
        self,
        d_in: int,
        d_out: int,
        context_length: int,
        dropout: float,
        num_heads: int,
        qkv_bias: bool = False,
    ) -> None:
        super().__init__()
        assert d_out % num_heads == 0, "d_out must be divisible by num_heads"

        self.d_out = d_out
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads

        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer(
            "mask", torch.triu(torch.ones(context_length, context_length), diagonal=1)
        )

    def forward(self, x: Tensor) -> Tensor:
        b, num_tokens, d_in = x.shape

        keys = self.W_key(x)
        queries = self.W_query(x)
        values = self.W_value(x)

        keys = keys.view(b, num_tokens, self.num_heads, self.head_dim)
        values = values.view(b, num_tokens, self.num_heads, self.head_dim)
        queries = queries.view(b, num_tokens, self.num_heads, self.head_dim)

        keys = keys.transpose(1, 2)
        queries = queries.transpose(1, 2)
        values = values.transpose(1, 2)

        attn_scores = queries @ keys.transpose(2, 3)
        mask_bool = self.mask.bool()[:num_tokens, :num_tokens]
        attn_scores.masked_fill_(mask_bool, -torch.inf)

        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)
        attn_weights = self.dropout(attn_weights)

        context_vec = (attn_weights @ values).transpose(1, 2)
        context_vec = context_vec.contiguous().view(b, num_tokens, self.d_out)
        return self.out_proj(context_vec)
