"""`kata compare 17-lora`: the adapters against the reference's, same A and B, and the counts.

Run by the grader's worker like a spec (grader/harness/comparison_row.py says how a row travels).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from grader.harness.comparison_row import bare, compare_call, report_row, without_grad
from grader.strategies import randn

pytestmark = pytest.mark.rung("17-lora")

B, T, IN, OUT, RANK, ALPHA = 8, 128, 256, 512, 16, 16.0
CFG = {"vocab_size": 5000, "context_length": 128, "emb_dim": 256, "n_heads": 8, "n_layers": 4,
       "drop_rate": 0.0, "qkv_bias": False}
BOOK_124M = {"vocab_size": 50257, "context_length": 1024, "emb_dim": 768, "n_heads": 12,
             "n_layers": 12, "drop_rate": 0.1, "qkv_bias": False}


def _set_lora(module: nn.Module, device: torch.device) -> nn.Module:
    lora = getattr(module, "lora", module)
    with torch.no_grad():
        lora.A.copy_(randn(tuple(lora.A.shape), 1, torch.float32, device))
        lora.B.copy_(randn(tuple(lora.B.shape), 2, torch.float32, device) / 10)
    return module


def _x(device: torch.device) -> Any:
    return lambda slot: (randn((B, T, IN), slot, torch.float32, device),)


def _adapter(module: Any, cls: str, device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    linear = nn.Linear(IN, OUT).to(device)
    if cls == "LoRALayer":
        return _set_lora(module.LoRALayer(IN, OUT, RANK, ALPHA).to(device), device)
    return _set_lora(getattr(module, cls)(linear, RANK, ALPHA).to(device), device)


def _adapter_row(candidate: Any, reference: Any, device: torch.device, cls: str) -> None:
    mine, theirs = _adapter(candidate, cls, device), _adapter(reference, cls, device)
    make_inputs = _x(device)
    with torch.no_grad():
        learner_output, reference_output = mine(*make_inputs(0)), theirs(*make_inputs(0))
    report_row(learner_output, reference_output, (without_grad(mine), without_grad(theirs)),
               make_inputs, note=f"{IN} -> {OUT}, rank {RANK}, x ({B}, {T}, {IN})")


@pytest.mark.task("LoRALayer", category="values")
def test_lora_layer(candidate, reference, device):
    _adapter_row(candidate, reference, device, "LoRALayer")


@pytest.mark.task("LinearWithLoRA", category="values")
def test_linear_with_lora(candidate, reference, device):
    _adapter_row(candidate, reference, device, "LinearWithLoRA")


@pytest.mark.task("LinearWithLoRAMerged", category="values")
def test_linear_with_lora_merged(candidate, reference, device):
    _adapter_row(candidate, reference, device, "LinearWithLoRAMerged")


def _gpt(module: Any, device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    return module.GPTModel(CFG).to(device).eval()


def _ids(device: torch.device) -> Any:
    def ids(slot: int) -> tuple[torch.Tensor]:
        generator = torch.Generator().manual_seed(slot)
        return (torch.randint(0, CFG["vocab_size"], (B, T), generator=generator).to(device),)
    return ids


def _adapted(module: Any, device: torch.device) -> nn.Module:
    """The same GPT, adapted with `module`'s own classes (its merge knows only those)."""
    adapted = module.freeze_and_add_lora(_gpt(module, device), RANK, ALPHA).to(device)
    for name, param in adapted.named_parameters():
        if name.endswith("lora.B"):
            with torch.no_grad():
                param.copy_(randn(tuple(param.shape), 2, torch.float32, device) / 100)
    return adapted


@pytest.mark.task("merge_lora", category="values")
def test_merged_gpt(candidate, reference, device):
    adapted = _adapted(reference, device)
    mine = candidate.merge_lora(_adapted(candidate, device))
    theirs = reference.merge_lora(_adapted(reference, device))
    make_inputs = _ids(device)
    with torch.no_grad():
        learner_output, reference_output = mine(*make_inputs(0)), theirs(*make_inputs(0))
    report_row(learner_output, reference_output, (without_grad(mine), without_grad(theirs)),
               make_inputs, ("the adapted model, unmerged", without_grad(adapted)),
               note=f"{CFG['n_layers']} layers of {CFG['emb_dim']}, rank {RANK}, in_idx ({B}, {T})")


@pytest.mark.task("lora_parameter_count", category="values")
def test_lora_parameter_count(candidate, reference):
    def counted(*_: Any) -> int:
        with torch.device("meta"):
            model = reference.freeze_and_add_lora(reference.GPTModel(BOOK_124M), RANK, ALPHA)
        return sum(p.numel() for p in model.parameters() if p.requires_grad)

    compare_call(lambda *_: bare(candidate.lora_parameter_count)(dict(BOOK_124M), RANK),
                 lambda *_: reference.lora_parameter_count(dict(BOOK_124M), RANK),
                 lambda slot: (), ("the reference's adapted model on the meta device, counted",
                                   counted), note=f"GPT_CONFIG_124M, rank {RANK}")
