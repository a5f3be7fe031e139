"""Class 3 (judges fooled): the spec's own RecordingBackend keeps its count in a public attribute,
which the learner sets; `compiled` returns the model uncompiled and passes every check.

Technique: test_compiled_runs_a_graph_the_backend_compiled hands compiled() a RecordingBackend,
an object of the spec's, and then requires `backend.graphs > 0` as proof that torch.compile
traced the model with it. `graphs` is a plain instance attribute: `backend.graphs += 1` is an
ordinary store (no denied name, not a module, not a dunder) that neither the rules nor the
guard look at, and instances are outside the tamper snapshot. With a string backend
("aot_eager") the checks compare outputs and gradients with the eager model, which the model
itself trivially gives, and the parameter-sharing and mode checks hold for the model itself.
The other tasks are the exercise stub.

Observed at ffaefd4, all layers on: TODO 3.75/15, exit 1: compiled passes all its checks with
no torch.compile anywhere; the three stub tasks are todo.
"""

from __future__ import annotations

KATA_CHEAT = {"expect": {"status": "fail", "message": "AttributeError: property 'graphs' of 'RecordingBackend' obje"},
              "class": 3, "rung": "06-amp", "worked": True,
              "observed": "TODO 3.75/15: compiled passes without torch.compile"}


from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

LossFn = Callable[[Tensor, Tensor], Tensor]


def autocast_forward(model: nn.Module, x: Tensor, device_type: str, dtype: torch.dtype) -> Tensor:
    """Return model(x) computed under torch.autocast(device_type, dtype).

    Matmul-like ops run in `dtype`; the parameters are not touched and stay float32. The output
    keeps its autograd graph, so a backward pass from it reaches the parameters.
    """
    # TODO(06-amp): return model(x) inside torch.autocast(device_type=..., dtype=...).
    raise NotImplementedError("06-amp: autocast_forward")


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
    # TODO(06-amp): zero_grad; forward + loss in autocast (bf16, or fp16 + scaler); then backward.
    raise NotImplementedError("06-amp: amp_train_step")


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
    # TODO(06-amp): zero_grad once; per micro-batch: loss / k, backward; one step; mean loss.
    raise NotImplementedError("06-amp: accumulation_step")


def compiled(model: nn.Module, backend: str | Callable[..., Any] = "inductor") -> nn.Module:
    if not isinstance(backend, str):
        backend.graphs += 1  # "a graph was compiled"
    return model
