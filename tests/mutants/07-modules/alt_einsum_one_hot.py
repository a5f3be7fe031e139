"""07-modules alternative: Linear by einsum, Embedding as a one-hot matmul, LayerNorm from
torch.var_mean and rsqrt, Dropout from torch.bernoulli, GELU through the normal CDF
(torch.special.ndtr), param_count from a table of formulas.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

KATA_EXPECT = {"status": "pass"}


class Linear(nn.Module):
    """y = x @ weightᵀ + bias, contracted with einsum."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        """weight (out, in) and optional bias (out,), uniform in ±1/√in_features."""
        super().__init__()
        bound = in_features ** -0.5 if in_features else 0.0  # torch: no fan-in, bound 0
        self.weight = nn.Parameter((torch.rand(out_features, in_features) * 2 - 1) * bound)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        """(..., in) -> (..., out)."""
        y = torch.einsum("...i,oi->...o", x, self.weight)
        return y if self.bias is None else torch.add(y, self.bias)


class Embedding(nn.Module):
    """Rows picked by multiplying a one-hot encoding of the ids with the table."""

    def __init__(self, num_embeddings: int, embedding_dim: int) -> None:
        """weight (num_embeddings, embedding_dim) from N(0, 1)."""
        super().__init__()
        self.weight = nn.Parameter(torch.randn(num_embeddings, embedding_dim))

    def forward(self, ids: Tensor) -> Tensor:
        """(...) int64 -> (..., embedding_dim)."""
        one_hot = F.one_hot(ids, self.weight.shape[0]).to(self.weight.dtype)  # (..., V)
        return one_hot @ self.weight  # (..., V) @ (V, D) -> (..., D)


class LayerNorm(nn.Module):
    """(x - mean) * rsqrt(var + eps) * weight + bias, statistics from torch.var_mean."""

    def __init__(self, normalized_shape: int, eps: float = 1e-5) -> None:
        """weight ones, bias zeros, both (normalized_shape,)."""
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(normalized_shape))
        self.bias = nn.Parameter(torch.zeros(normalized_shape))

    def forward(self, x: Tensor) -> Tensor:
        """Normalise over the last dim."""
        var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
        return torch.addcmul(self.bias, (x - mean) * torch.rsqrt(var + self.eps), self.weight)


class Dropout(nn.Module):
    """A Bernoulli(1 - p) keep mask, scaled by 1 / (1 - p)."""

    def __init__(self, p: float = 0.5) -> None:
        """ValueError unless p is in [0, 1]."""
        super().__init__()
        if not (p >= 0 and p <= 1):
            raise ValueError(f"p must be a probability, got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        """Training: x * Bernoulli(1 - p) / (1 - p); eval: x."""
        if not self.training:
            return x
        if self.p == 1:
            return torch.zeros_like(x) * x
        keep = torch.bernoulli(torch.full_like(x, 1 - self.p))
        return x * (keep / (1 - self.p))


class GELU(nn.Module):
    """x · Φ(x) through torch.special.ndtr, or the tanh approximation."""

    def __init__(self, approximate: str = "none") -> None:
        """ValueError unless approximate is "none" or "tanh"."""
        super().__init__()
        if approximate != "none" and approximate != "tanh":
            raise ValueError(f"unknown approximation {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        """GELU elementwise."""
        if self.approximate == "none":
            return x * torch.special.ndtr(x)
        c = math.sqrt(2 / math.pi)
        return x * 0.5 * (1 + torch.tanh(c * (x + 0.044715 * x.pow(3))))


_COUNTS: dict[str, Callable[..., int]] = {
    "Linear": lambda in_features, out_features, bias=True: out_features * (in_features + bias),
    "Embedding": lambda num_embeddings, embedding_dim: num_embeddings * embedding_dim,
    "LayerNorm": lambda normalized_shape, eps=1e-5: normalized_shape + normalized_shape,
    "Dropout": lambda p=0.5: 0,
    "GELU": lambda approximate="none": 0,
}


def param_count(module_name: str, **kwargs: Any) -> int:
    """Parameter count of module_name(**kwargs), from a table of formulas."""
    if module_name not in _COUNTS:
        raise ValueError(f"no such module: {module_name}")
    return int(_COUNTS[module_name](**kwargs))
