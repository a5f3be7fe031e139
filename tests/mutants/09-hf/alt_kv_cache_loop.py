"""09-hf alternative: a hand-written decoding loop with a KV cache, and a gathered last token.

Correct, but written differently from the reference: the model loads with its default attention
and is switched to eager afterwards; the tokenizer class is named instead of found by AutoTokenizer;
generate feeds one token at a time with past_key_values instead of calling model.generate;
the log-probabilities gather each row's last real token through the mask (which would also serve
right padding) and are computed as logits - logsumexp under inference_mode.
"""

from __future__ import annotations

import torch
from torch import Tensor
from transformers import (
    AutoModelForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)

KATA_EXPECT = {"status": "pass"}


def load_causal_lm(path: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load (model, tokenizer) from the local directory `path`: eval mode, eager attention."""
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    model.set_attn_implementation("eager")
    model.train(False)
    return model, PreTrainedTokenizerFast.from_pretrained(path, local_files_only=True)


def generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompt: str,
    max_new_tokens: int,
    greedy: bool = True,
) -> str:
    """Continue `prompt` by at most max_new_tokens tokens; return only the new text."""
    ids = torch.tensor([tokenizer.encode(prompt)], device=model.device)  # (1, T)
    new: list[int] = []
    past = None
    with torch.no_grad():
        for _ in range(max_new_tokens):
            out = model(input_ids=ids, past_key_values=past, use_cache=True)
            past = out.past_key_values
            logits = out.logits[0, -1]  # (V,)
            if greedy:
                token = int(logits.argmax())
            else:
                token = int(torch.multinomial(torch.softmax(logits, dim=-1), 1))
            if token == tokenizer.eos_token_id:
                break
            new.append(token)
            ids = torch.tensor([[token]], device=model.device)  # the cache holds the rest
    return tokenizer.decode(new)


def attention_maps(model: PreTrainedModel, input_ids: Tensor) -> tuple[Tensor, ...]:
    """Return one (B, H, T, T) attention-weight tensor per layer for input_ids (B, T)."""
    with torch.inference_mode():
        return model(input_ids, output_attentions=True).attentions


def next_token_logprobs(
    model: PreTrainedModel, input_ids: Tensor, attention_mask: Tensor | None = None
) -> Tensor:
    """Return log p(next token) at the last position of each row of input_ids (B, T): (B, V).

    attention_mask (B, T), when given, marks real tokens with 1 and left padding with 0.
    """
    B, T = input_ids.shape
    mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
    positions = (mask.cumsum(dim=1) - 1).masked_fill(mask == 0, 0)  # (B, T)
    last = T - 1 - mask.flip(1).argmax(dim=1)  # (B,) column of each row's last real token
    with torch.inference_mode():
        logits = model(input_ids, attention_mask=mask, position_ids=positions).logits  # (B, T, V)
        picked = logits[torch.arange(B, device=logits.device), last]  # (B, V)
        return picked - picked.logsumexp(dim=-1, keepdim=True)
