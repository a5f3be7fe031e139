"""13-generation mutant: ptr_current_pos never advances.

A copy of the reference with this one mistake; the grader must fail it as KATA_EXPECT says.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from grader.blocks import GPTConfig, GPTModel, MultiHeadAttention

KATA_EXPECT = {'status': 'fail', 'task': 'MultiHeadAttentionWithKVCache', 'category': 'properties', 'message': 'ptr_current_pos is 0 after 6 cached positions'}


def generate_text_simple(model: nn.Module, idx: Tensor, max_new_tokens: int,
                         context_size: int) -> Tensor:
    """Greedy decoding: append the argmax of the last position's logits max_new_tokens times."""
    for _ in range(max_new_tokens):
        idx_cond = idx[:, -context_size:]  # (B, <= context_size): the model sees no more
        with torch.no_grad():
            logits = model(idx_cond)[:, -1, :]  # (B, T, V) -> (B, V): only the next token's
        idx_next = torch.argmax(logits, dim=-1, keepdim=True)  # (B, 1)
        idx = torch.cat((idx, idx_next), dim=1)  # (B, T + 1)
    return idx


def _keep_top_k(logits: Tensor, top_k: int) -> Tensor:
    """-inf below each row's k-th largest logit (ties with it kept): (B, V) -> (B, V)."""
    kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1): the k-th largest
    return logits.masked_fill(logits < kth, float("-inf"))


def _keep_top_p(logits: Tensor, top_p: float) -> Tensor:
    """-inf outside each row's nucleus: the fewest most likely tokens reaching top_p, ties kept."""
    probs = torch.softmax(logits, dim=-1)  # (B, V)
    sorted_probs = torch.sort(probs, dim=-1, descending=True).values  # (B, V)
    mass_before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs  # (B, V): of likelier ones
    # a token is in the nucleus while the likelier tokens have not reached top_p yet; the first
    # always is (nothing before it), and so is the one that crosses top_p
    kept = (mass_before < top_p).sum(dim=-1, keepdim=True)  # (B, 1), >= 1
    threshold = sorted_probs.gather(-1, kept - 1)  # (B, 1): the last kept token's probability
    return logits.masked_fill(probs < threshold, float("-inf"))


def generate(model: nn.Module, idx: Tensor, max_new_tokens: int, context_size: int,
             temperature: float = 0.0, top_k: int | None = None, top_p: float | None = None,
             eos_id: int | None = None, generator: torch.Generator | None = None) -> Tensor:
    """Greedy (temperature 0) or sampled decoding with top-k, top-p and an end-of-text id."""
    for _ in range(max_new_tokens):
        idx_cond = idx[:, -context_size:]  # (B, <= context_size)
        with torch.no_grad():
            logits = model(idx_cond)[:, -1, :]  # (B, V)
        if temperature > 0.0:
            logits = logits / temperature  # the distribution top-p measures is the sampled one
            if top_k is not None:
                logits = _keep_top_k(logits, top_k)
            if top_p is not None:
                logits = _keep_top_p(logits, top_p)
            probs = torch.softmax(logits, dim=-1)  # (B, V), exp(-inf) = 0 for dropped tokens
            idx_next = torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)
        else:
            idx_next = torch.argmax(logits, dim=-1, keepdim=True)  # (B, 1)
        if eos_id is not None and bool((idx_next == eos_id).all()):
            break  # every row ended: the end token itself is not appended
        idx = torch.cat((idx, idx_next), dim=1)  # (B, T + 1)
    return idx


class MultiHeadAttentionWithKVCache(MultiHeadAttention):
    """08's MultiHeadAttention that can keep the keys and values of the positions it has seen."""

    def __init__(self, d_in: int, d_out: int, context_length: int, dropout: float,
                 num_heads: int, qkv_bias: bool = False) -> None:
        """08's constructor, plus an empty cache: cache_k = cache_v = None, ptr_current_pos = 0."""
        super().__init__(d_in, d_out, context_length, dropout, num_heads, qkv_bias)
        self.cache_k: Tensor | None = None
        self.cache_v: Tensor | None = None
        self.ptr_current_pos = 0

    def forward(self, x: Tensor, use_cache: bool = False) -> Tensor:
        """(B, T, d_in) -> (B, T, d_out); with use_cache, x continues the cached positions."""
        if not use_cache:
            return super().forward(x)
        B, T, _ = x.shape
        H, hd = self.num_heads, self.head_dim
        start = self.ptr_current_pos
        if start + T > self.context_length:
            raise ValueError(f"{start} cached positions + {T} new exceed "
                             f"context_length={self.context_length}")
        q = self.W_query(x).view(B, T, H, hd).transpose(1, 2)  # (B, H, T, hd)
        k_new = self.W_key(x).view(B, T, H, hd).transpose(1, 2)  # (B, H, T, hd)
        v_new = self.W_value(x).view(B, T, H, hd).transpose(1, 2)  # (B, H, T, hd)
        if self.cache_k is None or self.cache_v is None:
            self.cache_k, self.cache_v = k_new, v_new
        else:  # only the new positions are projected; the old keys and values are reused
            self.cache_k = torch.cat((self.cache_k, k_new), dim=2)  # (B, H, S, hd)
            self.cache_v = torch.cat((self.cache_v, v_new), dim=2)  # (B, H, S, hd)
        S = start + T
        # query i sits at position start + i and may see keys 0..start + i
        mask = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=start)
        scores = q @ self.cache_k.transpose(-2, -1) / hd**0.5  # (B, H, T, S)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        context = self.dropout(weights) @ self.cache_v  # (B, H, T, S) @ (B, H, S, hd)
        context = context.transpose(1, 2).reshape(B, T, self.d_out)  # (B, T, H * hd)
        return self.out_proj(context)  # (B, T, d_out)

    def reset_cache(self) -> None:
        """Forget every cached position."""
        self.cache_k, self.cache_v = None, None
        self.ptr_current_pos = 0


class GPTModelWithKVCache(GPTModel):
    """12's GPTModel whose attention can cache keys and values: forward(in_idx, use_cache)."""

    def __init__(self, cfg: GPTConfig | dict[str, Any]) -> None:
        """GPTModel(cfg) with each block's att a MultiHeadAttentionWithKVCache; current_pos = 0."""
        super().__init__(cfg)
        cfg = GPTConfig.of(cfg)
        for block in self.trf_blocks:
            block.att = MultiHeadAttentionWithKVCache(cfg.emb_dim, cfg.emb_dim,
                                                      cfg.context_length, cfg.drop_rate,
                                                      cfg.n_heads, cfg.qkv_bias)
        self.current_pos = 0

    def forward(self, in_idx: Tensor, use_cache: bool = False) -> Tensor:
        """Logits (B, T, vocab_size); with use_cache, in_idx continues the cached positions."""
        if not use_cache:
            return super().forward(in_idx)
        _, T = in_idx.shape
        # these tokens come after the cached ones: their positions continue from current_pos
        positions = torch.arange(self.current_pos, self.current_pos + T, device=in_idx.device)
        x = self.drop_emb(self.tok_emb(in_idx) + self.pos_emb(positions))  # (B, T, C)
        for block in self.trf_blocks:
            x = x + block.drop_shortcut(block.att(block.norm1(x), use_cache=True))  # (B, T, C)
            x = x + block.drop_shortcut(block.ff(block.norm2(x)))  # (B, T, C)
        self.current_pos += T
        return self.out_head(self.final_norm(x))  # (B, T, V)

    def reset_kv_cache(self) -> None:
        """Empty every block's cache and start the positions at 0 again."""
        for block in self.trf_blocks:
            block.att.reset_cache()
        self.current_pos = 0


def generate_text_simple_cached(model: nn.Module, idx: Tensor, max_new_tokens: int,
                                context_size: int | None = None,
                                use_cache: bool = True) -> Tensor:
    """Greedy decoding that feeds the model one new token a step, its KV cache holding the rest."""
    context = context_size or model.pos_emb.num_embeddings
    if not use_cache:
        return generate_text_simple(model, idx, max_new_tokens, context)
    with torch.no_grad():
        model.reset_kv_cache()  # a cache from an earlier prompt would be attended to
        logits = model(idx[:, -context:], use_cache=True)  # (B, T, V): fills the cache
        for _ in range(max_new_tokens):
            idx_next = logits[:, -1, :].argmax(dim=-1, keepdim=True)  # (B, 1)
            idx = torch.cat((idx, idx_next), dim=1)  # (B, T + 1)
            logits = model(idx_next, use_cache=True)  # (B, 1, V): one position of work
    return idx
