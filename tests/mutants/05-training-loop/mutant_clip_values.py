"""05-training-loop mutant: train_step clips gradient values instead of the norm.

A copy of the reference with this one mistake; the grader must fail it as KATA_EXPECT says.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch import Tensor, nn

KATA_EXPECT = {"status": "fail", "task": "train_step", "category": "training",
               "message": "clip_grad_value_",
               "not_message": ["not clipped when optimizer.step() used them",
                               "max_grad_norm=0.0 clipped nothing",
                               "clipped each parameter's gradient on its own",
                               "not clipped before the step (clipping after"]}

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
    inputs, targets = batch
    # backward adds into .grad: without this the last step's gradient is added to this one's
    optimizer.zero_grad()
    loss = loss_fn(model(inputs), targets)  # () mean over the batch
    loss.backward()
    if max_grad_norm is not None:
        # after backward (the gradients exist), before step (which consumes them)
        torch.nn.utils.clip_grad_value_(model.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()


def evaluate(model: nn.Module, loader: Iterable[Batch], loss_fn: LossFn) -> float:
    """Mean loss per example over loader, in eval mode under no_grad; restores the mode."""
    was_training = model.training
    model.eval()  # dropout off, batch norm on its running statistics
    total, count = 0.0, 0
    try:
        with torch.no_grad():  # no graph: less memory, and nothing can reach .grad
            for inputs, targets in loader:
                B = targets.shape[0]
                # loss_fn averages over the batch; undo that so a short last batch weighs less
                total += loss_fn(model(inputs), targets).item() * B
                count += B
    finally:
        model.train(was_training)  # even when a batch raised
    return total / count


def lr_at(step: int, max_lr: float, warmup_steps: int, total_steps: int, min_lr: float) -> float:
    """Learning rate at 0-based `step`: linear warmup to max_lr, cosine decay to min_lr."""
    if step < warmup_steps:
        # step + 1: step 0 already learns, and step warmup_steps - 1 reaches max_lr
        return max_lr * (step + 1) / warmup_steps
    if step >= total_steps:
        return min_lr
    progress = (step - warmup_steps) / (total_steps - warmup_steps)  # 0 -> 1 over the decay
    return min_lr + 0.5 * (max_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def save_checkpoint(
    path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer, step: int
) -> None:
    """Write {"model", "optimizer", "step"} to path with torch.save, loadable weights_only."""
    # state_dicts, not the objects: plain tensors and numbers load with weights_only=True
    torch.save(
        {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": int(step)},
        path,
    )


def load_checkpoint(
    path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer
) -> int:
    """Load a save_checkpoint file into model and optimizer; return the step stored in it."""
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"])
    # the optimizer's running averages: without them the next steps differ
    optimizer.load_state_dict(checkpoint["optimizer"])
    return int(checkpoint["step"])


def _batches_forever(loader: Iterable[Batch]) -> Iterator[Batch]:
    """The loader's batches, epoch after epoch, a fresh iterator (and shuffle) per epoch."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("train_loader yields no batches")


def _due(done: int, every: int | None, total_steps: int) -> bool:
    """Whether a periodic action is due after `done` steps: every `every` steps, and at the end."""
    return done == total_steps or (every is not None and done % every == 0)


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
    start = 0
    if resume and checkpoint_path is not None and os.path.exists(checkpoint_path):
        start = load_checkpoint(checkpoint_path, model, optimizer)
    history: dict[str, list[Any]] = {"train_loss": [], "val_loss": [], "val_step": []}
    batches = _batches_forever(train_loader)
    # replay the data order: a shuffling loader's generator advances exactly as it did before
    for _ in range(start):
        next(batches)
    model.train()
    for step in range(start, total_steps):
        if lr_schedule is not None:
            lr = lr_schedule(step)
            for group in optimizer.param_groups:
                group["lr"] = lr
        loss = train_step(model, next(batches), optimizer, loss_fn, max_grad_norm)
        history["train_loss"].append(loss)
        done = step + 1  # steps done so far, and the step a resumed run starts at
        if val_loader is not None and _due(done, eval_every, total_steps):
            history["val_loss"].append(evaluate(model, val_loader, loss_fn))
            history["val_step"].append(done)
        if checkpoint_path is not None and _due(done, checkpoint_every, total_steps):
            save_checkpoint(checkpoint_path, model, optimizer, done)
    return history
