"""06-amp alternative: autocast as a decorator, one code path for both recipes, in-place compile.

Correct, but written differently from the reference: autocast_forward decorates the model's call
with torch.autocast; amp_train_step runs the bf16 and fp16 recipes through one code path, with a
disabled GradScaler standing in when none is given; accumulation_step collects each micro-batch's
loss value in a list and clears the gradients by hand; compiled compiles the module in place with
nn.Module.compile and returns it.
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
    run = torch.autocast(device_type=device_type, dtype=dtype)(model)
    return run(x)


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
    device_type = inputs.device.type
    dtype = torch.float16 if scaler is not None else torch.bfloat16
    # a disabled scaler passes the loss and the step straight through
    scaler = scaler if scaler is not None else torch.amp.GradScaler(device_type, enabled=False)
    for param in model.parameters():
        param.grad = None
    with torch.autocast(device_type=device_type, dtype=dtype):
        loss = loss_fn(model(inputs), targets)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss.item()


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
    batches = list(micro_batches)
    if len(batches) == 0:
        raise ValueError("accumulation_step: empty micro_batches")
    for group in optimizer.param_groups:
        for param in group["params"]:
            param.grad = None
    losses = []
    for inputs, targets in batches:
        loss = loss_fn(model(inputs), targets)
        (loss / len(batches)).backward()
        losses.append(loss.item())
    optimizer.step()
    return sum(losses) / len(losses)


def compiled(model: nn.Module, backend: str | Callable[..., Any] = "inductor") -> nn.Module:
    """Return torch.compile(model, backend=backend), or model where torch.compile cannot run.

    The result shares model's parameters and gives the same outputs and gradients.
    """
    if torch._dynamo.is_dynamo_supported():
        model.compile(backend=backend)
    return model
