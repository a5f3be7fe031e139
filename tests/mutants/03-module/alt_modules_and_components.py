"""03-module alternative: an nn.ReLU submodule, the affine map expanded as x * scale -
running_mean * scale, a detached update assigned to the buffer instead of no_grad, counting by walking the
submodules, and freeze matching whole dotted components.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

KATA_EXPECT = {"status": "pass"}


class MLP(nn.Module):
    """Two-layer perceptron fc2(relu(fc1(x))): (..., in_features) -> (..., out_features)."""

    def __init__(self, in_features: int, hidden: int, out_features: int) -> None:
        """Create fc1 = nn.Linear(in_features, hidden) and fc2 = nn.Linear(hidden, out_features)."""
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.act = nn.ReLU()  # no parameters, so it adds no state_dict keys
        self.fc2 = nn.Linear(hidden, out_features)

    def forward(self, x: Tensor) -> Tensor:
        """Return fc2(relu(fc1(x))) for x of shape (..., in_features)."""
        return self.fc2(self.act(self.fc1(x)))


class Affine(nn.Module):
    """(x - running_mean) * scale over the last dim; the running mean follows training batches.

    scale is an nn.Parameter (trained), running_mean a buffer (saved and moved, never trained).
    """

    def __init__(self, num_features: int, momentum: float = 0.1) -> None:
        """Create scale = ones(num_features) as a parameter, running_mean = zeros as a buffer."""
        super().__init__()
        self.momentum = momentum
        self.scale = nn.Parameter(torch.full((num_features,), 1.0))
        self.register_buffer("running_mean", torch.zeros(num_features))

    def forward(self, x: Tensor) -> Tensor:
        """Return (x - running_mean) * scale; in training mode then update running_mean."""
        # in the dtype (x - running_mean) * scale promotes to: a float64 x keeps float64's digits
        dtype = torch.promote_types(x.dtype, self.scale.dtype)
        scale, mean = self.scale.to(dtype), self.running_mean.to(dtype)
        out = x * scale - mean * scale
        if self.training:
            rows = torch.atleast_2d(x.detach()).flatten(0, -2)  # (N, F)
            # a new tensor, not an in-place update: backward still needs the old running_mean
            # (saved by running_mean * scale); assigning to a buffer's name keeps it a buffer
            self.running_mean = torch.lerp(self.running_mean,
                                           rows.mean(0).to(self.running_mean.dtype),
                                           self.momentum)
        return out


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Return the number of elements in module's parameters (only trainable ones by default).

    A parameter counts when it requires grad, or always when trainable_only is False. Buffers
    never count; a parameter shared by several submodules counts once.
    """
    seen: dict[int, nn.Parameter] = {}
    for sub in module.modules():
        for param in sub.parameters(recurse=False):
            seen[id(param)] = param
    return sum(p.numel() for p in seen.values() if p.requires_grad or not trainable_only)


def freeze(module: nn.Module, names: Iterable[str]) -> None:
    """Set requires_grad=False on every parameter that one of `names` names.

    A name is a full parameter name ("fc2.bias") or a submodule path ("fc1": fc1.weight,
    fc1.bias, but not fc10.weight). ValueError, with nothing frozen, if a name names no parameter.
    """
    params = list(module.named_parameters(remove_duplicate=False))  # tied: under every name
    wanted = [name.split(".") for name in names]
    for parts in wanted:
        if not any(full.split(".")[: len(parts)] == parts for full, _ in params):
            raise ValueError(f"unknown parameter or submodule name {'.'.join(parts)!r}")
    for full, param in params:
        if any(full.split(".")[: len(parts)] == parts for parts in wanted):
            param.requires_grad = False
