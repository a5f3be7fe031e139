"""02-autograd mutant: accumulated_grad never clears .grad, so an earlier backward's gradients leak
in.

A copy of the reference with this one mistake; the grader must fail it as KATA_EXPECT says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

KATA_EXPECT = {"status": "fail", "task": "accumulated_grad", "category": "properties", "message": "zero_grad() once before", "not_message": "the gradients were cleared in place"}


def grad_of(f: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """df/dx at x for a one-element f(x), via torch.autograd.grad; leaves every .grad alone."""
    # A fresh leaf that shares x's values: marking x itself would change the caller's tensor.
    leaf = x.detach().requires_grad_(True)
    with torch.enable_grad():  # the caller may sit inside torch.no_grad()
        out = f(leaf)
    if not isinstance(out, Tensor) or out.numel() != 1:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"grad_of needs f(x) with exactly one element, got {shape}")
    if not out.requires_grad:  # f built no graph from x (constant, detached): df/dx = 0
        return torch.zeros_like(x)
    # autograd.grad returns the gradient instead of adding it to .grad, for x and for any
    # parameters f closes over; allow_unused gives None when out depends on other leaves only.
    (grad,) = torch.autograd.grad(out, leaf, allow_unused=True)
    return torch.zeros_like(x) if grad is None else grad


def linear_backward(
    x: Tensor, W: Tensor, b: Tensor, grad_out: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients (dL/dx, dL/dW, dL/db) of y = x @ W.T + b, given grad_out = dL/dy, by hand."""
    # x (N, in), W (out, in), b (out,), grad_out (N, out)
    grad_x = grad_out @ W  # (N, out) @ (out, in) -> (N, in): y[n, :] mixes every x[n, i]
    grad_W = grad_out.T @ x  # (out, N) @ (N, in) -> (out, in): W is shared by the batch, so sum
    grad_b = grad_out.sum(dim=0)  # (out,): b is added to every row, so its gradients add up
    return grad_x, grad_W, grad_b


class Sigmoid(torch.autograd.Function):
    """σ(x) = 1 / (1 + exp(-x)) with a hand-written backward; use it as Sigmoid.apply(x)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        """Return σ(x), elementwise, and save it for backward."""
        # exp(-x) overflows to inf for very negative x, and 1 / inf = 0 is the right limit; the
        # other form, exp(x) / (1 + exp(x)), gives inf / inf = nan for large positive x.
        s = 1.0 / (1.0 + torch.exp(-x))  # same shape and dtype as x
        ctx.save_for_backward(s)  # dσ/dx needs only σ(x): keep the output, not the input
        return s

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Tensor:
        """Return grad_output * σ(x) * (1 - σ(x)), from the saved output."""
        (s,) = ctx.saved_tensors
        return grad_output * s * (1.0 - s)  # chain rule: upstream gradient times the local one


def accumulated_grad(
    model: nn.Module, batches: Sequence[tuple[Tensor, Tensor]]
) -> dict[str, Tensor]:
    """Sum of the per-batch gradients of F.mse_loss(model(inputs), targets), one backward each."""
    # Once, before the loop: whatever an earlier backward left in .grad is not ours to add.
    for inputs, targets in batches:
        loss = F.mse_loss(model(inputs), targets)
        # No zero_grad here: backward adds into .grad, and that sum is the point. One backward per
        # batch keeps only one batch's graph alive at a time.
        loss.backward()
    return {
        # clone: .grad is updated in place by later backward and zero_grad calls
        name: param.grad.detach().clone() if param.grad is not None else torch.zeros_like(param)
        for name, param in model.named_parameters()
        if param.requires_grad
    }


def leaves_without_grad(loss: Tensor, params: Mapping[str, Tensor]) -> list[str]:
    """Names of the params that loss.backward() would leave with .grad None, found without it."""
    names = list(params)
    # A tensor that does not require grad never gets a .grad, and autograd.grad refuses it.
    trainable = [name for name in names if params[name].requires_grad]
    if not loss.requires_grad or not trainable:  # no graph at all: nothing is reached
        return names
    # None marks an input the graph does not reach; a reached one gets a tensor, zeros included.
    # retain_graph keeps the graph for the caller's own backward; .grad stays untouched.
    grads = torch.autograd.grad(
        loss, [params[name] for name in trainable], allow_unused=True, retain_graph=True
    )
    reached = {name for name, grad in zip(trainable, grads, strict=True) if grad is not None}
    return [name for name in names if name not in reached]
