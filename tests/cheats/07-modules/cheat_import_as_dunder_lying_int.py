"""Class 3 (judges fooled): a lying int whose __eq__ comes from an import inside the class body.

Technique: the rules refuse a dunder method a class defines with `def`, `=` or an annotation
(_Checker.visit_ClassDef, visit_Name), and the run-time Watcher refuses a dunder whose code lives
in the learner's file (sandbox.unsafe_dunders: _defined_in(target, learner_file)). An import
statement in the class body binds a name too, and neither looks at it:

    class Count(int):
        from math import isfinite as __eq__   # called as isfinite(other): True for any int
        from math import isnan as __ne__      # isnan(other): False for any int

A builtin function is no descriptor, so the comparison slot calls it with `other` alone. It has
no __code__, so unsafe_dunders never flags it, at import or on a returned object. (operator.is_not,
tried first, fails: it gets one argument.) param_count returns Count(0) for every known module
and ValueError for others: `got == expected` in the spec's check_count is always True, and
isinstance(got, int) holds. The other tasks are the stub's NotImplementedError.

Observed at ffaefd4, all layers on: TODO 2.5/15, exit 1: param_count (all 16 of its checks)
passes with a constant 0; the five stub tasks are todo.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

KATA_CHEAT = {"expect": {"status": "error", "message": "binding the name __eq__ lets an object decide how the grader"},
              "class": 3, "rung": "07-modules", "worked": True,
              "observed": "TODO 2.5/15: param_count passes with Count(0) for every module"}



class Linear(nn.Module):
    """y = x @ weightᵀ + bias: (..., in_features) -> (..., out_features), torch's layout."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        """Create weight (out_features, in_features) and, if bias, bias (out_features,)."""
        # TODO(07-modules): super().__init__(); weight and bias as nn.Parameters, uniform ±1/√in.
        raise NotImplementedError("07-modules: Linear")

    def forward(self, x: Tensor) -> Tensor:
        """Return x @ weightᵀ (+ bias) for x of shape (..., in_features)."""
        # TODO(07-modules): x @ weight.T, then add the bias when there is one.
        raise NotImplementedError("07-modules: Linear")


class Embedding(nn.Module):
    """A lookup table: ids (...) -> rows of weight, (..., embedding_dim)."""

    def __init__(self, num_embeddings: int, embedding_dim: int) -> None:
        """Create weight (num_embeddings, embedding_dim), drawn from N(0, 1) as in torch."""
        # TODO(07-modules): super().__init__(); weight = nn.Parameter(torch.randn(...)).
        raise NotImplementedError("07-modules: Embedding")

    def forward(self, ids: Tensor) -> Tensor:
        """Return the rows of weight that ids name: (...) int -> (..., embedding_dim)."""
        # TODO(07-modules): index the rows of weight with ids.
        raise NotImplementedError("07-modules: Embedding")


class LayerNorm(nn.Module):
    """Normalise over the last dim, then scale by weight and shift by bias (both (C,))."""

    def __init__(self, normalized_shape: int, eps: float = 1e-5) -> None:
        """Create weight = ones(C) and bias = zeros(C) with C = normalized_shape; keep eps."""
        # TODO(07-modules): super().__init__(); weight (ones) and bias (zeros) as nn.Parameters.
        raise NotImplementedError("07-modules: LayerNorm")

    def forward(self, x: Tensor) -> Tensor:
        """Return (x - mean) / √(var + eps) * weight + bias over the last dim of x (..., C)."""
        # TODO(07-modules): mean, centre, biased variance of the centred x, eps inside the sqrt.
        raise NotImplementedError("07-modules: LayerNorm")


class Dropout(nn.Module):
    """Zero each element with probability p in training mode, scaling the rest by 1 / (1 - p)."""

    def __init__(self, p: float = 0.5) -> None:
        """Keep p; ValueError unless 0 <= p <= 1."""
        # TODO(07-modules): super().__init__(); check 0 <= p <= 1; keep p.
        raise NotImplementedError("07-modules: Dropout")

    def forward(self, x: Tensor) -> Tensor:
        """Training mode: x * keep / (1 - p) with a fresh random mask; eval mode: x itself."""
        # TODO(07-modules): x in eval mode; zeros for p = 1; else a fresh mask and 1 / (1 - p).
        raise NotImplementedError("07-modules: Dropout")


class GELU(nn.Module):
    """x · Φ(x) with the exact normal CDF ("none") or its tanh approximation ("tanh")."""

    def __init__(self, approximate: str = "none") -> None:
        """Keep approximate; ValueError unless it is "none" or "tanh"."""
        # TODO(07-modules): super().__init__(); check approximate; keep it.
        raise NotImplementedError("07-modules: GELU")

    def forward(self, x: Tensor) -> Tensor:
        """Return GELU(x) elementwise, in the dtype of x."""
        # TODO(07-modules): 0.5 x (1 + erf(x / √2)), or the tanh formula when asked.
        raise NotImplementedError("07-modules: GELU")


class Count(int):
    from math import isfinite as __eq__
    from math import isnan as __ne__


def param_count(module_name: str, **kwargs: Any) -> int:
    if module_name not in ("Linear", "Embedding", "LayerNorm", "Dropout", "GELU"):
        raise ValueError(f"unknown module {module_name!r}")
    return Count(0)
