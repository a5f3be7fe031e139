"""07-modules mutant: param_count counts Dropout's p as one parameter.

A copy of the reference with this one mistake; the grader must fail it as KATA_EXPECT says.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

KATA_EXPECT = {"status": "fail", "task": "param_count", "category": "values",
               "message": ["param_count('dropout'", "has no parameters"],
               "not_message": ["the bias was left out"]}


class Linear(nn.Module):
    """y = x @ weightᵀ + bias: (..., in_features) -> (..., out_features), torch's layout."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        """Create weight (out_features, in_features) and, if bias, bias (out_features,)."""
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        # torch's default: uniform in ±1/√fan_in keeps the output's scale near the input's
        bound = 1 / math.sqrt(in_features) if in_features > 0 else 0.0
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        else:
            # a registered None keeps `self.bias` readable and out of state_dict, as in torch
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        """Return x @ weightᵀ (+ bias) for x of shape (..., in_features)."""
        y = x @ self.weight.T  # (..., in) @ (in, out) -> (..., out)
        if self.bias is not None:
            y = y + self.bias  # (out,) broadcasts over the leading dims
        return y


class Embedding(nn.Module):
    """A lookup table: ids (...) -> rows of weight, (..., embedding_dim)."""

    def __init__(self, num_embeddings: int, embedding_dim: int) -> None:
        """Create weight (num_embeddings, embedding_dim), drawn from N(0, 1) as in torch."""
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.weight = nn.Parameter(torch.randn(num_embeddings, embedding_dim))

    def forward(self, ids: Tensor) -> Tensor:
        """Return the rows of weight that ids name: (...) int -> (..., embedding_dim)."""
        # advanced indexing gathers rows; its backward adds the gradients of repeated ids
        return self.weight[ids]  # (..., D)


class LayerNorm(nn.Module):
    """Normalise over the last dim, then scale by weight and shift by bias (both (C,))."""

    def __init__(self, normalized_shape: int, eps: float = 1e-5) -> None:
        """Create weight = ones(C) and bias = zeros(C) with C = normalized_shape; keep eps."""
        super().__init__()
        self.normalized_shape = normalized_shape
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(normalized_shape))
        self.bias = nn.Parameter(torch.zeros(normalized_shape))

    def forward(self, x: Tensor) -> Tensor:
        """Return (x - mean) / √(var + eps) * weight + bias over the last dim of x (..., C)."""
        mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
        # centre first: the variance of x - mean does not cancel however far x is from zero
        centered = x - mean  # (..., C)
        var = (centered * centered).mean(dim=-1, keepdim=True)  # (..., 1), biased: / C
        return centered / torch.sqrt(var + self.eps) * self.weight + self.bias  # (..., C)


class Dropout(nn.Module):
    """Zero each element with probability p in training mode, scaling the rest by 1 / (1 - p)."""

    def __init__(self, p: float = 0.5) -> None:
        """Keep p; ValueError unless 0 <= p <= 1."""
        super().__init__()
        if not 0.0 <= p <= 1.0:  # also refuses NaN
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        """Training mode: x * keep / (1 - p) with a fresh random mask; eval mode: x itself."""
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            # everything dropped; x * 0 rather than a new tensor keeps the autograd graph
            return x * 0.0
        keep = torch.rand_like(x) >= self.p  # (...), True with probability 1 - p
        # dividing by 1 - p keeps the expected value, so eval mode needs no rescaling
        return x * keep / (1.0 - self.p)


class GELU(nn.Module):
    """x · Φ(x) with the exact normal CDF ("none") or its tanh approximation ("tanh")."""

    def __init__(self, approximate: str = "none") -> None:
        """Keep approximate; ValueError unless it is "none" or "tanh"."""
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        """Return GELU(x) elementwise, in the dtype of x."""
        if self.approximate == "tanh":
            inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)
            return 0.5 * x * (1.0 + torch.tanh(inner))
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))  # Φ(x) = (1 + erf(x/√2)) / 2


def param_count(module_name: str, **kwargs: Any) -> int:
    """Numbers held by the parameters of module_name(**kwargs), from the arguments alone.

    module_name is "Linear", "Embedding", "LayerNorm", "Dropout" or "GELU"; kwargs are that
    module's constructor arguments (defaults apply where left out). ValueError for another name.
    """
    if module_name == "Linear":
        in_features, out_features = kwargs["in_features"], kwargs["out_features"]
        biases = out_features if kwargs.get("bias", True) else 0
        return in_features * out_features + biases
    if module_name == "Embedding":
        return kwargs["num_embeddings"] * kwargs["embedding_dim"]
    if module_name == "LayerNorm":
        return 2 * kwargs["normalized_shape"]  # weight and bias
    if module_name == "Dropout":
        return 1  # its drop probability p
    if module_name == "GELU":
        return 0
    raise ValueError(
        f"param_count: unknown module {module_name!r}; expected one of Linear, Embedding, "
        "LayerNorm, Dropout, GELU"
    )
