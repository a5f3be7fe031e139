"""02-autograd alternative: torch.func, einsum, a tanh-based sigmoid and a walk over the graph.

Correct, but written differently from the reference: grad_of uses the torch.func.grad transform
(which ignores an outer torch.no_grad() and never writes .grad); linear_backward spells the three
contractions as einsums; Sigmoid computes σ(x) = (1 + tanh(x / 2)) / 2; accumulated_grad asks
torch.autograd.grad batch by batch, sums the gradients itself and stores the sum in .grad;
leaves_without_grad walks the autograd graph from loss.grad_fn to the AccumulateGrad nodes of the
leaves it reaches, without computing any gradient.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

KATA_EXPECT = {"status": "pass"}


def grad_of(f: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """df/dx at x for a one-element f(x), via torch.func.grad; leaves every .grad alone."""

    def scalar_f(t: Tensor) -> Tensor:
        out = f(t)
        if out.numel() != 1:
            raise ValueError(f"f(x) must have one element, got shape {tuple(out.shape)}")
        return out.reshape(())  # torch.func.grad wants a 0-d output

    # the result may still depend on tensors f closes over (df/dx = w for f = (w * x).sum())
    return torch.func.grad(scalar_f)(x.detach()).detach()


def linear_backward(
    x: Tensor, W: Tensor, b: Tensor, grad_out: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients (dL/dx, dL/dW, dL/db) of y = x @ W.T + b, given grad_out = dL/dy, by hand."""
    grad_x = torch.einsum("no,oi->ni", grad_out, W)
    grad_W = torch.einsum("no,ni->oi", grad_out, x)
    grad_b = torch.einsum("no->o", grad_out)
    return grad_x, grad_W, grad_b


class Sigmoid(torch.autograd.Function):
    """σ(x) = 1 / (1 + exp(-x)) with a hand-written backward; use it as Sigmoid.apply(x)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        """Return σ(x), elementwise, and save it for backward."""
        s = 0.5 * (1.0 + torch.tanh(0.5 * x))  # the same function: tanh(x/2) = 2σ(x) - 1
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Tensor:
        """Return grad_output * σ(x) * (1 - σ(x)), from the saved output."""
        (s,) = ctx.saved_tensors
        return grad_output * (s - s * s)


def accumulated_grad(
    model: nn.Module, batches: Sequence[tuple[Tensor, Tensor]]
) -> dict[str, Tensor]:
    """Sum of the per-batch gradients of F.mse_loss(model(inputs), targets), one backward each."""
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    totals = {name: torch.zeros_like(p) for name, p in params.items()}
    for inputs, targets in batches:
        loss = F.mse_loss(model(inputs), targets)
        grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
        for name, grad in zip(params, grads, strict=True):
            if grad is not None:
                totals[name] += grad
    for name, param in params.items():
        param.grad = totals[name].clone()
    return totals


def leaves_without_grad(loss: Tensor, params: Mapping[str, Tensor]) -> list[str]:
    """Names of the params that loss.backward() would leave with .grad None, found without it."""
    reached: set[int] = set()
    seen: set[Any] = set()
    stack = [loss.grad_fn] if loss.grad_fn is not None else []
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)  # AccumulateGrad nodes hold their leaf
        if variable is not None:
            reached.add(id(variable))
        stack.extend(child for child, _ in node.next_functions if child is not None)
    if loss.is_leaf and loss.requires_grad:
        reached.add(id(loss))
    return [name for name, tensor in params.items() if id(tensor) not in reached]
