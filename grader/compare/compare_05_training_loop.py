"""`kata compare 05-training-loop`: losses and weights after the same training as the reference.

Run by the grader's worker like a spec (grader/harness/comparison_row.py says how a row travels).
A training loop has no output to diff, so each row compares what the training leaves: the losses
it reports and the weights it ends with.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from grader.harness.comparison_row import bare, compare_call, report_row
from grader.strategies import randn

pytestmark = pytest.mark.rung("05-training-loop")

STEPS = 30


def _task(device: torch.device) -> tuple[nn.Module, torch.optim.Optimizer, list]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 1)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x = randn((256, 32), 1, torch.float32, device)
    y = x[:, :1] * 2 - x[:, 1:2]
    return model, optimizer, [(x[i:i + 32], y[i:i + 32]) for i in range(0, 256, 32)]


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


@pytest.mark.task("train_step", category="training")
def test_train_step(candidate, reference, device):
    def training(fn):
        def run(model, optimizer, batches):
            losses = [fn(model, batches[i % len(batches)], optimizer, F.mse_loss, 1.0)
                      for i in range(STEPS)]
            return losses, _weights(model)
        return run

    compare_call(training(bare(candidate.train_step)), training(reference.train_step),
                 lambda slot: _task(device),
                 note=f"{STEPS} AdamW steps with clipping: losses and final weights")


@pytest.mark.task("evaluate", category="values")
def test_evaluate(candidate, reference, device):
    def inputs(slot: int) -> tuple:
        model, _, batches = _task(device)
        return model, batches, F.mse_loss

    compare_call(candidate.evaluate, reference.evaluate, inputs, note="8 batches of 32")


@pytest.mark.task("lr_at", category="values")
def test_lr_at(candidate, reference):
    def schedule(fn):
        return lambda total: [fn(step, 1e-3, 100, total, 1e-5) for step in range(total + 10)]

    compare_call(schedule(bare(candidate.lr_at)), schedule(reference.lr_at),
                 lambda slot: (1000,), note="warmup 100, cosine to step 1000, every step")


@pytest.mark.task("save_checkpoint", category="values")
def test_save_checkpoint(candidate, reference, device, tmp_path):
    def saved(fn, name):
        def run(model, optimizer, batches):
            path = tmp_path / name
            fn(path, model, optimizer, 7)
            return torch.load(path, weights_only=True)
        return run

    compare_call(saved(bare(candidate.save_checkpoint), "learner.pt"),
                 saved(reference.save_checkpoint, "reference.pt"), lambda slot: _task(device),
                 note="what torch.load(weights_only=True) reads back")


@pytest.mark.task("load_checkpoint", category="values")
def test_load_checkpoint(candidate, reference, device, tmp_path):
    model, optimizer, batches = _task(device)
    for batch in batches:
        reference.train_step(model, batch, optimizer, F.mse_loss)
    path = tmp_path / "trained.pt"
    reference.save_checkpoint(path, model, optimizer, 8)

    def loaded(fn):
        def run(model, optimizer, batches):
            step = fn(path, model, optimizer)
            return step, _weights(model), optimizer.state_dict()["state"]
        return run

    compare_call(loaded(bare(candidate.load_checkpoint)), loaded(reference.load_checkpoint),
                 lambda slot: _task(device), note="step, weights and optimizer state")


@pytest.mark.task("fit", category="training")
def test_fit(candidate, reference, device):
    def fitted(fn):
        def run(model, optimizer, batches):
            history = fn(model, batches, batches[:2], optimizer, F.mse_loss, STEPS,
                         eval_every=10)
            return history["train_loss"], history["val_loss"], _weights(model)
        return run

    learner_output = fitted(candidate.fit)(*_task(device))
    reference_output = fitted(reference.fit)(*_task(device))
    final = (f"final train loss {_final(learner_output[0])} vs {_final(reference_output[0])}")
    report_row(learner_output, reference_output, (fitted(bare(candidate.fit)),
                                                  fitted(reference.fit)),
               lambda slot: _task(device),
               note=f"{final}; {STEPS} steps, validation every 10, losses and final weights")


def _final(losses: object) -> str:
    """The last loss of a history, as a number or what it was instead."""
    if isinstance(losses, list) and losses and isinstance(losses[-1], int | float):
        return f"{float(losses[-1]):.4g}"
    return "?"
