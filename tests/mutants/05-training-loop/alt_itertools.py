"""Alternative for 05-training-loop: the batch stream from itertools (chain over repeat, islice
to skip what a resumed run has seen), zero_grad(set_to_none=False) on the model, evaluate with
torch.set_grad_enabled(False) and stacked tensor losses, lr_at through a clamped progress."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterable, Iterator
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
    model.zero_grad(set_to_none=False)
    outputs = model(batch[0])
    loss = loss_fn(outputs, batch[1])
    loss.backward()
    if max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_grad_norm, norm_type=2.0,
                                       foreach=True)
    optimizer.step()
    return loss.item()


def evaluate(model: nn.Module, loader: Iterable[Batch], loss_fn: LossFn) -> float:
    """Mean loss per example over loader, in eval mode under no_grad; restores the mode."""
    mode = model.training
    model.eval()
    losses, counts = [], []
    with torch.set_grad_enabled(False):
        for inputs, targets in loader:
            losses.append(loss_fn(model(inputs), targets))
            counts.append(targets.size(0))
    model.train(mode)
    weights = torch.tensor(counts, dtype=torch.float64)
    return float((torch.stack(losses).double() * weights).sum() / weights.sum())


def lr_at(step: int, max_lr: float, warmup_steps: int, total_steps: int, min_lr: float) -> float:
    """Learning rate at 0-based `step`: linear warmup to max_lr, cosine decay to min_lr."""
    if step < warmup_steps:
        return max_lr * ((step + 1) / warmup_steps)
    span = max(total_steps - warmup_steps, 1)
    progress = min(1.0, (step - warmup_steps) / span)
    if step >= total_steps:
        progress = 1.0
    return min_lr + (max_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def save_checkpoint(
    path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer, step: int
) -> None:
    """Write {"model", "optimizer", "step"} to path with torch.save, loadable weights_only."""
    torch.save(dict(step=step, model=model.state_dict(), optimizer=optimizer.state_dict()),
               os.fspath(path))


def load_checkpoint(
    path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer
) -> int:
    """Load a save_checkpoint file into model and optimizer; return the step stored in it."""
    checkpoint = torch.load(os.fspath(path), weights_only=True)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return int(checkpoint["step"])


def _epoch(loader: Iterable[Batch]) -> Iterator[Batch]:
    """One pass over the loader; one that gives nothing would make the stream spin forever."""
    empty = True
    for batch in loader:
        empty = False
        yield batch
    if empty:
        raise ValueError("train_loader yields no batches")


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
    resuming = resume and checkpoint_path is not None and os.path.isfile(checkpoint_path)
    first = load_checkpoint(checkpoint_path, model, optimizer) if resuming else 0
    stream = itertools.chain.from_iterable(map(_epoch, itertools.repeat(train_loader)))
    batches = itertools.islice(stream, first, total_steps)
    history: dict[str, list[Any]] = {"train_loss": [], "val_loss": [], "val_step": []}
    model.train(True)
    for step, batch in enumerate(batches, start=first):
        if lr_schedule is not None:
            for group in optimizer.param_groups:
                group.update(lr=lr_schedule(step))
        history["train_loss"].append(train_step(model, batch, optimizer, loss_fn,
                                                max_grad_norm=max_grad_norm))
        n = step + 1
        if val_loader is not None and (n == total_steps or (eval_every and n % eval_every == 0)):
            history["val_step"].append(n)
            history["val_loss"].append(evaluate(model, val_loader, loss_fn))
        if checkpoint_path is not None and (
                n == total_steps or (checkpoint_every and n % checkpoint_every == 0)):
            save_checkpoint(checkpoint_path, model, optimizer, step=n)
    return history
