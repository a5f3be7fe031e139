"""`kata compare 02-autograd`: gradients against the reference and torch's autograd.

Run by the grader's worker like a spec (grader/harness/comparison_row.py says how a row travels).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from grader.harness.comparison_row import bare, compare_call
from grader.strategies import randn

pytestmark = pytest.mark.rung("02-autograd")


def wiggle(t: torch.Tensor) -> torch.Tensor:
    return (t.sin() * t).sum()


@pytest.mark.task("grad_of", category="values")
def test_grad_of(candidate, reference, device):
    def inputs(slot: int) -> tuple:
        return wiggle, randn((4096,), slot, torch.float32, device)

    compare_call(candidate.grad_of, reference.grad_of, inputs,
                 ("torch.func.grad", lambda f, x: torch.func.grad(f)(x)),
                 note="f(x) = sum(sin(x) * x), x (4096,)")


@pytest.mark.task("linear_backward", category="values")
def test_linear_backward(candidate, reference, device):
    def inputs(slot: int) -> tuple[torch.Tensor, ...]:
        return (randn((256, 512), 4 * slot, torch.float32, device),
                randn((128, 512), 4 * slot + 1, torch.float32, device),
                randn((128,), 4 * slot + 2, torch.float32, device),
                randn((256, 128), 4 * slot + 3, torch.float32, device))

    def by_autograd(x, W, b, grad_out):
        leaves = [t.detach().requires_grad_() for t in (x, W, b)]
        with torch.enable_grad():
            out = F.linear(*leaves)
        return torch.autograd.grad(out, leaves, grad_out)

    compare_call(candidate.linear_backward, reference.linear_backward, inputs,
                 ("torch.autograd.grad of F.linear", by_autograd),
                 note="x (256, 512), W (128, 512)")


@pytest.mark.task("Sigmoid", category="values")
def test_sigmoid(candidate, reference, device):
    def inputs(slot: int) -> tuple[torch.Tensor]:
        return (randn((256, 1024), slot, torch.float32, device, scale=4.0),)

    def forward_and_backward(apply):
        def run(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            leaf = x.detach().requires_grad_()
            with torch.enable_grad():
                out = apply(leaf)
            (grad,) = torch.autograd.grad(out, leaf, torch.ones_like(out))
            return out.detach(), grad
        return run

    compare_call(forward_and_backward(candidate.Sigmoid.apply),
                 forward_and_backward(reference.Sigmoid.apply), inputs,
                 ("torch.sigmoid", forward_and_backward(torch.sigmoid)),
                 note="forward and backward, x (256, 1024)")


def _model_and_batches(device: torch.device) -> tuple[nn.Module, list]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.Tanh(), nn.Linear(128, 8)).to(device)
    batches = [(randn((32, 64), 2 * i, torch.float32, device),
                randn((32, 8), 2 * i + 1, torch.float32, device)) for i in range(8)]
    return model, batches


@pytest.mark.task("accumulated_grad", category="values")
def test_accumulated_grad(candidate, reference, device):
    def inputs(slot: int) -> tuple:
        return _model_and_batches(device)

    compare_call(candidate.accumulated_grad, reference.accumulated_grad, inputs,
                 note="an MLP 64-128-8, 8 batches of 32; torch has no one-call built-in")


@pytest.mark.task("leaves_without_grad", category="values")
def test_leaves_without_grad(candidate, reference, device):
    def inputs(slot: int) -> tuple:
        params = {f"p{i}": randn((16, 16), i, torch.float32, device).requires_grad_(i % 3 != 2)
                  for i in range(12)}
        return (params,)

    def with_fresh_loss(fn):
        def run(params: dict) -> list[str]:
            with torch.enable_grad():
                loss = sum(params[f"p{i}"].sum() for i in range(0, 12, 2))
            return fn(loss, params)
        return run

    compare_call(with_fresh_loss(bare(candidate.leaves_without_grad)),
                 with_fresh_loss(reference.leaves_without_grad), inputs,
                 note="12 tensors, the loss reaches 4; each call builds its loss")
