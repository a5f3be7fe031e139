"""`kata compare 13-generation`: decoding and the KV cache against the reference.

Run by the grader's worker like a spec (grader/harness/comparison_row.py says how a row travels).
The model is 12's GPTModel at a small but not tiny size, float32, eval mode; the uncached loop is
the "built-in" column of the cached one, to show what the cache saves.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from grader.blocks import GPTConfig, GPTModel
from grader.harness.comparison_row import compare_call, report_row

pytestmark = pytest.mark.rung("13-generation")

CONFIG = GPTConfig(vocab_size=512, context_length=256, emb_dim=128, n_heads=4, n_layers=2,
                   drop_rate=0.0)
B, PROMPT, NEW = 2, 32, 32


def _model(device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    return GPTModel(CONFIG).to(device).eval()


def _prompt(slot: int, device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(slot)
    return torch.randint(0, CONFIG.vocab_size, (B, PROMPT), generator=generator).to(device)


@pytest.mark.task("generate_text_simple", category="values")
def test_generate_text_simple(candidate, reference, device):
    model = _model(device)

    def inputs(slot: int) -> tuple:
        return model, _prompt(slot, device), NEW, CONFIG.context_length

    compare_call(candidate.generate_text_simple, reference.generate_text_simple, inputs,
                 note=f"idx ({B}, {PROMPT}), {NEW} new tokens, emb 128, 2 layers")


@pytest.mark.task("generate", category="values")
def test_generate(candidate, reference, device):
    model = _model(device)

    def inputs(slot: int) -> tuple:
        return model, _prompt(slot, device), NEW, CONFIG.context_length, 1.0, 40, 0.9

    def seeded(fn):
        def call(*args):
            return fn(*args, generator=torch.Generator(device).manual_seed(0))
        return call

    compare_call(seeded(candidate.generate), seeded(reference.generate), inputs,
                 note=f"temperature 1.0, top_k 40, top_p 0.9, {NEW} new tokens")


@pytest.mark.task("generate_text_simple_cached", category="values")
def test_generate_text_simple_cached(candidate, reference, device):
    plain = _model(device)
    cfg = dataclasses.asdict(CONFIG)
    mine = candidate.GPTModelWithKVCache(cfg).to(device).eval()
    theirs = reference.GPTModelWithKVCache(cfg).to(device).eval()
    mine.load_state_dict(plain.state_dict(), strict=False)
    theirs.load_state_dict(plain.state_dict(), strict=False)

    def inputs(slot: int) -> tuple:
        return _prompt(slot, device), NEW

    def learner(idx, new):
        return candidate.generate_text_simple_cached(mine, idx, new)

    def ours(idx, new):
        return reference.generate_text_simple_cached(theirs, idx, new)

    def uncached(idx, new):
        return reference.generate_text_simple(plain, idx, new, CONFIG.context_length)

    report_row(learner(*inputs(0)), ours(*inputs(0)), (learner, ours), inputs,
               ("no cache (generate_text_simple)", uncached),
               note=f"idx ({B}, {PROMPT}), {NEW} new tokens, KV cache")
