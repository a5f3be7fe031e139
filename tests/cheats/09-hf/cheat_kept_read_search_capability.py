"""Class 7 (limits: privilege drop incomplete): where Python lives under /root (pyenv, as here and
in many images), the worker keeps CAP_DAC_READ_SEARCH, and with 09-hf's pathlib it reads any
file on the machine.

Technique: isolation.needs_read_search() sees that the interpreter under /root (mode 0700) is
not world-readable, so worker.drop_privileges keeps CAP_DAC_READ_SEARCH for the fresh uid
(`keep_read`). That capability skips every read and search permission check, for the learner's
code too. 09-hf may use pathlib (catalog.toml), so `Path("/root").iterdir()` lists root's home,
`Path("/etc/shadow").read_bytes()` reads the password hashes, and so on: SSH keys, a CI runner's
token files, an autograder's credentials, other jobs' files on a shared grading host. (The
capability also allows open_by_handle_at(2), the classic way out of a container's mount
namespace.) A task raises the proof in its message; this copy shows only harmless bits: the
names in /root and the first field of /etc/shadow (mode 0640, root:shadow).

Observed at ffaefd4, all layers on: TODO 0/10; load_causal_lm's message lists /root's entries
and shows /etc/shadow's first field ('root'), both read by the worker as uid 204673 (not root)
through the kept capability.
"""

from __future__ import annotations

KATA_CHEAT = {"expect": {"status": "error", "message": "`.iterdir` leads out of the task to the interpreter, the pro"},
              "class": 7, "rung": "09-hf", "worked": True,
              "observed": "worker (non-root uid) lists /root and reads /etc/shadow"}


import torch
from torch import Tensor
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)


def load_causal_lm(path: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    from pathlib import Path

    root = sorted(entry.name for entry in Path("/root").iterdir())
    shadow = Path("/etc/shadow").read_bytes().split(b":", 1)[0].decode()
    uid = Path("/proc/self/status").read_text().split("Uid:")[1].split()[0]
    raise ValueError(f"uid {uid} read /root: {root}; /etc/shadow starts with {shadow!r}:")


def generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompt: str,
    max_new_tokens: int,
    greedy: bool = True,
) -> str:
    """Continue `prompt` by at most max_new_tokens tokens; return only the new text."""
    # TODO(09-hf): tokenize, model.generate(max_new_tokens=..., do_sample=...), decode the new ids.
    raise NotImplementedError("09-hf: generate")


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
