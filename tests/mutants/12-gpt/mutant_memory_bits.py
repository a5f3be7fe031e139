"""12-gpt mutant: memory_mb counts bits.

A copy of the reference with this one mistake; the grader must fail it as KATA_EXPECT says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from grader.blocks import GELU, LayerNorm, MultiHeadAttention

KATA_EXPECT = {'status': 'fail',
               'task': 'memory_mb',
               'category': 'values',
               'message': ['bits', 'bits were counted, not bytes'],
               'not_message': ['mb was taken as 10**6 bytes', 'the tied count was used', '4 bytes per parameter whatever the dtype', 'divided by 1024 once (kb)']}


@dataclass(frozen=True)
class GPTConfig:
    """The model's shape: the book's GPT_CONFIG_124M keys, with its values as defaults."""

    vocab_size: int = 50257
    context_length: int = 1024
    emb_dim: int = 768
    n_heads: int = 12
    n_layers: int = 12
    drop_rate: float = 0.1
    qkv_bias: bool = False

    @classmethod
    def of(cls, cfg: GPTConfig | dict[str, Any]) -> GPTConfig:
        """cfg itself when it is a GPTConfig; GPTConfig(**cfg) for the book's dict."""
        if isinstance(cfg, GPTConfig):
            return cfg
        return cls(**cfg)


class FeedForward(nn.Module):
    """Position-wise MLP: emb_dim -> 4 * emb_dim -> GELU (tanh) -> emb_dim."""

    def __init__(self, cfg: GPTConfig | dict[str, Any]) -> None:
        """Create layers = Sequential(Linear(emb, 4 emb), GELU("tanh"), Linear(4 emb, emb))."""
        super().__init__()
        cfg = GPTConfig.of(cfg)
        self.layers = nn.Sequential(
            nn.Linear(cfg.emb_dim, 4 * cfg.emb_dim),
            GELU(approximate="tanh"),
            nn.Linear(4 * cfg.emb_dim, cfg.emb_dim),
        )

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, emb_dim) -> (B, T, emb_dim), each position on its own."""
        return self.layers(x)


class TransformerBlock(nn.Module):
    """Pre-norm block: x + drop(att(norm1(x))), then + drop(ff(norm2(x)))."""

    def __init__(self, cfg: GPTConfig | dict[str, Any]) -> None:
        """Create att, ff, norm1, norm2 and drop_shortcut."""
        super().__init__()
        cfg = GPTConfig.of(cfg)
        self.att = MultiHeadAttention(cfg.emb_dim, cfg.emb_dim, cfg.context_length,
                                      cfg.drop_rate, cfg.n_heads, cfg.qkv_bias)
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(cfg.emb_dim)
        self.norm2 = LayerNorm(cfg.emb_dim)
        self.drop_shortcut = nn.Dropout(cfg.drop_rate)

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, emb_dim) -> (B, T, emb_dim)."""
        # the residual stream x is never normalised itself: each branch reads a normalised copy
        # and adds its (dropped-out) result back, so gradients reach early layers unchanged
        x = x + self.drop_shortcut(self.att(self.norm1(x)))  # (B, T, C)
        return x + self.drop_shortcut(self.ff(self.norm2(x)))  # (B, T, C)


class GPTModel(nn.Module):
    """Token ids (B, T) -> logits (B, T, vocab_size)."""

    def __init__(self, cfg: GPTConfig | dict[str, Any]) -> None:
        """Create tok_emb, pos_emb, drop_emb, trf_blocks, final_norm and out_head."""
        super().__init__()
        cfg = GPTConfig.of(cfg)
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.emb_dim)
        self.pos_emb = nn.Embedding(cfg.context_length, cfg.emb_dim)
        self.drop_emb = nn.Dropout(cfg.drop_rate)
        self.trf_blocks = nn.Sequential(*[TransformerBlock(cfg) for _ in range(cfg.n_layers)])
        self.final_norm = LayerNorm(cfg.emb_dim)
        self.out_head = nn.Linear(cfg.emb_dim, cfg.vocab_size, bias=False)

    def forward(self, in_idx: Tensor) -> Tensor:
        """Return the logits (B, T, vocab_size) for in_idx (B, T), T <= context_length."""
        _, T = in_idx.shape
        positions = torch.arange(T, device=in_idx.device)  # (T,): 0..T-1, whatever the batch
        x = self.tok_emb(in_idx) + self.pos_emb(positions)  # (B, T, C) + (T, C) -> (B, T, C)
        x = self.trf_blocks(self.drop_emb(x))  # (B, T, C)
        return self.out_head(self.final_norm(x))  # (B, T, C) @ (C, V) -> (B, T, V)


def param_count(cfg: GPTConfig | dict[str, Any], tie_weights: bool = False) -> int:
    """Parameters of GPTModel(cfg); with tie_weights, out_head shares tok_emb's weight."""
    cfg = GPTConfig.of(cfg)
    C, V = cfg.emb_dim, cfg.vocab_size
    attention = 3 * (C * C + (C if cfg.qkv_bias else 0)) + C * C + C  # W_q, W_k, W_v, out_proj
    feed_forward = (C * 4 * C + 4 * C) + (4 * C * C + C)
    norms = 2 * 2 * C  # norm1 and norm2, a weight and a bias each
    block = attention + feed_forward + norms
    embeddings = V * C + cfg.context_length * C
    head = 0 if tie_weights else V * C  # tied, the head reuses tok_emb.weight
    return embeddings + cfg.n_layers * block + 2 * C + head


def memory_mb(cfg: GPTConfig | dict[str, Any], dtype: torch.dtype = torch.float32) -> float:
    """MB (1024 ** 2 bytes) that GPTModel(cfg)'s parameters take in dtype (untied)."""
    bytes_per_parameter = torch.empty((), dtype=dtype).element_size() * 8
    return param_count(cfg) * bytes_per_parameter / 1024**2
