"""12-gpt alternative: the model the way the book writes it.

Correct, in the style of chapter 4 of "Build a Large Language Model (From Scratch)": the classes
read the book's dict (cfg["emb_dim"]), turning a GPTConfig into one first; forward keeps a
`shortcut` variable and adds it back after drop_shortcut, the position embeddings come from
torch.arange(seq_len) and the layers are the book's lines. GPTConfig.of checks for a dict
rather than for a GPTConfig, and param_count sums the modules the book lists.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

from grader.blocks import GELU, LayerNorm, MultiHeadAttention

KATA_EXPECT = {"status": "pass"}


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
    def of(cls, cfg):
        """cfg itself when it is a GPTConfig; GPTConfig(**cfg) for the book's dict."""
        if isinstance(cfg, dict):
            return cls(**cfg)
        return cfg


def as_dict(cfg: Any) -> dict:
    """The book's dict, whichever form cfg comes in (missing keys take the defaults)."""
    return dataclasses.asdict(GPTConfig.of(cfg))


class FeedForward(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        cfg = as_dict(cfg)
        self.layers = nn.Sequential(
            nn.Linear(cfg["emb_dim"], 4 * cfg["emb_dim"]),
            GELU(approximate="tanh"),
            nn.Linear(4 * cfg["emb_dim"], cfg["emb_dim"]),
        )

    def forward(self, x):
        return self.layers(x)


class TransformerBlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        cfg = as_dict(cfg)
        self.att = MultiHeadAttention(
            d_in=cfg["emb_dim"],
            d_out=cfg["emb_dim"],
            context_length=cfg["context_length"],
            num_heads=cfg["n_heads"],
            dropout=cfg["drop_rate"],
            qkv_bias=cfg["qkv_bias"])
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])
        self.drop_shortcut = nn.Dropout(cfg["drop_rate"])

    def forward(self, x):
        shortcut = x
        x = self.norm1(x)
        x = self.att(x)
        x = self.drop_shortcut(x)
        x = x + shortcut

        shortcut = x
        x = self.norm2(x)
        x = self.ff(x)
        x = self.drop_shortcut(x)
        x = x + shortcut
        return x


class GPTModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        cfg = as_dict(cfg)
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg["drop_rate"])
        self.trf_blocks = nn.Sequential(
            *[TransformerBlock(cfg) for _ in range(cfg["n_layers"])])
        self.final_norm = LayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)

    def forward(self, in_idx):
        batch_size, seq_len = in_idx.shape
        tok_embeds = self.tok_emb(in_idx)
        pos_embeds = self.pos_emb(torch.arange(seq_len, device=in_idx.device))
        x = tok_embeds + pos_embeds
        x = self.drop_emb(x)
        x = self.trf_blocks(x)
        x = self.final_norm(x)
        logits = self.out_head(x)
        return logits


def param_count(cfg, tie_weights=False):
    cfg = as_dict(cfg)
    emb, vocab = cfg["emb_dim"], cfg["vocab_size"]
    linear = lambda i, o, bias=True: i * o + (o if bias else 0)  # noqa: E731
    att = 3 * linear(emb, emb, cfg["qkv_bias"]) + linear(emb, emb)
    ff = linear(emb, 4 * emb) + linear(4 * emb, emb)
    block = att + ff + 2 * (2 * emb)
    total_params = (vocab * emb + cfg["context_length"] * emb + cfg["n_layers"] * block
                    + 2 * emb + linear(emb, vocab, False))
    if tie_weights:
        total_params -= vocab * emb  # the book: total_params - out_head's parameters
    return total_params


def memory_mb(cfg, dtype=torch.float32):
    total_size_bytes = param_count(cfg) * torch.tensor([], dtype=dtype).element_size()
    return total_size_bytes / (1024 * 1024)
