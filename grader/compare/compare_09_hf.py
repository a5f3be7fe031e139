"""`kata compare 09-hf`: loading, generating and reading a tiny GPT-2 against the reference.

Run by the grader's worker like a spec (grader/harness/comparison_row.py says how a row travels).
The model and tokenizer are the spec's own tiny ones, built locally and saved to a folder.
"""

from __future__ import annotations

import pytest
import torch

from grader.harness.comparison_row import bare, compare_call
from grader.specs.test_09_hf import saved_dir  # noqa: F401  the spec's fixture: the tiny model

pytestmark = pytest.mark.rung("09-hf")

PROMPTS = ["the cat sat on the", "once upon a time", "a model reads"]


@pytest.fixture(scope="module")
def loaded(reference, saved_dir, device):
    model, tokenizer = reference.load_causal_lm(str(saved_dir))
    return model.to(device), tokenizer


def _ids(loaded, slot: int) -> torch.Tensor:
    model, tokenizer = loaded
    text = PROMPTS[slot % len(PROMPTS)] + " and then"
    return torch.tensor([tokenizer(text)["input_ids"]] * 4, device=model.device)


@pytest.mark.task("load_causal_lm", category="values")
def test_load_causal_lm(candidate, reference, saved_dir, device):
    def logits_after_loading(fn):
        def run(path: str) -> torch.Tensor:
            model, tokenizer = fn(path)
            ids = torch.tensor([tokenizer(PROMPTS[0])["input_ids"]])
            with torch.no_grad():
                return model(input_ids=ids).logits
        return run

    compare_call(logits_after_loading(bare(candidate.load_causal_lm)),
                 logits_after_loading(reference.load_causal_lm), lambda slot: (str(saved_dir),),
                 note="load, then the logits of one prompt (eval mode: no dropout)")


@pytest.mark.task("generate", category="values")
def test_generate(candidate, reference, loaded):
    def inputs(slot: int) -> tuple:
        return (*loaded, PROMPTS[slot % len(PROMPTS)], 16)

    compare_call(candidate.generate, reference.generate, inputs,
                 note="greedy, 16 new tokens: the same text?")


@pytest.mark.task("attention_maps", category="values")
def test_attention_maps(candidate, reference, loaded):
    compare_call(candidate.attention_maps, reference.attention_maps,
                 lambda slot: (loaded[0], _ids(loaded, slot)), note="every layer's weights")


@pytest.mark.task("next_token_logprobs", category="values")
def test_next_token_logprobs(candidate, reference, loaded):
    def inputs(slot: int) -> tuple:
        ids = _ids(loaded, slot)
        mask = torch.ones_like(ids)
        mask[1:, :2] = 0  # left padding on all rows but the first
        return loaded[0], ids, mask

    compare_call(candidate.next_token_logprobs, reference.next_token_logprobs, inputs,
                 note="4 rows, 3 of them left-padded")
