"""`kata compare 03-module`: modules against the reference's, with the same weights.

Run by the grader's worker like a spec (grader/harness/comparison_row.py says how a row travels).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from grader.harness.comparison_row import bare, compare_call, report_row, without_grad
from grader.strategies import randn

pytestmark = pytest.mark.rung("03-module")


@pytest.mark.task("MLP", category="values")
def test_mlp(candidate, reference, device):
    torch.manual_seed(0)
    theirs = reference.MLP(256, 512, 64).to(device)
    mine = candidate.MLP(256, 512, 64).to(device)
    mine.load_state_dict(theirs.state_dict())
    builtin = nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 64)).to(device)
    builtin.load_state_dict({key.replace("fc1", "0").replace("fc2", "2"): value
                             for key, value in theirs.state_dict().items()})

    def inputs(slot: int) -> tuple[torch.Tensor]:
        return (randn((128, 256), slot, torch.float32, device),)

    with torch.no_grad():
        learner_output, reference_output = mine(*inputs(0)), theirs(*inputs(0))
    report_row(learner_output, reference_output, (without_grad(mine), without_grad(theirs)),
               inputs, ("nn.Sequential(Linear, ReLU, Linear)", without_grad(builtin)),
               note="256-512-64, x (128, 256), the reference's weights")


@pytest.mark.task("Affine", category="values")
def test_affine(candidate, reference, device):
    def step(cls):
        def run(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            module = cls(512).to(device)
            out = module(x)
            return out.detach(), module.running_mean.detach().clone()
        return run

    def inputs(slot: int) -> tuple[torch.Tensor]:
        return (randn((256, 512), slot, torch.float32, device),)

    compare_call(step(candidate.Affine), step(reference.Affine), inputs,
                 note="output and running_mean after one training call, x (256, 512)")


def _model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    model[0].weight.requires_grad_(False)
    return model


@pytest.mark.task("count_parameters", category="values")
def test_count_parameters(candidate, reference):
    def inputs(slot: int) -> tuple[nn.Module, bool]:
        return _model(), slot % 2 == 0

    compare_call(candidate.count_parameters, reference.count_parameters, inputs,
                 note="an MLP with one frozen weight, trainable_only True and False")


@pytest.mark.task("freeze", category="values")
def test_freeze(candidate, reference):
    def frozen_after(fn):
        def run(model: nn.Module, names: list[str]) -> list[str]:
            fn(model, names)
            return [name for name, p in model.named_parameters() if not p.requires_grad]
        return run

    def inputs(slot: int) -> tuple[nn.Module, list[str]]:
        return _model(), ["2", "0.bias"]

    compare_call(frozen_after(bare(candidate.freeze)), frozen_after(reference.freeze), inputs,
                 note="the names left frozen")
