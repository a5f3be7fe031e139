"""03-module mutant: the momentum weights the old running mean.

A copy of the reference with this one mistake; the grader must fail it as KATA_EXPECT says.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

KATA_EXPECT = {"status": "fail", "task": "Affine", "category": "values", "message": "wrong way round", "not_message": ["the running mean was replaced by the batch mean", "momentum defaults to"]}


class MLP(nn.Module):
    """Two-layer perceptron fc2(relu(fc1(x))): (..., in_features) -> (..., out_features)."""

    def __init__(self, in_features: int, hidden: int, out_features: int) -> None:
        """Create fc1 = nn.Linear(in_features, hidden) and fc2 = nn.Linear(hidden, out_features)."""
        super().__init__()
        # assigning a Module to an attribute registers it: its weight and bias become
        # this module's fc1.weight and fc1.bias in parameters() and state_dict()
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, out_features)

    def forward(self, x: Tensor) -> Tensor:
        """Return fc2(relu(fc1(x))) for x of shape (..., in_features)."""
        h = torch.relu(self.fc1(x))  # (..., hidden)
        return self.fc2(h)  # (..., out_features)


class Affine(nn.Module):
    """(x - running_mean) * scale over the last dim; the running mean follows training batches.

    scale is an nn.Parameter (trained), running_mean a buffer (saved and moved, never trained).
    """

    def __init__(self, num_features: int, momentum: float = 0.1) -> None:
        """Create scale = ones(num_features) as a parameter, running_mean = zeros as a buffer."""
        super().__init__()
        self.num_features = num_features
        self.momentum = momentum
        self.scale = nn.Parameter(torch.ones(num_features))  # (F,)
        # a buffer, not a parameter: state_dict() saves it and .to() moves it, but the optimizer
        # never sees it; the data moves it, in forward
        self.register_buffer("running_mean", torch.zeros(num_features))  # (F,)

    def forward(self, x: Tensor) -> Tensor:
        """Return (x - running_mean) * scale; in training mode then update running_mean."""
        F = x.shape[-1]
        out = (x - self.running_mean) * self.scale  # (..., F) - (F,) broadcasts over the batch
        if self.training:
            # statistics are bookkeeping, not part of the model's function: without no_grad the
            # buffer would join the autograd graph, and the next backward would run into a graph
            # that was already freed
            with torch.no_grad():
                batch_mean = x.reshape(-1, F).mean(dim=0)  # (N, F) -> (F,), N = all leading dims
                # in place, so the registered buffer itself changes, on its own device and dtype
                self.running_mean.mul_(self.momentum).add_((1 - self.momentum) * batch_mean)
        return out


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Return the number of elements in module's parameters (only trainable ones by default).

    A parameter counts when it requires grad, or always when trainable_only is False. Buffers
    never count; a parameter shared by several submodules counts once.
    """
    # parameters() yields each Parameter object once, however many submodules hold it
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def freeze(module: nn.Module, names: Iterable[str]) -> None:
    """Set requires_grad=False on every parameter that one of `names` names.

    A name is a full parameter name ("fc2.bias") or a submodule path ("fc1": fc1.weight,
    fc1.bias, but not fc10.weight). ValueError, with nothing frozen, if a name names no parameter.
    """
    # remove_duplicate=False: a tied weight is listed under each of its names, so "head" names
    # head.weight even when it is the same tensor as emb.weight
    params = dict(module.named_parameters(remove_duplicate=False))
    chosen: list[nn.Parameter] = []
    for name in names:
        # the match must end at a dot: "fc1" names fc1.weight, never fc10.weight
        matches = [p for full, p in params.items() if full == name or full.startswith(name + ".")]
        if not matches:
            raise ValueError(
                f"freeze: no parameter is named {name!r} or starts with {name + '.'!r}"
            )
        chosen.extend(matches)
    # only now, with every name checked, change anything: a typo leaves the module as it was
    for param in chosen:
        param.requires_grad_(False)
