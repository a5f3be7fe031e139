"""`kata compare 06-amp`: mixed-precision results against the reference's.

Run by the grader's worker like a spec (grader/harness/comparison_row.py says how a row travels).
On the CPU autocast runs in bfloat16; on CUDA in float16 (with a GradScaler for the step).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from grader.harness import skip_check
from grader.harness.comparison_row import bare, compare_call, report_row, without_grad
from grader.strategies import randn

pytestmark = pytest.mark.rung("06-amp")


def _model(device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(256, 512), nn.GELU(), nn.Linear(512, 10)).to(device)


def _batch(device: torch.device, slot: int = 0, n: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    x = randn((n, 256), slot, torch.float32, device)
    generator = torch.Generator().manual_seed(slot)
    return x, torch.randint(0, 10, (n,), generator=generator).to(device)


def _low(device: torch.device) -> torch.dtype:
    return torch.float16 if device.type == "cuda" else torch.bfloat16


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


@pytest.mark.task("autocast_forward", category="values")
def test_autocast_forward(candidate, reference, device):
    model = _model(device)

    def inputs(slot: int) -> tuple:
        return model, _batch(device, slot)[0], device.type, _low(device)

    compare_call(without_grad(bare(candidate.autocast_forward)),
                 without_grad(reference.autocast_forward), inputs,
                 ("model(x) in full precision", without_grad(lambda m, x, *_: m(x))),
                 note=f"MLP 256-512-10, x (128, 256), {_low(device)}")


@pytest.mark.task("amp_train_step", category="values")
def test_amp_train_step(candidate, reference, device):
    def stepped(fn):
        def run(model, optimizer, scaler, batch):
            loss = fn(model, batch, optimizer, scaler, F.cross_entropy)
            return loss, _weights(model)
        return run

    def inputs(slot: int) -> tuple:
        model = _model(device)
        scaler = torch.amp.GradScaler("cuda") if device.type == "cuda" else None
        return (model, torch.optim.SGD(model.parameters(), lr=0.1), scaler,
                _batch(device, slot))

    compare_call(stepped(bare(candidate.amp_train_step)), stepped(reference.amp_train_step),
                 inputs, note="one step: the loss and the weights after it")


@pytest.mark.task("accumulation_step", category="values")
def test_accumulation_step(candidate, reference, device):
    def stepped(fn):
        def run(model, optimizer, micro_batches):
            loss = fn(model, micro_batches, optimizer, F.cross_entropy)
            return loss, _weights(model)
        return run

    def inputs(slot: int) -> tuple:
        model = _model(device)
        x, y = _batch(device, slot)
        return (model, torch.optim.SGD(model.parameters(), lr=0.1),
                list(zip(x.chunk(4), y.chunk(4), strict=True)))

    compare_call(stepped(bare(candidate.accumulation_step)),
                 stepped(reference.accumulation_step), inputs,
                 note="4 micro-batches of 32: the loss and the weights after the step")


@pytest.mark.task("compiled", category="values")
def test_compiled(candidate, reference, device):
    import torch._dynamo

    if not torch._dynamo.is_dynamo_supported():
        skip_check("torch.compile is not supported on this Python/torch")
    torch._dynamo.reset()
    model = _model(device)
    mine = candidate.compiled(model, backend="eager")
    theirs = reference.compiled(model, backend="eager")

    def inputs(slot: int) -> tuple[torch.Tensor]:
        return (_batch(device, slot)[0],)

    with torch.no_grad():
        learner_output, reference_output = mine(*inputs(0)), theirs(*inputs(0))
    report_row(learner_output, reference_output, (without_grad(mine), without_grad(theirs)),
               inputs, ("the model uncompiled", without_grad(model)),
               note="backend 'eager' (a trace, no code generation)")
