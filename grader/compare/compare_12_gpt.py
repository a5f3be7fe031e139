"""`kata compare 12-gpt`: the GPT's parts against the reference's, same weights, and the counts.

Run by the grader's worker like a spec (grader/harness/comparison_row.py says how a row travels).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from grader.harness.comparison_row import bare, compare_call, report_row, without_grad
from grader.strategies import randn

pytestmark = pytest.mark.rung("12-gpt")

B, T = 4, 128
CFG = {"vocab_size": 5000, "context_length": 128, "emb_dim": 256, "n_heads": 8, "n_layers": 4,
       "drop_rate": 0.1, "qkv_bias": False}
BOOK_124M = {"vocab_size": 50257, "context_length": 1024, "emb_dim": 768, "n_heads": 12,
             "n_layers": 12, "drop_rate": 0.1, "qkv_bias": False}


def _same_weights(kind: str, candidate: Any, reference: Any, device: torch.device,
                  make_inputs: Any, note: str) -> None:
    torch.manual_seed(0)
    theirs = getattr(reference, kind)(reference.GPTConfig.of(CFG)).to(device).eval()
    mine = getattr(candidate, kind)(candidate.GPTConfig.of(CFG)).to(device).eval()
    mine.load_state_dict(dict(theirs.named_parameters()), strict=False)
    with torch.no_grad():
        learner_output, reference_output = mine(*make_inputs(0)), theirs(*make_inputs(0))
    report_row(learner_output, reference_output, (without_grad(mine), without_grad(theirs)),
               make_inputs, note=note)


def _x(device: torch.device) -> Any:
    return lambda slot: (randn((B, T, CFG["emb_dim"]), slot, torch.float32, device),)


@pytest.mark.task("FeedForward", category="values")
def test_feed_forward(candidate, reference, device):
    _same_weights("FeedForward", candidate, reference, device, _x(device),
                  f"emb_dim {CFG['emb_dim']}, x ({B}, {T}, {CFG['emb_dim']})")


@pytest.mark.task("TransformerBlock", category="values")
def test_transformer_block(candidate, reference, device):
    _same_weights("TransformerBlock", candidate, reference, device, _x(device),
                  f"{CFG['n_heads']} heads, x ({B}, {T}, {CFG['emb_dim']}), eval mode")


@pytest.mark.task("GPTModel", category="values")
def test_gpt_model(candidate, reference, device):
    def ids(slot: int) -> tuple[torch.Tensor]:
        generator = torch.Generator().manual_seed(slot)
        return (torch.randint(0, CFG["vocab_size"], (B, T), generator=generator).to(device),)

    _same_weights("GPTModel", candidate, reference, device, ids,
                  f"{CFG['n_layers']} layers of {CFG['emb_dim']}, vocab {CFG['vocab_size']}, "
                  f"in_idx ({B}, {T}), eval mode")


def _built_and_counted(reference: Any, tie_weights: bool) -> int:
    with torch.device("meta"):
        model: nn.Module = reference.GPTModel(reference.GPTConfig.of(BOOK_124M))
    if tie_weights:
        model.out_head.weight = model.tok_emb.weight
    return sum(p.numel() for p in model.parameters())


@pytest.mark.task("param_count", category="values")
def test_param_count(candidate, reference):
    def both(fn: Any) -> Any:
        return lambda *_: [fn(dict(BOOK_124M), tie_weights=tie) for tie in (False, True)]

    compare_call(both(bare(candidate.param_count)), both(reference.param_count), lambda slot: (),
                 ("the reference's model on the meta device, counted",
                  lambda *_: [_built_and_counted(reference, tie) for tie in (False, True)]),
                 note="GPT_CONFIG_124M, untied and tied")


@pytest.mark.task("memory_mb", category="values")
def test_memory_mb(candidate, reference):
    def dtypes(fn: Any) -> Any:
        return lambda *_: [fn(dict(BOOK_124M), dtype) for dtype in (torch.float32, torch.bfloat16)]

    compare_call(dtypes(bare(candidate.memory_mb)), dtypes(reference.memory_mb), lambda slot: (),
                 note="GPT_CONFIG_124M in float32 and bfloat16")
