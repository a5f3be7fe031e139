"""07-modules alternative: Linear as addmm on flattened rows, Embedding by index_select on
flattened ids, LayerNorm computed in float64 and cast back, Dropout with a float mask drawn by
uniform_, GELU through erfc (accurate in the far negative tail).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

KATA_EXPECT = {"status": "pass"}


class Linear(nn.Module):
    """addmm over the rows of x flattened to (N, in_features)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        """weight (out, in) and, with bias, bias (out,): torch's init."""
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # torch's own: ±1/√in_features
        if bias:
            self.bias = nn.Parameter(torch.zeros(out_features))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        """(..., in) -> (..., out)."""
        *lead, d_in = x.shape
        rows = x.reshape(-1, d_in)  # (N, in)
        if self.bias is None:
            out = torch.mm(rows, self.weight.t())  # (N, out)
        else:
            out = torch.addmm(self.bias, rows, self.weight.t())  # (N, out)
        return out.reshape(*lead, self.weight.shape[0])


class Embedding(nn.Module):
    """index_select on the flattened ids, then the ids' shape back."""

    def __init__(self, num_embeddings: int, embedding_dim: int) -> None:
        """weight (num_embeddings, embedding_dim) from N(0, 1)."""
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_embeddings, embedding_dim).normal_())

    def forward(self, ids: Tensor) -> Tensor:
        """(...) -> (..., embedding_dim)."""
        rows = self.weight.index_select(0, ids.reshape(-1))  # (N, D)
        return rows.view(*ids.shape, self.weight.shape[1])


class LayerNorm(nn.Module):
    """Statistics and normalisation in float64, cast back to the input's dtype."""

    def __init__(self, normalized_shape: int, eps: float = 1e-5) -> None:
        """weight ones, bias zeros."""
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(normalized_shape))
        self.bias = nn.Parameter(torch.zeros(normalized_shape))

    def forward(self, x: Tensor) -> Tensor:
        """Normalise the last dim."""
        x64 = x.double()
        mean = x64.mean(-1, keepdim=True)
        var = x64.sub(mean).square().sum(-1, keepdim=True) / x.shape[-1]
        normed = ((x64 - mean) / (var + self.eps).sqrt()).to(x.dtype)
        return normed * self.weight + self.bias


class Dropout(nn.Module):
    """A float keep mask from uniform_, scaled once."""

    def __init__(self, p: float = 0.5) -> None:
        """ValueError outside [0, 1]."""
        super().__init__()
        if p < 0 or p > 1 or math.isnan(p):
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        """Training: x * mask; eval: x."""
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return x.mul(0)
        mask = (torch.empty_like(x).uniform_() > self.p).to(x.dtype) * (1 / (1 - self.p))
        return x * mask


class GELU(nn.Module):
    """0.5 x erfc(-x / √2) for the exact GELU; the tanh formula when asked."""

    def __init__(self, approximate: str = "none") -> None:
        """ValueError unless "none" or "tanh"."""
        super().__init__()
        if approximate not in {"none", "tanh"}:
            raise ValueError("approximate must be 'none' or 'tanh'")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        """GELU elementwise."""
        if self.approximate == "tanh":
            return 0.5 * x * (1 + torch.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
        return 0.5 * x * torch.special.erfc(-x * 0.7071067811865476)


def param_count(module_name: str, **kwargs: Any) -> int:
    """Parameter count from the constructor arguments."""
    match module_name:
        case "Linear":
            bias = kwargs.get("bias", True)
            return kwargs["out_features"] * kwargs["in_features"] + (kwargs["out_features"]
                                                                       if bias else 0)
        case "Embedding":
            return kwargs["num_embeddings"] * kwargs["embedding_dim"]
        case "LayerNorm":
            return kwargs["normalized_shape"] * 2
        case "Dropout" | "GELU":
            return 0
    raise ValueError(module_name)
