"""09-hf alternative: max_length from the prompt's length, the base model's attentions, float64.

Correct, but written differently from the reference: generate passes max_length = T +
max_new_tokens instead of max_new_tokens and decodes with batch_decode; the attention maps come
from the transformer body (model.transformer) rather than the LM head model; the log-softmax
runs in float64 and is cast back to the logits' dtype.
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
    model = AutoModelForCausalLM.from_pretrained(str(path), attn_implementation="eager")
    for module in model.modules():
        module.training = False
    return model, AutoTokenizer.from_pretrained(str(path))


def generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompt: str,
    max_new_tokens: int,
    greedy: bool = True,
) -> str:
    """Continue `prompt` by at most max_new_tokens tokens; return only the new text."""
    batch = tokenizer([prompt], return_tensors="pt")
    input_ids = batch["input_ids"].to(model.device)
    attention_mask = batch["attention_mask"].to(model.device)
    T = input_ids.shape[-1]
    with torch.no_grad():
        output = model.generate(input_ids=input_ids, attention_mask=attention_mask,
                                max_length=T + max_new_tokens, do_sample=not greedy,
                                num_return_sequences=1,
                                pad_token_id=tokenizer.eos_token_id)
    return tokenizer.batch_decode(output[:, T:], skip_special_tokens=True)[0]


def attention_maps(model: PreTrainedModel, input_ids: Tensor) -> tuple[Tensor, ...]:
    """Return one (B, H, T, T) attention-weight tensor per layer for input_ids (B, T)."""
    with torch.no_grad():
        body = model.base_model(input_ids=input_ids, output_attentions=True)
    return tuple(body["attentions"])


def next_token_logprobs(
    model: PreTrainedModel, input_ids: Tensor, attention_mask: Tensor | None = None
) -> Tensor:
    """Return log p(next token) at the last position of each row of input_ids (B, T): (B, V).

    attention_mask (B, T), when given, marks real tokens with 1 and left padding with 0.
    """
    mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
    position_ids = torch.where(mask.bool(), mask.cumsum(-1) - 1, 0)
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=mask,
                       position_ids=position_ids).logits
    return logits[:, -1].double().log_softmax(-1).to(logits.dtype)
