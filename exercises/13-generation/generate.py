"""13-generation: turning a GPT's logits into text, chapters 4 and 5 of "Build a Large Language
Model (From Scratch)".

A GPT gives, for every position, one score (logit) per vocabulary entry for the token that comes
next. Generating text is a loop: run the model on the tokens so far, take the logits of the last
position, choose one token from them, append it, repeat. How the token is chosen is the decoding
strategy; a KV cache makes each step cost one token's work instead of the whole sequence's.

The model is 12-gpt's GPTModel (`from grader.blocks import GPTModel, GPTConfig`, already at the
top of this file: yours when 12-gpt passes, the reference's otherwise). Every function takes the
model as it is handed and leaves it so: it never calls model.eval() or model.train() (the caller
puts the model in eval mode first, as the book does) and runs the model under torch.no_grad().
`idx` is a (B, T) int64 tensor of token ids; every function returns a new (B, T + n) tensor, the
prompt followed by the n tokens it generated, and never changes idx.

1. generate_text_simple(model, idx, max_new_tokens, context_size): the book's greedy loop,
   max_new_tokens times:

       idx_cond = idx[:, -context_size:]          crop to the last context_size tokens
       logits = model(idx_cond)[:, -1, :]         (B, vocab_size): the last position only
       idx_next = argmax over the vocabulary      (B, 1), keepdim=True
       idx = torch.cat((idx, idx_next), dim=1)

   On a tie argmax takes the lowest id (torch.argmax does).

2. generate(model, idx, max_new_tokens, context_size, temperature=0.0, top_k=None, top_p=None,
   eos_id=None, generator=None): the book's generate with nucleus sampling and a generator.
   Each step takes the last position's logits of the cropped context, as in task 1, then:
   - temperature == 0.0: greedy, the argmax (top_k and top_p then change nothing).
   - temperature > 0.0: sample from softmax(filtered logits / temperature), where filtering sets
     the logits of the tokens it drops to -inf:
     top_k (an int >= 1): keep every token whose logit is >= the k-th largest logit of its row
       (the book's rule: logits below torch.topk(logits, top_k).values[:, -1] become -inf; so a
       tie at the k-th place keeps every tied token).
     top_p (a float in (0, 1], after top_k): on the row's probabilities p = softmax(logits /
       temperature), sort descending and keep the smallest run of most likely tokens whose total
       probability reaches top_p (>= top_p), the token that crosses top_p included; then keep
       every token whose p is >= the last kept one's (a tie at the boundary keeps every tied
       token). The most likely token is always kept; top_p=1.0 keeps every token.
     Then draw one token per row with torch.multinomial(probs, num_samples=1,
     generator=generator), probs = softmax(filtered logits / temperature) of shape (B, vocab):
     with the same generator, your ids and the reference's are the same. With a generator,
     draw from it alone, never from torch's global RNG.
   - eos_id: when the tokens chosen at a step are all eos_id (every row's), stop before
     appending them: the result never ends in that step's eos_id tokens (the book's rule for one
     row). With several rows, a row's eos_id is appended like any other token at a step where
     some other row chose something else.

3. MultiHeadAttentionWithKVCache(d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
   08's MultiHeadAttention (subclass it: the same constructor and parameters) with the book's
   KV cache. __init__ also sets cache_k = cache_v = None and ptr_current_pos = 0.
   forward(x, use_cache=False): x is (B, T, d_in).
   - use_cache=False: exactly 08's forward (causal attention over the T positions of x); the
     cache is neither read nor written.
   - use_cache=True: the T rows of x are the next T positions after the ptr_current_pos cached
     ones. Project only x to keys and values and append them to cache_k and cache_v (the layout
     is yours: the book keeps (B, S, num_heads, head_dim)); the T queries attend over all the
     S = ptr_current_pos + T cached keys, query i (position ptr_current_pos + i) to keys
     0..ptr_current_pos + i; then ptr_current_pos += T. ValueError when ptr_current_pos + T >
     context_length.
   reset_cache(): cache_k = cache_v = None, ptr_current_pos = 0.

4. GPTModelWithKVCache(cfg): 12's GPTModel (subclass it) whose every block's att is a
   MultiHeadAttentionWithKVCache: the same parameters under the same names, so
   `load_state_dict(gpt_model.state_dict())` copies a GPTModel into it. __init__ also sets
   current_pos = 0.
   forward(in_idx, use_cache=False): use_cache=False gives GPTModel's logits. use_cache=True
   feeds the blocks' attention use_cache=True and embeds the positions current_pos ..
   current_pos + T - 1 (not 0 .. T - 1: these tokens come after the cached ones); then
   current_pos += T. The same pre-norm blocks as 12 (x + drop(att(norm1(x))), then
   x + drop(ff(norm2(x)))).
   reset_kv_cache(): every block's att.reset_cache(), and current_pos = 0.

5. generate_text_simple_cached(model, idx, max_new_tokens, context_size=None, use_cache=True):
   the book's cached greedy loop; model is a GPTModelWithKVCache, context_size defaults to
   model.pos_emb.num_embeddings. With use_cache: reset the cache (a cache left by an earlier
   prompt must not leak in), run the model once on the prompt idx[:, -context_size:], then each
   step take the argmax of the last logits, append it, and feed the model that one new token
   only. Without use_cache: generate_text_simple(model, idx, max_new_tokens, context_size).
   The cropped prompt plus max_new_tokens must fit in the model's context (the grader never
   asks for more); while it also fits in context_size, both ways give the same ids.

Worked example: an untrained model's greedy text is gibberish, but it is the same with and
without the cache.

    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> cfg = GPTConfig(vocab_size=97, context_length=64, emb_dim=32, n_heads=4, n_layers=2)
    >>> model = GPTModelWithKVCache(cfg).eval()
    >>> prompt = torch.tensor([[5, 3, 96]])
    >>> greedy = generate_text_simple(model, prompt, max_new_tokens=4, context_size=64)
    >>> greedy.shape
    torch.Size([1, 7])
    >>> torch.equal(generate_text_simple_cached(model, prompt, max_new_tokens=4), greedy)
    True
    >>> g = torch.Generator().manual_seed(123)
    >>> sampled = generate(model, prompt, 4, 64, temperature=1.0, top_k=5, generator=g)
    >>> torch.equal(sampled[:, :3], prompt), sampled.shape
    (True, torch.Size([1, 7]))

Rules: build on the blocks and torch's tensor operations; no Hugging Face generate, and no loop
over the prefix inside a cached step: the grader counts the tensor operations of one cached step
after prompts of several lengths, and checks that it projects only the new tokens.

Check your work with `./kata check 13-generation`; stuck? see the hints in README.md
(or `./kata hint 13-generation`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from grader.blocks import GPTConfig, GPTModel, MultiHeadAttention


def generate_text_simple(model: nn.Module, idx: Tensor, max_new_tokens: int,
                         context_size: int) -> Tensor:
    """Greedy decoding: append the argmax of the last position's logits max_new_tokens times."""
    # TODO(13-generation): crop to the last context_size ids, last position's logits, argmax, cat.
    raise NotImplementedError("13-generation: generate_text_simple")


def generate(model: nn.Module, idx: Tensor, max_new_tokens: int, context_size: int,
             temperature: float = 0.0, top_k: int | None = None, top_p: float | None = None,
             eos_id: int | None = None, generator: torch.Generator | None = None) -> Tensor:
    """Greedy (temperature 0) or sampled decoding with top-k, top-p and an end-of-text id."""
    # TODO(13-generation): logits / temperature, top-k then top-p to -inf, multinomial, eos stop.
    raise NotImplementedError("13-generation: generate")


class MultiHeadAttentionWithKVCache(MultiHeadAttention):
    """08's MultiHeadAttention that can keep the keys and values of the positions it has seen."""

    def __init__(self, d_in: int, d_out: int, context_length: int, dropout: float,
                 num_heads: int, qkv_bias: bool = False) -> None:
        """08's constructor, plus an empty cache: cache_k = cache_v = None, ptr_current_pos = 0."""
        # TODO(13-generation): super().__init__(...) with every argument; then the empty cache.
        raise NotImplementedError("13-generation: MultiHeadAttentionWithKVCache")

    def forward(self, x: Tensor, use_cache: bool = False) -> Tensor:
        """(B, T, d_in) -> (B, T, d_out); with use_cache, x continues the cached positions."""
        # TODO(13-generation): project x only, append k and v to the cache, offset causal mask.
        raise NotImplementedError("13-generation: MultiHeadAttentionWithKVCache")

    def reset_cache(self) -> None:
        """Forget every cached position."""
        # TODO(13-generation): cache_k and cache_v back to None, ptr_current_pos back to 0.
        raise NotImplementedError("13-generation: MultiHeadAttentionWithKVCache")


class GPTModelWithKVCache(GPTModel):
    """12's GPTModel whose attention can cache keys and values: forward(in_idx, use_cache)."""

    def __init__(self, cfg: GPTConfig | dict[str, Any]) -> None:
        """GPTModel(cfg) with each block's att a MultiHeadAttentionWithKVCache; current_pos = 0."""
        # TODO(13-generation): super().__init__(cfg); give every block a cached att; current_pos.
        raise NotImplementedError("13-generation: GPTModelWithKVCache")

    def forward(self, in_idx: Tensor, use_cache: bool = False) -> Tensor:
        """Logits (B, T, vocab_size); with use_cache, in_idx continues the cached positions."""
        # TODO(13-generation): positions from current_pos, each block with use_cache, then head.
        raise NotImplementedError("13-generation: GPTModelWithKVCache")

    def reset_kv_cache(self) -> None:
        """Empty every block's cache and start the positions at 0 again."""
        # TODO(13-generation): reset_cache() on every block's att; current_pos back to 0.
        raise NotImplementedError("13-generation: GPTModelWithKVCache")


def generate_text_simple_cached(model: nn.Module, idx: Tensor, max_new_tokens: int,
                                context_size: int | None = None,
                                use_cache: bool = True) -> Tensor:
    """Greedy decoding that feeds the model one new token a step, its KV cache holding the rest."""
    # TODO(13-generation): reset, run the prompt once, then feed one new token per step.
    raise NotImplementedError("13-generation: generate_text_simple_cached")
