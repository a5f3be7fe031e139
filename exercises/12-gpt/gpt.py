"""12-gpt: the GPT model of chapter 4 of "Build a Large Language Model (From Scratch)".

A GPT turns token ids into next-token logits. Each id looks up a token embedding, each position
a position embedding; the two add, and a stack of transformer blocks refines the result. Each
block lets the positions talk (causal multi-head attention) and then thinks per position (a
feed-forward network), each step on a layer-normalised copy added back onto its input. A final
layer norm and a linear head map every position to one score per vocabulary entry.

You build it in six tasks, with the book's names, so the book's code and yours drop in for each
other. LayerNorm and GELU come from your 07-modules and MultiHeadAttention from your
08-attention (`from grader.blocks import ...`, already at the top of this file): yours when that
rung passes, the reference's otherwise.

1. GPTConfig: a dataclass with the book's GPT_CONFIG_124M keys, and those values as defaults:
   vocab_size=50257, context_length=1024, emb_dim=768, n_heads=12, n_layers=12, drop_rate=0.1,
   qkv_bias=False. GPTConfig.of(cfg) returns cfg itself when it is a GPTConfig and
   GPTConfig(**cfg) when it is the book's dict (an unknown key is a TypeError). Every class and
   function below accepts either form: start with `cfg = GPTConfig.of(cfg)`.

2. FeedForward(cfg): layers = nn.Sequential(nn.Linear(emb_dim, 4 * emb_dim),
   GELU(approximate="tanh"), nn.Linear(4 * emb_dim, emb_dim)); forward(x) = layers(x),
   (B, T, emb_dim) -> (B, T, emb_dim). GPT-2 uses the tanh approximation of GELU.

3. TransformerBlock(cfg): att = MultiHeadAttention(emb_dim, emb_dim, context_length, drop_rate,
   n_heads, qkv_bias); ff = FeedForward(cfg); norm1, norm2 = LayerNorm(emb_dim) (07's, eps 1e-5
   as GPT-2's); drop_shortcut = nn.Dropout(drop_rate). Pre-norm, with dropout on each branch
   before it is added back:

       x = x + drop_shortcut(att(norm1(x)))
       x = x + drop_shortcut(ff(norm2(x)))

4. GPTModel(cfg): tok_emb = nn.Embedding(vocab_size, emb_dim); pos_emb =
   nn.Embedding(context_length, emb_dim); drop_emb = nn.Dropout(drop_rate); trf_blocks =
   nn.Sequential of n_layers TransformerBlocks; final_norm = LayerNorm(emb_dim); out_head =
   nn.Linear(emb_dim, vocab_size, bias=False), its own weight (no weight tying).
   forward(in_idx): in_idx is (B, T) int64 with T <= context_length; the result is the logits
   (B, T, vocab_size):

       x = drop_emb(tok_emb(in_idx) + pos_emb(positions 0..T-1))
       logits = out_head(final_norm(trf_blocks(x)))

   The parameter names are the book's but for the layer norms, which are 07's: `weight` and
   `bias` where the book says `scale` and `shift`. For n_layers=1: tok_emb.weight,
   pos_emb.weight, trf_blocks.0.att.W_query.weight (W_key, W_value, and their .bias with
   qkv_bias), trf_blocks.0.att.out_proj.weight and .bias, trf_blocks.0.ff.layers.0.weight and
   .bias, trf_blocks.0.ff.layers.2.weight and .bias, trf_blocks.0.norm1.weight and .bias,
   trf_blocks.0.norm2.weight and .bias, final_norm.weight and .bias, out_head.weight.

5. param_count(cfg, tie_weights=False): the number of parameters GPTModel(cfg) has, from the
   config alone (arithmetic, no model built). With tie_weights=True, the count of the same
   model whose out_head shares tok_emb's weight (as GPT-2 does): one vocab_size x emb_dim
   matrix fewer.

6. memory_mb(cfg, dtype=torch.float32): the memory GPTModel(cfg)'s parameters take in `dtype`,
   in MB of 1024 ** 2 bytes, as the book computes it (the untied count, 4 bytes a float32).

Worked example: the 124M configuration is the smallest GPT-2's shape; untied it has 163 million
parameters, of which 38.6 million are the output head.

    >>> import torch
    >>> cfg = GPTConfig(vocab_size=97, context_length=16, emb_dim=32, n_heads=4, n_layers=2)
    >>> model = GPTModel(cfg).eval()
    >>> model(torch.tensor([[5, 3, 96], [0, 1, 2]])).shape
    torch.Size([2, 3, 97])
    >>> sum(p.numel() for p in model.parameters()) == param_count(cfg)
    True
    >>> param_count(GPTConfig()), param_count(GPTConfig(), tie_weights=True)
    (163009536, 124412160)
    >>> round(memory_mb(GPTConfig()), 2)
    621.83
    >>> book = {"vocab_size": 50257, "context_length": 1024, "emb_dim": 768, "n_heads": 12,
    ...         "n_layers": 12, "drop_rate": 0.1, "qkv_bias": False}
    >>> GPTConfig.of(book) == GPTConfig()
    True

Rules: build the model from the blocks above and torch's nn.Embedding, nn.Linear, nn.Dropout
and nn.Sequential. No Hugging Face model inside, and no Python loop over positions or over the
batch: the grader counts tensor operations at several sequence lengths and batch sizes.

Check your work with `./kata check 12-gpt`; stuck? see the hints in README.md
(or `./kata hint 12-gpt`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from grader.blocks import GELU, LayerNorm, MultiHeadAttention


@dataclass(frozen=True)
class GPTConfig:
    """The model's shape: the book's GPT_CONFIG_124M keys, with its values as defaults."""

    # TODO(12-gpt): the seven fields with their defaults, e.g. `vocab_size: int = 50257`.

    @classmethod
    def of(cls, cfg: GPTConfig | dict[str, Any]) -> GPTConfig:
        """cfg itself when it is a GPTConfig; GPTConfig(**cfg) for the book's dict."""
        # TODO(12-gpt): return cfg unchanged if it is already a GPTConfig, else cls(**cfg).
        raise NotImplementedError("12-gpt: GPTConfig")


class FeedForward(nn.Module):
    """Position-wise MLP: emb_dim -> 4 * emb_dim -> GELU (tanh) -> emb_dim."""

    def __init__(self, cfg: GPTConfig | dict[str, Any]) -> None:
        """Create layers = Sequential(Linear(emb, 4 emb), GELU("tanh"), Linear(4 emb, emb))."""
        # TODO(12-gpt): super().__init__(); cfg = GPTConfig.of(cfg); build self.layers.
        raise NotImplementedError("12-gpt: FeedForward")

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, emb_dim) -> (B, T, emb_dim), each position on its own."""
        # TODO(12-gpt): run x through self.layers.
        raise NotImplementedError("12-gpt: FeedForward")


class TransformerBlock(nn.Module):
    """Pre-norm block: x + drop(att(norm1(x))), then + drop(ff(norm2(x)))."""

    def __init__(self, cfg: GPTConfig | dict[str, Any]) -> None:
        """Create att, ff, norm1, norm2 and drop_shortcut."""
        # TODO(12-gpt): super().__init__(); cfg = GPTConfig.of(cfg); the five submodules.
        raise NotImplementedError("12-gpt: TransformerBlock")

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, emb_dim) -> (B, T, emb_dim)."""
        # TODO(12-gpt): two pre-norm residual branches, attention then feed-forward.
        raise NotImplementedError("12-gpt: TransformerBlock")


class GPTModel(nn.Module):
    """Token ids (B, T) -> logits (B, T, vocab_size)."""

    def __init__(self, cfg: GPTConfig | dict[str, Any]) -> None:
        """Create tok_emb, pos_emb, drop_emb, trf_blocks, final_norm and out_head."""
        # TODO(12-gpt): super().__init__(); cfg = GPTConfig.of(cfg); the six submodules.
        raise NotImplementedError("12-gpt: GPTModel")

    def forward(self, in_idx: Tensor) -> Tensor:
        """Return the logits (B, T, vocab_size) for in_idx (B, T), T <= context_length."""
        # TODO(12-gpt): token + position embeddings, dropout, the blocks, final norm, head.
        raise NotImplementedError("12-gpt: GPTModel")


def param_count(cfg: GPTConfig | dict[str, Any], tie_weights: bool = False) -> int:
    """Parameters of GPTModel(cfg); with tie_weights, out_head shares tok_emb's weight."""
    # TODO(12-gpt): add up every weight and bias from the config; tied, drop one V x C matrix.
    raise NotImplementedError("12-gpt: param_count")


def memory_mb(cfg: GPTConfig | dict[str, Any], dtype: torch.dtype = torch.float32) -> float:
    """MB (1024 ** 2 bytes) that GPTModel(cfg)'s parameters take in dtype (untied)."""
    # TODO(12-gpt): parameters (untied) x bytes per element of dtype, divided by 1024 ** 2.
    raise NotImplementedError("12-gpt: memory_mb")
