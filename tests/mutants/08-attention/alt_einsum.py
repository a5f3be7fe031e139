"""08-attention alternative: einsum everywhere and one fused QKV projection.

Correct, but written differently from the reference: the three projections run as one matmul with
their weights concatenated, heads come from `unflatten` + einsum index order instead of
view/transpose, the mask is applied with torch.where, and the causal mask compares aranges.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

KATA_EXPECT = {"status": "pass"}


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None
) -> Tensor:
    """Return softmax(q kᵀ / √d, -inf where mask is False) @ v."""
    scores = torch.einsum("...ld,...sd->...ls", q, k) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = torch.where(mask, scores, torch.full_like(scores, float("-inf")))
    return torch.einsum("...ls,...sv->...lv", scores.softmax(dim=-1), v)


def causal_mask(seq_len: int, device: torch.device | str | None = None) -> Tensor:
    """Return the (seq_len, seq_len) bool mask that is True where key position <= query position."""
    positions = torch.arange(seq_len, device=device)
    return positions[None, :] <= positions[:, None]  # [query, key]


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
        if num_heads <= 0 or d_out % num_heads:
            raise ValueError(f"cannot split d_out={d_out} into {num_heads} heads")
        self.num_heads = num_heads
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        T = x.shape[1]
        projections = (self.W_query, self.W_key, self.W_value)
        weight = torch.cat([p.weight for p in projections])  # (3 d_out, d_in)
        qkv = x @ weight.T  # (B, T, 3 d_out)
        if self.W_query.bias is not None:
            qkv = qkv + torch.cat([p.bias for p in projections])
        q, k, v = qkv.unflatten(-1, (3, self.num_heads, -1)).unbind(dim=2)  # 3 x (B, T, H, hd)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[-1])  # (B, H, T, T)
        scores = torch.where(causal_mask(T, x.device), scores, float("-inf"))
        weights = self.dropout(scores.softmax(dim=-1))
        context = torch.einsum("bhqk,bkhd->bqhd", weights, v)  # (B, T, H, hd)
        return self.out_proj(context.flatten(2))  # (B, T, d_out)
