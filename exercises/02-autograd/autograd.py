"""02-autograd: gradients by hand and by torch.

When a tensor requires grad, PyTorch records every operation that uses it in a graph, and running
that graph backwards gives gradients (reverse-mode automatic differentiation). This rung looks at
autograd from both sides: asking it for a gradient without side effects, doing its job by hand for
a linear layer, teaching it a new function, and the two facts that surprise everyone: .grad
accumulates, and some parameters quietly get no gradient at all.

1. grad_of(f, x) -> Tensor
   df/dx at x, for a function f whose output has exactly one element. Ask
   torch.autograd.grad(output, leaf), which returns the gradient instead of storing it, with the
   leaf a fresh copy of x that requires grad (x.detach().requires_grad_()). Then nothing outside
   changes: x keeps its .grad and its requires_grad flag, and tensors that f uses besides x (a
   model's weights) keep their .grad too.
   - The result has the shape and dtype of x and does not require grad (no graph attached).
   - It works when called inside torch.no_grad(): switch grad mode back on with
     torch.enable_grad() around f and the work on its output.
   - When f(x) does not depend on x the gradient is zeros, not None and not an error.
   - An f(x) with more than one element (or none) raises ValueError.

2. linear_backward(x, W, b, grad_out) -> (grad_x, grad_W, grad_b)
   The backward pass of y = x @ W.T + b (what nn.Linear computes), derived by hand. Shapes:
   x (N, in), W (out, in), b (out,), and y and grad_out (N, out). grad_out is dL/dy for some
   loss L; return dL/dx, dL/dW and dL/db. Start from one element,

       y[n, o] = sum_i x[n, i] * W[o, i] + b[o]

   and the chain rule gives dL/dW[o, i] = sum_n grad_out[n, o] * x[n, i]: a sum over the batch,
   that is one matrix product. Do the same for x and b, then write each as a tensor expression.
   Every gradient has the shape of what it differentiates: grad_W is (out, in), like W.
   No autograd inside, and no Python loop, over the batch or over the features.

3. class Sigmoid(torch.autograd.Function)
   A function autograd did not know, taught to it by hand:

       forward:   s = σ(x) = 1 / (1 + exp(-x))
       backward:  grad_x = grad_output * s * (1 - s)        since dσ/dx = σ(x) (1 - σ(x))

   forward(ctx, x) computes s and keeps it for later with ctx.save_for_backward(s). backward(ctx,
   grad_output) reads it back from ctx.saved_tensors: the derivative needs only the output, so
   backward runs no exp of its own. Call it as Sigmoid.apply(x), never as Sigmoid()(x). Keep it
   finite for large |x|: exp(x) / (1 + exp(x)) overflows to inf / inf = nan. Check the backward
   with torch.autograd.gradcheck(Sigmoid.apply, (x,)) on a float64 x that requires grad: its
   finite differences are too coarse in float32.

4. accumulated_grad(model, batches) -> dict[str, Tensor]
   batches is a sequence of (inputs, targets) pairs, and the loss of one batch is
   F.mse_loss(model(inputs), targets). Clear the gradients once (model.zero_grad()), then call
   backward on each batch's loss in turn, without clearing in between. Each backward adds into
   .grad, so every parameter ends up holding the sum of its per-batch gradients, which is the
   gradient of the summed losses: gradient accumulation, as in training with micro-batches.
   - Return {name: gradient} for every parameter with requires_grad=True, in
     named_parameters() order; a frozen parameter is left out, and one that no loss reaches gets
     zeros. Return copies (clone), not .grad itself: the next backward or zero_grad would
     change .grad under the caller's feet.
   - Gradients already in .grad before the call must not leak into the result. Drop them, as
     model.zero_grad() does (it sets every .grad to None), rather than zeroing them in place:
     the caller may still hold the old .grad tensors, and backward would add into them.
   - On return every parameter a loss reached holds its accumulated gradient in .grad, and
     the parameters themselves are unchanged (no optimizer step).

5. leaves_without_grad(loss, params) -> list[str]
   loss is a one-element tensor; params maps names to leaf tensors, e.g.
   dict(model.named_parameters()). Return, in the order of params, the names of those whose .grad
   loss.backward() would leave at None: parameters with requires_grad=False, unused ones, and
   ones used only through .detach(), .data, a torch.no_grad() block or a non-differentiable op
   such as a comparison. A parameter whose gradient is zero (it was multiplied by 0) still gets
   a gradient. Find out without side effects: torch.autograd.grad(..., allow_unused=True,
   retain_graph=True) returns None for the inputs the graph does not reach, writes no .grad, and
   keeps the graph so that the caller can still call loss.backward(). A loss that does not
   require grad at all reaches no parameter.

Worked example:

    >>> import torch
    >>> x = torch.tensor([1.0, 2.0, 3.0])
    >>> grad_of(lambda t: (t ** 2).sum(), x)
    tensor([2., 4., 6.])
    >>> x.grad is None and not x.requires_grad
    True
    >>> x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> W = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> grad_out = torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]])
    >>> grad_x, grad_W, grad_b = linear_backward(x, W, torch.zeros(3), grad_out)
    >>> grad_x
    tensor([[3., 2.],
            [0., 1.]])
    >>> grad_W
    tensor([[1., 2.],
            [3., 4.],
            [2., 4.]])
    >>> grad_b
    tensor([1., 1., 2.])
    >>> Sigmoid.apply(torch.tensor([0.0, 1000.0, -1000.0]))
    tensor([0.5000, 1.0000, 0.0000])
    >>> grad_of(lambda t: Sigmoid.apply(t).sum(), torch.zeros(2))
    tensor([0.2500, 0.2500])
    >>> model = torch.nn.Linear(1, 1, bias=False)
    >>> _ = torch.nn.init.constant_(model.weight, 2.0)
    >>> batch = (torch.ones(1, 1), torch.zeros(1, 1))  # loss (2 * 1 - 0)² = 4, d/dw = 4
    >>> accumulated_grad(model, [batch, batch, batch])
    {'weight': tensor([[12.]])}
    >>> w, b = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    >>> loss = (3 * w).sum() + b.detach().sum()
    >>> leaves_without_grad(loss, {"w": w, "b": b})
    ['b']
    >>> w.grad is None  # nothing written, and loss.backward() still works
    True

Rules:
- linear_backward is derived by hand: no torch.autograd.grad, no .backward(), no torch.func and
  no requires_grad_ inside it. The grader calls it on tensors that do not require grad and
  watches for any autograd graph being built. It also counts the tensor operations at several
  sizes: the count must not grow with N, in or out.
- Sigmoid computes σ itself: no torch.sigmoid, torch.nn.functional.sigmoid, torch.special.expit
  or logsigmoid, in forward or backward. backward uses the saved output and runs no exp.
- Don't modify the input tensors.

Check your work with `./kata check 02-autograd`; stuck? `./kata hint 02-autograd`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def grad_of(f: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """df/dx at x for a one-element f(x), via torch.autograd.grad; leaves every .grad alone."""
    # TODO(02-autograd): a fresh leaf from x, f under enable_grad, check numel, autograd.grad.
    raise NotImplementedError("02-autograd: grad_of")


def linear_backward(
    x: Tensor, W: Tensor, b: Tensor, grad_out: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients (dL/dx, dL/dW, dL/db) of y = x @ W.T + b, given grad_out = dL/dy, by hand."""
    # TODO(02-autograd): three tensor expressions; each result has the shape of its input.
    raise NotImplementedError("02-autograd: linear_backward")


class Sigmoid(torch.autograd.Function):
    """σ(x) = 1 / (1 + exp(-x)) with a hand-written backward; use it as Sigmoid.apply(x)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        """Return σ(x), elementwise, and save it for backward."""
        # TODO(02-autograd): compute s = 1 / (1 + exp(-x)), ctx.save_for_backward(s), return s.
        raise NotImplementedError("02-autograd: Sigmoid")

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Tensor:
        """Return grad_output * σ(x) * (1 - σ(x)), from the saved output."""
        # TODO(02-autograd): read s back from ctx.saved_tensors; chain rule with grad_output.
        raise NotImplementedError("02-autograd: Sigmoid")


def accumulated_grad(
    model: nn.Module, batches: Sequence[tuple[Tensor, Tensor]]
) -> dict[str, Tensor]:
    """Sum of the per-batch gradients of F.mse_loss(model(inputs), targets), one backward each."""
    # TODO(02-autograd): zero_grad once, backward per batch, return clones of the .grad fields.
    raise NotImplementedError("02-autograd: accumulated_grad")


def leaves_without_grad(loss: Tensor, params: Mapping[str, Tensor]) -> list[str]:
    """Names of the params that loss.backward() would leave with .grad None, found without it."""
    # TODO(02-autograd): skip frozen params, autograd.grad(allow_unused, retain_graph), find None.
    raise NotImplementedError("02-autograd: leaves_without_grad")
