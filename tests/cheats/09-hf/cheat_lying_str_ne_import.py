"""Class 3 (judges fooled): a str whose `!=` always says "equal", bound by an import in the class
body, passes every check of generate without running the model.

Technique: the spec's check_generated compares with `if got != expected:` and
require(isinstance(got, str)). A str subclass with

    class Text(str):
        from warnings import warn as __ne__    # called as warn(expected): None, falsy

answers `got != expected` with None (a warning is issued and pytest collects it). A builtin is
no descriptor, so the comparison slot calls it with `expected` alone. (operator.not_, tried
first, fails on the one drawn example whose expected text is empty.) The import binds the
dunder without `def` or `=` (the rules' ClassDef check looks at FunctionDef, Assign and
AnnAssign only), and warnings.warn has no __code__ in the learner's file, so the run-time
Watcher's unsafe_dunders passes it. Only __ne__ is bound: a class that binds __eq__ loses its
__hash__, and the sampling check puts the texts in a set. Greedy calls return Text("·"); sampling
calls return a Text of a number drawn from torch's global RNG, so different seeds differ and the
same seed repeats. The other tasks are the exercise stub.

Observed at ffaefd4, all layers on: TODO 2.5/10, exit 1: generate passes every one of its checks
(the model is never called); the three stub tasks are todo.
"""

from __future__ import annotations

KATA_CHEAT = {"expect": {"status": "error", "message": "binding the name __ne__ lets an object decide how the grader"},
              "class": 3, "rung": "09-hf", "worked": True,
              "observed": "TODO 2.5/10: generate passes with a lying str, model never run"}


import torch
from torch import Tensor
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)


def load_causal_lm(path: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load (model, tokenizer) from the local directory `path`: eval mode, eager attention."""
    # TODO(09-hf): the Auto classes with attn_implementation="eager"; model.eval(); return the pair.
    raise NotImplementedError("09-hf: load_causal_lm")


class Text(str):
    from warnings import warn as __ne__


def generate(model, tokenizer, prompt, max_new_tokens, greedy=True):
    if greedy:
        return Text("·")
    return Text(str(int(torch.randint(0, 2**30, ()))))


def attention_maps(model: PreTrainedModel, input_ids: Tensor) -> tuple[Tensor, ...]:
    """Return one (B, H, T, T) attention-weight tensor per layer for input_ids (B, T)."""
    # TODO(09-hf): a forward under no_grad with output_attentions=True; every layer's weights.
    raise NotImplementedError("09-hf: attention_maps")


def next_token_logprobs(
    model: PreTrainedModel, input_ids: Tensor, attention_mask: Tensor | None = None
) -> Tensor:
    """Return log p(next token) at the last position of each row of input_ids (B, T): (B, V).

    attention_mask (B, T), when given, marks real tokens with 1 and left padding with 0.
    """
    # TODO(09-hf): forward with attention_mask and position_ids; log_softmax of the last logits.
    raise NotImplementedError("09-hf: next_token_logprobs")
