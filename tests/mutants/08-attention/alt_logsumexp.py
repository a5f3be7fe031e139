"""08-attention alternative: an additive float mask, pre-scaled queries and log-domain weights.

Correct, but numerically different from the reference: q is scaled before the matmul, the mask
becomes an additive bias of 0 / -inf, the weights are exp(log_softmax(s)) (and, in
scaled_dot_product_attention, exp(s - logsumexp(s))), heads are split with reshape + permute and
merged with permute + flatten, and the causal mask is a buffer built once and sliced.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

KATA_EXPECT = {"status": "pass"}


def _additive(mask: Tensor, dtype: torch.dtype) -> Tensor:
    """0 where attending is allowed, -inf where it is not."""
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, -torch.inf)


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None
) -> Tensor:
    """Return softmax(q kᵀ / √d, -inf where mask is False) @ v."""
    scores = (q * q.shape[-1] ** -0.5) @ k.mT  # (..., L, S)
    if mask is not None:
        scores = scores + _additive(mask, scores.dtype)
    return torch.exp(scores - torch.logsumexp(scores, dim=-1, keepdim=True)) @ v


def causal_mask(seq_len: int, device: torch.device | str | None = None) -> Tensor:
    """Return the (seq_len, seq_len) bool mask that is True where key position <= query position."""
    rows = torch.arange(seq_len, device=device).unsqueeze(1)
    cols = torch.arange(seq_len, device=device).unsqueeze(0)
    return rows >= cols


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
        if d_out % num_heads != 0:
            raise ValueError("num_heads must divide d_out")
        self.heads = num_heads
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.attn_dropout = nn.Dropout(dropout)
        self.register_buffer("bias", _additive(causal_mask(context_length), torch.float32),
                             persistent=False)

    def _heads(self, t: Tensor) -> Tensor:
        B, T, D = t.shape
        return t.reshape(B, T, self.heads, D // self.heads).permute(0, 2, 1, 3)  # (B, H, T, hd)

    def forward(self, x: Tensor) -> Tensor:
        T = x.shape[1]
        q, k, v = (self._heads(p(x)) for p in (self.W_query, self.W_key, self.W_value))
        scores = (q * q.shape[-1] ** -0.5) @ k.mT + self.bias[:T, :T]  # (B, H, T, T)
        weights = self.attn_dropout(torch.log_softmax(scores, dim=-1).exp())
        context = (weights @ v).permute(0, 2, 1, 3).flatten(2)  # (B, T, d_out)
        return self.out_proj(context)
