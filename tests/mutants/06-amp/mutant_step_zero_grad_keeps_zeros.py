"""06-amp mutant: amp_train_step zeroes the gradients in place (the pre-2.0 zero_grad) instead of clearing them to None, so an unreached parameter is stepped on zeros and weight decay moves it.

A copy of the reference with this one mistake; the grader must fail it as KATA_EXPECT says.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

KATA_EXPECT = {"status": "fail", "task": "amp_train_step", "category": "properties",
               "message": ["set_to_none", "zeroed in place"]}

LossFn = Callable[[Tensor, Tensor], Tensor]


def autocast_forward(model: nn.Module, x: Tensor, device_type: str, dtype: torch.dtype) -> Tensor:
    """Return model(x) computed under torch.autocast(device_type, dtype).

    Matmul-like ops run in `dtype`; the parameters are not touched and stay float32. The output
    keeps its autograd graph, so a backward pass from it reaches the parameters.
    """
    # autocast casts each op's inputs as it dispatches; nothing about the model changes
    with torch.autocast(device_type=device_type, dtype=dtype):
        return model(x)


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
    # fp16 needs the scaler (5 exponent bits); bf16 keeps fp32's range and does without
    dtype = torch.bfloat16 if scaler is None else torch.float16
    for param in model.parameters():  # the old zero_grad: zeros in place, never None
        if param.grad is not None:
            param.grad.zero_()
    with torch.autocast(device_type=device_type, dtype=dtype):
        loss = loss_fn(model(inputs), targets)  # low-precision matmuls, fp32 loss
    # outside autocast: each backward op already runs in the dtype of its forward op
    if scaler is None:
        loss.backward()
        optimizer.step()
    else:
        scaler.scale(loss).backward()  # gradients of loss * scale: small ones no longer underflow
        scaler.step(optimizer)  # unscales, then steps only if every gradient is finite
        scaler.update()  # halve the scale after an overflow, grow it after a run of good steps
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
    k = len(micro_batches)
    if k == 0:
        raise ValueError("accumulation_step needs at least one micro-batch")
    optimizer.zero_grad(set_to_none=True)  # once: backward adds into .grad across micro-batches
    total = 0.0
    for inputs, targets in micro_batches:
        # loss_fn averages over N/k examples; / k turns the sum of k such means into the mean
        # over all N, so the accumulated .grad is the big batch's gradient
        loss = loss_fn(model(inputs), targets) / k
        loss.backward()  # frees this micro-batch's graph before the next forward
        total += loss.item()
    optimizer.step()
    return total


def compiled(model: nn.Module, backend: str | Callable[..., Any] = "inductor") -> nn.Module:
    """Return torch.compile(model, backend=backend), or model where torch.compile cannot run.

    The result shares model's parameters and gives the same outputs and gradients.
    """
    if not torch._dynamo.is_dynamo_supported():  # e.g. a Python version dynamo does not know yet
        return model
    # a wrapper around the same module: parameters are shared, nothing is copied; the first call
    # traces forward into a graph and hands it to the backend
    return torch.compile(model, backend=backend)
