"""`kata compare 07-modules`: the layers against the reference's and torch's, same weights.

Run by the grader's worker like a spec (grader/harness/comparison_row.py says how a row travels).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from grader.harness.comparison_row import bare, compare_call, report_row, without_grad
from grader.strategies import randn

pytestmark = pytest.mark.rung("07-modules")

B, T, C = 32, 128, 256


def _x(device: torch.device, slot: int) -> tuple[torch.Tensor]:
    return (randn((B, T, C), slot, torch.float32, device),)


def _same_weights(mine: nn.Module, theirs: nn.Module, builtin: nn.Module, x_of, device,
                  name: str, note: str):
    mine.load_state_dict(theirs.state_dict())
    builtin.load_state_dict(theirs.state_dict())
    with torch.no_grad():
        learner_output, reference_output = mine(*x_of(0)), theirs(*x_of(0))
    report_row(learner_output, reference_output, (without_grad(mine), without_grad(theirs)),
               x_of, (name, without_grad(builtin)), note=note)


@pytest.mark.task("Linear", category="values")
def test_linear(candidate, reference, device):
    torch.manual_seed(0)
    _same_weights(candidate.Linear(C, 512).to(device), reference.Linear(C, 512).to(device),
                  nn.Linear(C, 512).to(device), lambda slot: _x(device, slot), device,
                  "nn.Linear", f"{C} -> 512, x ({B}, {T}, {C})")


@pytest.mark.task("Embedding", category="values")
def test_embedding(candidate, reference, device):
    torch.manual_seed(0)

    def ids(slot: int) -> tuple[torch.Tensor]:
        generator = torch.Generator().manual_seed(slot)
        return (torch.randint(0, 50_000, (B, T), generator=generator).to(device),)

    _same_weights(candidate.Embedding(50_000, C).to(device),
                  reference.Embedding(50_000, C).to(device), nn.Embedding(50_000, C).to(device),
                  ids, device, "nn.Embedding", f"50000 x {C}, ids ({B}, {T})")


@pytest.mark.task("LayerNorm", category="values")
def test_layer_norm(candidate, reference, device):
    torch.manual_seed(0)
    theirs = reference.LayerNorm(C).to(device)
    with torch.no_grad():
        theirs.weight.normal_()
        theirs.bias.normal_()
    _same_weights(candidate.LayerNorm(C).to(device), theirs, nn.LayerNorm(C).to(device),
                  lambda slot: _x(device, slot), device, "nn.LayerNorm",
                  f"x ({B}, {T}, {C}), random weight and bias")


@pytest.mark.task("Dropout", category="values")
def test_dropout(candidate, reference, device):
    p = 0.25

    def kept(cls):
        def run(x: torch.Tensor) -> tuple[float, float]:
            module = cls(p).train()
            torch.manual_seed(0)  # the same draws for every side: random, but comparable
            out = module(x)
            keep = out != 0
            return (float(keep.float().mean()),
                    float((out[keep] / x[keep]).mean()) if bool(keep.any()) else 0.0)
        return run

    def inputs(slot: int) -> tuple[torch.Tensor]:
        return (randn((B, T, C), slot, torch.float32, device).abs() + 0.1,)

    compare_call(kept(candidate.Dropout), kept(reference.Dropout), inputs,
                 ("nn.Dropout", kept(nn.Dropout)),
                 note=f"p = {p}, training mode, seed 0: (fraction kept, scale of the kept)")


@pytest.mark.task("GELU", category="values")
def test_gelu(candidate, reference, device):
    def inputs(slot: int) -> tuple[torch.Tensor]:
        return (randn((B, T, C), slot, torch.float32, device, scale=3.0),)

    compare_call(candidate.GELU(), reference.GELU(), inputs,
                 ("F.gelu", F.gelu), note=f"approximate='none', x ({B}, {T}, {C})")


CONFIGS = [("Linear", {"in_features": 768, "out_features": 3072}),
           ("Linear", {"in_features": 768, "out_features": 768, "bias": False}),
           ("Embedding", {"num_embeddings": 50257, "embedding_dim": 768}),
           ("LayerNorm", {"normalized_shape": 768}), ("Dropout", {"p": 0.1}), ("GELU", {})]


@pytest.mark.task("param_count", category="values")
def test_param_count(candidate, reference):
    def every_config(fn):
        return lambda *_: [fn(name, **kwargs) for name, kwargs in CONFIGS]

    def by_building(name: str, **kwargs: object) -> int:
        return sum(p.numel() for p in getattr(nn, name)(**kwargs).parameters())

    compare_call(every_config(bare(candidate.param_count)), every_config(reference.param_count),
                 lambda slot: (), ("torch's module, built and counted", every_config(by_building)),
                 note=f"{len(CONFIGS)} GPT-2-sized layers")
