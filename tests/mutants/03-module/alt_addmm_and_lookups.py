"""03-module alternative: the MLP as two addmm calls on flattened rows, the running mean averaged
in float64 and assigned back to the buffer, counting by parameter identity, and freeze looking
names up with get_parameter / get_submodule.
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
        self.fc2 = nn.Linear(hidden, out_features)

    def forward(self, x: Tensor) -> Tensor:
        """Return fc2(relu(fc1(x))) for x of shape (..., in_features)."""
        *lead, d_in = x.shape
        rows = x.reshape(-1, d_in)  # (N, in_features)
        h = torch.addmm(self.fc1.bias, rows, self.fc1.weight.t()).clamp_min(0)  # (N, hidden)
        out = torch.addmm(self.fc2.bias, h, self.fc2.weight.t())  # (N, out_features)
        return out.reshape(*lead, -1)


class Affine(nn.Module):
    """(x - running_mean) * scale over the last dim; the running mean follows training batches.

    scale is an nn.Parameter (trained), running_mean a buffer (saved and moved, never trained).
    """

    def __init__(self, num_features: int, momentum: float = 0.1) -> None:
        """Create scale = ones(num_features) as a parameter, running_mean = zeros as a buffer."""
        super().__init__()
        self.momentum = momentum
        self.register_parameter("scale", nn.Parameter(torch.ones(num_features)))
        self.register_buffer("running_mean", torch.zeros(num_features))

    def forward(self, x: Tensor) -> Tensor:
        """Return (x - running_mean) * scale; in training mode then update running_mean."""
        out = torch.mul(torch.sub(x, self.running_mean), self.scale)
        if self.training:
            with torch.no_grad():
                dims = tuple(range(x.dim() - 1))
                batch_mean = x.double().mean(dim=dims) if dims else x.double()
                blended = torch.lerp(self.running_mean.double(), batch_mean, self.momentum)
                # assigning a tensor to a registered buffer's name replaces the buffer
                self.running_mean = blended.to(self.running_mean.dtype)
        return out


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Return the number of elements in module's parameters (only trainable ones by default).

    A parameter counts when it requires grad, or always when trainable_only is False. Buffers
    never count; a parameter shared by several submodules counts once.
    """
    unique = {id(p): p for _, p in module.named_parameters(remove_duplicate=False)}
    return int(sum(p.numel() for p in unique.values() if p.requires_grad or not trainable_only))


def _named(module: nn.Module, name: str) -> list[nn.Parameter]:
    try:
        return [module.get_parameter(name)]
    except AttributeError:
        pass
    try:
        return list(module.get_submodule(name).parameters())
    except AttributeError:
        return []


def freeze(module: nn.Module, names: Iterable[str]) -> None:
    """Set requires_grad=False on every parameter that one of `names` names.

    A name is a full parameter name ("fc2.bias") or a submodule path ("fc1": fc1.weight,
    fc1.bias, but not fc10.weight). ValueError, with nothing frozen, if a name names no parameter.
    """
    found = {name: _named(module, name) for name in names}
    missing = [name for name, params in found.items() if not params]
    if missing:
        raise ValueError(f"freeze: {missing} name no parameter of {type(module).__name__}")
    for params in found.values():
        for param in params:
            param.requires_grad_(False)
