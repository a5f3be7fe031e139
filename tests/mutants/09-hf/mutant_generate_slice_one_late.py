"""09-hf mutant: generate slices the output one token late, output[0, T + 1:], and loses the first new token.

A copy of the reference with this one mistake; the grader must fail it as KATA_EXPECT says.
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

KATA_EXPECT = {"status": "fail", "task": "generate", "category": "values",
               "message": "the first new token is missing: the slice starts one token late",
               "not_message": ["the slice starts one token early",
                               " tokens of the greedy continuation, not the first"]}


def load_causal_lm(path: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load (model, tokenizer) from the local directory `path`: eval mode, eager attention."""
    # eager attention materialises the (B, H, T, T) weights that output_attentions returns
    model = AutoModelForCausalLM.from_pretrained(
        path, attn_implementation="eager", local_files_only=True
    )
    model.eval()  # dropout off: the same input always gives the same logits
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return model, tokenizer


def generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompt: str,
    max_new_tokens: int,
    greedy: bool = True,
) -> str:
    """Continue `prompt` by at most max_new_tokens tokens; return only the new text."""
    encoded = tokenizer(prompt, return_tensors="pt").to(model.device)
    T = encoded["input_ids"].shape[1]
    with torch.no_grad():
        output = model.generate(
            **encoded,
            max_new_tokens=max_new_tokens,  # not max_length, which counts the prompt too
            do_sample=not greedy,
            num_return_sequences=1,  # one text, whatever the model's generation defaults say
            pad_token_id=tokenizer.eos_token_id,  # GPT-2 has no pad token; this silences a warning
        )  # (1, T + new)
    # the output starts with the prompt's T tokens; the continuation is what follows
    return tokenizer.decode(output[0, T + 1:], skip_special_tokens=True)


def attention_maps(model: PreTrainedModel, input_ids: Tensor) -> tuple[Tensor, ...]:
    """Return one (B, H, T, T) attention-weight tensor per layer for input_ids (B, T)."""
    with torch.no_grad():
        outputs = model(input_ids=input_ids, output_attentions=True)
    return tuple(outputs.attentions)  # n_layer tensors, each (B, H, T, T)


def next_token_logprobs(
    model: PreTrainedModel, input_ids: Tensor, attention_mask: Tensor | None = None
) -> Tensor:
    """Return log p(next token) at the last position of each row of input_ids (B, T): (B, V).

    attention_mask (B, T), when given, marks real tokens with 1 and left padding with 0.
    """
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    # positions count real tokens only, as generate() numbers them: pads first, then 0, 1, ...
    position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)  # (B, T)
    with torch.no_grad():
        logits = model(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids
        ).logits  # (B, T, V)
    # left padding puts every row's last real token in the last column
    return torch.log_softmax(logits[:, -1, :], dim=-1)  # (B, V)
