"""06-amp alternative: torch.amp.autocast, an explicit unscale_, shares by example count.

Correct, but written differently from the reference: autocast_forward uses torch.amp.autocast
with its weight-cast cache off; amp_train_step builds one autocast context up front, clears the
gradients by hand, and unscales explicitly before scaler.step (as code that
clips gradients must); accumulation_step weights each micro-batch's loss by its share of the
examples (n_i / N, which is 1 / k for equal micro-batches) and sums the losses as tensors;
compiled asks torch.compiler and names the backend by keyword.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

KATA_EXPECT = {"status": "pass"}

LossFn = Callable[[Tensor, Tensor], Tensor]


def autocast_forward(model: nn.Module, x: Tensor, device_type: str, dtype: torch.dtype) -> Tensor:
    """Return model(x) computed under torch.autocast(device_type, dtype).

    Matmul-like ops run in `dtype`; the parameters are not touched and stay float32. The output
    keeps its autograd graph, so a backward pass from it reaches the parameters.
    """
    with torch.amp.autocast(device_type, dtype=dtype, cache_enabled=False):
        out = model(x)
    return out


def amp_train_step(
    model: nn.Module,
    batch: tuple[Tensor, Tensor],
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
    loss_fn: LossFn,
) -> float:
    """One mixed-precision step on batch = (inputs, targets); return the loss as a float.

    scaler None: bfloat16 autocast and a plain backward and step. A GradScaler: float16
    autocast, scaled backward, scaler.step(optimizer) and scaler.update(). The device type is
    inputs.device.type; parameters and gradients stay float32.
    """
    inputs, targets = batch
    use_scaler = scaler is not None
    context = torch.amp.autocast(inputs.device.type,
                                 dtype=torch.float16 if use_scaler else torch.bfloat16)
    for group in optimizer.param_groups:  # what zero_grad() does, by hand
        for param in group["params"]:
            param.grad = None
    with context:
        logits = model(inputs)
        loss = loss_fn(logits, targets)
    if use_scaler:
        assert scaler is not None
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    return float(loss.detach())


def accumulation_step(
    model: nn.Module,
    micro_batches: Sequence[tuple[Tensor, Tensor]],
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
) -> float:
    """One optimizer step over k equal micro-batches, with the gradients of one big batch.

    micro_batches: k pairs (inputs, targets) of equal size. Returns the big batch's loss, the
    mean of the k micro-batch losses. ValueError when micro_batches is empty.
    """
    if not micro_batches:
        raise ValueError("no micro-batches")
    total_examples = sum(targets.shape[0] for _, targets in micro_batches)
    optimizer.zero_grad()
    total = torch.zeros(())
    for inputs, targets in micro_batches:
        share = targets.shape[0] / total_examples
        weighted = share * loss_fn(model(inputs), targets)
        weighted.backward()
        total = total + weighted.detach().cpu()
    optimizer.step()
    return total.item()


def compiled(model: nn.Module, backend: str | Callable[..., Any] = "inductor") -> nn.Module:
    """Return torch.compile(model, backend=backend), or model where torch.compile cannot run.

    The result shares model's parameters and gives the same outputs and gradients.
    """
    import torch._dynamo

    if torch._dynamo.is_dynamo_supported():
        return torch.compiler.compile(model, backend=backend) if hasattr(
            torch.compiler, "compile") else torch.compile(model, backend=backend)
    return model
