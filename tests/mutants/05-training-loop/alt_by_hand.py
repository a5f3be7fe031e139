"""Alternative for 05-training-loop: everything by hand. Gradients cleared by setting them to
None, clipping computed from the global norm without clip_grad_norm_, evaluate under
inference_mode summing tensors, an explicit epoch loop that counts its way past the batches a
resumed run has already seen, and an extra key in the checkpoint."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

KATA_EXPECT = {"status": "pass"}

Batch = tuple[Tensor, Tensor]
LossFn = Callable[[Tensor, Tensor], Tensor]


def train_step(
    model: nn.Module,
    batch: Batch,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    max_grad_norm: float | None = None,
) -> float:
    """One optimizer step on one (inputs, targets) batch; returns the loss before the step."""
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.grad = None
    inputs, targets = batch
    loss = loss_fn(model(inputs), targets)
    loss.backward()
    if max_grad_norm is not None:
        grads = [p.grad for p in params if p.grad is not None]
        norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads))
        if norm > max_grad_norm:
            scale = max_grad_norm / norm
            for g in grads:
                g.mul_(scale.to(g.dtype))
    optimizer.step()
    return float(loss.detach())


def evaluate(model: nn.Module, loader: Iterable[Batch], loss_fn: LossFn) -> float:
    """Mean loss per example over loader, in eval mode under no_grad; restores the mode."""
    previous = model.training
    model.train(False)
    weighted: list[Tensor] = []
    examples = 0
    with torch.inference_mode():
        for inputs, targets in loader:
            weighted.append(loss_fn(model(inputs), targets).double() * len(inputs))
            examples += len(inputs)
    model.train(previous)
    return (torch.stack(weighted).sum() / examples).item()


def lr_at(step: int, max_lr: float, warmup_steps: int, total_steps: int, min_lr: float) -> float:
    """Learning rate at 0-based `step`: linear warmup to max_lr, cosine decay to min_lr."""
    if step >= total_steps and step >= warmup_steps:
        return float(min_lr)
    if step < warmup_steps:
        return (step + 1) / warmup_steps * max_lr
    decay_steps = total_steps - warmup_steps
    cosine = (1.0 + math.cos(math.pi * (step - warmup_steps) / decay_steps)) / 2
    return min_lr + (max_lr - min_lr) * cosine


def save_checkpoint(
    path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer, step: int
) -> None:
    """Write {"model", "optimizer", "step"} to path with torch.save, loadable weights_only."""
    state = {"format": "torchkata-05", "step": step}
    state["model"] = model.state_dict()
    state["optimizer"] = optimizer.state_dict()
    with Path(path).open("wb") as handle:
        torch.save(state, handle)


def load_checkpoint(
    path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer
) -> int:
    """Load a save_checkpoint file into model and optimizer; return the step stored in it."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    optimizer.load_state_dict(state["optimizer"])
    model.load_state_dict(state["model"], strict=True)
    return state["step"]


def fit(
    model: nn.Module,
    train_loader: Iterable[Batch],
    val_loader: Iterable[Batch] | None,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    total_steps: int,
    *,
    max_grad_norm: float | None = None,
    lr_schedule: Callable[[int], float] | None = None,
    eval_every: int | None = None,
    checkpoint_path: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
) -> dict[str, list[Any]]:
    """Train until step total_steps with validation and checkpoints; resumes exactly."""
    step = 0
    if resume and checkpoint_path is not None and Path(checkpoint_path).is_file():
        step = load_checkpoint(checkpoint_path, model, optimizer)
    train_loss: list[float] = []
    val_loss: list[float] = []
    val_step: list[int] = []
    to_skip = step
    model.train()
    while step < total_steps:
        seen_any = False
        for batch in train_loader:
            seen_any = True
            if to_skip:
                to_skip -= 1
                continue
            if step >= total_steps:
                break
            if lr_schedule:
                for group in optimizer.param_groups:
                    group["lr"] = lr_schedule(step)
            train_loss.append(train_step(model, batch, optimizer, loss_fn, max_grad_norm))
            step += 1
            last = step == total_steps
            if val_loader is not None and (last or (eval_every and step % eval_every == 0)):
                val_loss.append(evaluate(model, val_loader, loss_fn))
                val_step.append(step)
            if checkpoint_path is not None and (
                    last or (checkpoint_every and step % checkpoint_every == 0)):
                save_checkpoint(checkpoint_path, model, optimizer, step)
        if not seen_any:
            raise ValueError("train_loader is empty")
    return {"train_loss": train_loss, "val_loss": val_loss, "val_step": val_step}
