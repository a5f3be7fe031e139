"""05-training-loop: steps, schedules and checkpoints.

Training a network is one small step repeated many times: run a batch forward, measure the loss,
backpropagate, nudge every parameter. Around that step sit the parts that make a run useful: a
validation pass that measures without learning, a learning-rate schedule, and checkpoints from
which a stopped run carries on exactly as if it had never stopped. You build all of them.

A batch is a pair (inputs, targets) of tensors whose first dim is the batch size B. loss_fn is
called as loss_fn(model(inputs), targets) and returns the mean loss over the batch as a
one-element tensor (F.mse_loss and F.cross_entropy do, with their default reduction).

1. train_step(model, batch, optimizer, loss_fn, max_grad_norm=None) -> float
   One optimizer step, in this order:

       optimizer.zero_grad()                 gradients of the last step must not add in
       loss = loss_fn(model(inputs), targets)
       loss.backward()
       clip_grad_norm_(model.parameters(), max_grad_norm)    only when max_grad_norm is not None
       optimizer.step()

   Clipping rescales all gradients together so that their global L2 norm,
   sqrt(sum over parameters of (grad ** 2).sum()), is at most max_grad_norm; it has to happen
   after backward (there are no gradients before) and before step (which consumes them).
   Return the loss as a Python float (loss.item()): the loss of this batch with the parameters
   as they were before the step. train_step leaves the model's mode (train or eval) alone.

2. evaluate(model, loader, loss_fn) -> float
   The loss over a whole validation loader, without learning anything. Put the model in eval
   mode (dropout off, batch norm uses its running statistics) and run every batch under
   torch.no_grad() (no graph is built, nothing is written to .grad). Return the mean loss per
   example, each batch weighted by its size B:

       sum over batches of loss_b * B_b  /  sum over batches of B_b

   which differs from the plain mean of the batch losses when the last batch is smaller. On
   return the model is back in the mode it was in: a model that came in training mode leaves in
   training mode, one that came in eval mode stays in eval mode (model.training tells you).

3. lr_at(step, max_lr, warmup_steps, total_steps, min_lr) -> float
   The learning rate for step `step` (0-based: the first step of a run is step 0): a linear
   warmup, then a cosine decay from max_lr to min_lr (nanoGPT's schedule).

       step < warmup_steps:                  max_lr * (step + 1) / warmup_steps
       warmup_steps <= step < total_steps:   min_lr + 0.5 * (max_lr - min_lr) * (1 + cos(pi * p))
                                             with p = (step - warmup_steps)
                                                      / (total_steps - warmup_steps)
       step >= total_steps:                  min_lr

   Warmup starts at max_lr / warmup_steps, not 0 (a step with lr 0 is a wasted step), and its
   last step, warmup_steps - 1, reaches max_lr. The decay starts at max_lr (p = 0), passes
   (max_lr + min_lr) / 2 halfway (p = 1/2) and ends at min_lr at step total_steps.
   warmup_steps = 0 means no warmup. Inputs satisfy 0 <= warmup_steps <= total_steps and
   step >= 0. Return a Python float.

4. save_checkpoint(path, model, optimizer, step) -> None
   Write everything a run needs to continue to the file `path` with torch.save, as the dict

       {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step}

   (more keys are allowed). step is an int: the number of steps done so far, which is also the
   next step to run. The optimizer's state is not optional: Adam keeps two running averages per
   parameter and SGD with momentum a velocity, and without them the first steps after a resume
   differ from the steps the run would have taken. Save state_dicts (tensors, numbers, strings),
   never the model or optimizer objects themselves: the file must load with
   torch.load(path, weights_only=True), which refuses to unpickle arbitrary objects.

5. load_checkpoint(path, model, optimizer) -> int
   The reverse: read the file with torch.load(path, weights_only=True), load the "model" entry
   into model and the "optimizer" entry into optimizer (load_state_dict, both), and return the
   step as an int. model and optimizer are freshly built, of the same architecture and kind as
   the ones that were saved.

6. fit(model, train_loader, val_loader, optimizer, loss_fn, total_steps, *, max_grad_norm=None,
       lr_schedule=None, eval_every=None, checkpoint_path=None, checkpoint_every=None,
       resume=False) -> dict[str, list]
   The loop: runs steps start, start + 1, ..., total_steps - 1 with train_step, where start is
   0, or the step stored in the checkpoint when resuming.
   - Data: step s trains on batch number s of the stream you get by iterating train_loader over
     and over (epoch after epoch, a fresh iter(train_loader) each time it runs out). A resumed
     run starting at step k first draws and throws away the stream's first k batches, so that
     it sees the batches the uninterrupted run would have seen (for a shuffling loader that
     takes a loader whose order depends only on its seed, like 04's make_loader). A
     train_loader that yields no batch at all raises ValueError (starting it again and again
     would never give one).
   - Mode: put the model in train mode before the first step.
   - Learning rate: when lr_schedule is not None, set lr = lr_schedule(s) in every
     optimizer.param_groups entry before step s (e.g. lr_schedule = lambda s: lr_at(s, ...)).
   - Clipping: pass max_grad_norm to train_step.
   - Validation: when val_loader is not None, after step s call evaluate(model, val_loader,
     loss_fn) if s + 1 is a multiple of eval_every (when eval_every is not None) or s is the
     last step, total_steps - 1.
   - Checkpoints: when checkpoint_path is not None, after step s call save_checkpoint(
     checkpoint_path, model, optimizer, s + 1) on the same rule with checkpoint_every. The file
     is overwritten each time: it always holds the latest state.
   - Resuming: with resume=True and a file at checkpoint_path, call load_checkpoint first and
     start at the step it returns; with resume=True and no file there yet, start at step 0 (so
     the same command starts a run and continues it).
   Return the history {"train_loss": [...], "val_loss": [...], "val_step": [...]}: the loss
   train_step returned at each step this call ran, in order; each validation loss; and, for
   each validation, the number of steps done when it ran (s + 1).
   A resumed run ends with exactly the parameters of a run that never stopped: bit for bit, on
   the CPU, when the model has no randomness of its own (dropout would also need the RNG state
   in the checkpoint, which is rung 20's business).

Worked example: lr_at over a warmup of 4 steps and a decay to step 12; then one SGD step on
w = 2 with x = 1 and target 0, where loss = mean((w * x) ** 2) = 4 and dloss/dw = 2 * w = 4.

    >>> import tempfile, torch
    >>> import torch.nn.functional as F
    >>> from torch import nn
    >>> from torch.utils.data import DataLoader, TensorDataset
    >>> [lr_at(s, max_lr=1.0, warmup_steps=4, total_steps=12, min_lr=0.1) for s in (0, 1, 3)]
    [0.25, 0.5, 1.0]
    >>> [round(lr_at(s, 1.0, 4, 12, 0.1), 6) for s in (4, 8, 12, 100)]
    [1.0, 0.55, 0.1, 0.1]
    >>> model = nn.Linear(1, 1, bias=False)
    >>> _ = nn.init.constant_(model.weight, 2.0)
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> batch = (torch.ones(4, 1), torch.zeros(4, 1))
    >>> train_step(model, batch, optimizer, F.mse_loss)
    4.0
    >>> round(model.weight.item(), 4)  # 2 - 0.1 * 4
    1.6
    >>> _ = train_step(model, batch, optimizer, F.mse_loss, max_grad_norm=1.0)
    >>> round(model.weight.item(), 4)  # the gradient 2 * 1.6 = 3.2 was clipped to 1
    1.5
    >>> data = TensorDataset(torch.tensor([[1.0], [1.0], [1.0], [3.0]]), torch.zeros(4, 1))
    >>> loader = DataLoader(data, batch_size=3)  # batches of 3 and 1 examples
    >>> _ = nn.init.constant_(model.weight, 1.0)
    >>> evaluate(model, loader, F.mse_loss)  # (1 * 3 + 9 * 1) / 4, not (1 + 9) / 2
    3.0
    >>> model.training
    True
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save_checkpoint(f"{tmp}/ckpt.pt", model, optimizer, step=7)
    ...     fresh = nn.Linear(1, 1, bias=False)
    ...     step = load_checkpoint(f"{tmp}/ckpt.pt", fresh,
    ...                            torch.optim.SGD(fresh.parameters(), lr=0.1))
    >>> step, fresh.weight.item()
    (7, 1.0)

Rules:
- Use torch.nn.utils.clip_grad_norm_ or clip by hand; either way, before optimizer.step().
- evaluate must not call backward or optimizer.step, and must not leave the model's mode changed.
- Checkpoints go through torch.save / torch.load(weights_only=True), nothing else (no pickle of
  whole objects).
- fit calls your train_step, evaluate, save_checkpoint and load_checkpoint, not copies of them.
- Don't reseed the global RNG (torch.manual_seed) anywhere: the caller owns it.

Check your work with `./kata check 05-training-loop`; stuck? `./kata hint 05-training-loop`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch import Tensor, nn

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
    # TODO(05-training-loop): zero_grad, forward, loss, backward, clip if asked, step, .item().
    raise NotImplementedError("05-training-loop: train_step")


def evaluate(model: nn.Module, loader: Iterable[Batch], loss_fn: LossFn) -> float:
    """Mean loss per example over loader, in eval mode under no_grad; restores the mode."""
    # TODO(05-training-loop): note the mode, eval(), no_grad loop weighted by B, restore.
    raise NotImplementedError("05-training-loop: evaluate")


def lr_at(step: int, max_lr: float, warmup_steps: int, total_steps: int, min_lr: float) -> float:
    """Learning rate at 0-based `step`: linear warmup to max_lr, cosine decay to min_lr."""
    # TODO(05-training-loop): warmup with step + 1, cosine over the decay, min_lr after.
    raise NotImplementedError("05-training-loop: lr_at")


def save_checkpoint(
    path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer, step: int
) -> None:
    """Write {"model", "optimizer", "step"} to path with torch.save, loadable weights_only."""
    # TODO(05-training-loop): torch.save a dict of the two state_dicts and the step.
    raise NotImplementedError("05-training-loop: save_checkpoint")


def load_checkpoint(
    path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer
) -> int:
    """Load a save_checkpoint file into model and optimizer; return the step stored in it."""
    # TODO(05-training-loop): torch.load(weights_only=True), load both state_dicts, step.
    raise NotImplementedError("05-training-loop: load_checkpoint")


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
    # TODO(05-training-loop): resume, skip batches, then per step: lr, step, eval, save.
    raise NotImplementedError("05-training-loop: fit")
