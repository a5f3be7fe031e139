"""09-hf alternative: generation as a loop over next_token_logprobs, without a cache.

Correct, but written differently from the reference: every step reruns the whole sequence through
next_token_logprobs and takes the argmax (or samples with torch.multinomial), stopping at
end-of-text; the tokens are decoded with skip_special_tokens; the attention maps come back as a
list.
"""

from __future__ import annotations

import torch
from torch import Tensor
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

KATA_EXPECT = {"status": "pass"}


def load_causal_lm(path: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load (model, tokenizer) from the local directory `path`: eval mode, eager attention."""
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="eager").eval()
    return model, tokenizer


def generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompt: str,
    max_new_tokens: int,
    greedy: bool = True,
) -> str:
    """Continue `prompt` by at most max_new_tokens tokens; return only the new text."""
    ids = tokenizer(prompt, return_tensors="pt").input_ids.to(model.device)  # (1, T)
    T = ids.shape[1]
    for _ in range(max_new_tokens):
        logp = next_token_logprobs(model, ids)  # (1, V)
        token = logp.argmax(-1, keepdim=True) if greedy else torch.multinomial(logp.exp(), 1)
        ids = torch.cat([ids, token], dim=1)  # (1, T + step + 1)
        if token.item() == tokenizer.eos_token_id:
            break
    return tokenizer.decode(ids[0, T:].tolist(), skip_special_tokens=True)


def attention_maps(model: PreTrainedModel, input_ids: Tensor) -> tuple[Tensor, ...]:
    """Return one (B, H, T, T) attention-weight tensor per layer for input_ids (B, T)."""
    with torch.no_grad():
        return [layer for layer in model(input_ids, output_attentions=True).attentions]


def next_token_logprobs(
    model: PreTrainedModel, input_ids: Tensor, attention_mask: Tensor | None = None
) -> Tensor:
    """Return log p(next token) at the last position of each row of input_ids (B, T): (B, V).

    attention_mask (B, T), when given, marks real tokens with 1 and left padding with 0.
    """
    kwargs = {}
    if attention_mask is not None:
        kwargs = {"attention_mask": attention_mask,
                  "position_ids": (attention_mask.cumsum(-1) - 1).clamp(min=0)}
    with torch.no_grad():
        last = model(input_ids, **kwargs).logits[:, -1]  # (B, V)
    return torch.nn.functional.log_softmax(last, dim=-1)
