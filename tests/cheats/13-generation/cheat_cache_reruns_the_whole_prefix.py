"""Class 2: a "KV cache" that keeps the token ids and reruns the uncached model on all of them.

Every cached output is right (it is the uncached model's output, sliced to the new positions),
so every values check passes; the cache saves nothing. It counts on the checks comparing only
outputs.

Written for rung 13 (not run against c952621): the structure checks see every Linear of a
cached step run on the whole prefix, and the op-count check is not what catches it (one batched
rerun dispatches the same ops at every length).
"""

import torch
from torch import nn

from grader.blocks import GPTModel, MultiHeadAttention

KATA_CHEAT = {"expect": {"status": "fail", "message": "the cache recomputes the prefix"},
              "max_points": 9, "class": 2, "rung": "13-generation", "worked": False,
              "observed": "written for rung 13; passes every values check"}


def generate_text_simple(model, idx, max_new_tokens, context_size):
    for _ in range(max_new_tokens):
        with torch.no_grad():
            logits = model(idx[:, -context_size:])[:, -1, :]
        idx = torch.cat((idx, logits.argmax(dim=-1, keepdim=True)), dim=1)
    return idx


def generate(model, idx, max_new_tokens, context_size, temperature=0.0, top_k=None, top_p=None,
             eos_id=None, generator=None):
    for _ in range(max_new_tokens):
        with torch.no_grad():
            logits = model(idx[:, -context_size:])[:, -1, :]
        if temperature > 0.0:
            logits = logits / temperature
            if top_k is not None:
                kth = torch.topk(logits, top_k).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            if top_p is not None:
                probs = torch.softmax(logits, -1)
                ordered = probs.sort(-1, descending=True).values
                kept = ((ordered.cumsum(-1) - ordered) < top_p).sum(-1, keepdim=True)
                logits = logits.masked_fill(probs < ordered.gather(-1, kept - 1), float("-inf"))
            nxt = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)
        else:
            nxt = logits.argmax(dim=-1, keepdim=True)
        if eos_id is not None and bool((nxt == eos_id).all()):
            break
        idx = torch.cat((idx, nxt), dim=1)
    return idx


class MultiHeadAttentionWithKVCache(MultiHeadAttention):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__(d_in, d_out, context_length, dropout, num_heads, qkv_bias)
        self.cache_k = self.cache_v = None
        self.ptr_current_pos = 0

    def forward(self, x, use_cache=False):
        if not use_cache:
            return super().forward(x)
        if self.ptr_current_pos + x.shape[1] > self.context_length:
            raise ValueError("past the context")
        seen = x if self.cache_k is None else torch.cat((self.cache_k, x), dim=1)
        self.cache_k = self.cache_v = seen  # the inputs, not keys: everything is recomputed
        self.ptr_current_pos += x.shape[1]
        return super().forward(seen)[:, -x.shape[1]:]

    def reset_cache(self):
        self.cache_k = self.cache_v = None
        self.ptr_current_pos = 0


class GPTModelWithKVCache(GPTModel):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.seen = None
        self.current_pos = 0

    def forward(self, in_idx, use_cache=False):
        if not use_cache:
            return super().forward(in_idx)
        self.seen = in_idx if self.seen is None else torch.cat((self.seen, in_idx), dim=1)
        self.current_pos += in_idx.shape[1]
        return super().forward(self.seen)[:, -in_idx.shape[1]:]

    def reset_kv_cache(self):
        self.seen = None
        self.current_pos = 0


def generate_text_simple_cached(model, idx, max_new_tokens, context_size=None, use_cache=True):
    context = context_size or model.pos_emb.num_embeddings
    with torch.no_grad():
        model.reset_kv_cache()
        logits = model(idx[:, -context:], use_cache=use_cache)
        for _ in range(max_new_tokens):
            nxt = logits[:, -1, :].argmax(dim=-1, keepdim=True)
            idx = torch.cat((idx, nxt), dim=1)
            logits = model(nxt, use_cache=True) if use_cache else model(idx[:, -context:])
    return idx


_ = nn
