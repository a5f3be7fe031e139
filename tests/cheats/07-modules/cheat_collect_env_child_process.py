"""Class 5 (structure evaded) via dynamic code: torch.utils.collect_env runs any command, and the
work done in the child process is invisible to every recorder.

Technique: `torch.utils.collect_env` is not in BASE_DENY and `run` is no denied name.
`collect_env.run(argv)` is subprocess.Popen + communicate and returns (rc, stdout, stderr).
`collect_env.get_pip_packages(run_lambda)` calls the given lambda with
`[sys.executable, "-mpip", ...]`, which hands over the worker's own interpreter without `sys`.
param_count then runs `python -c "<code>"`: the child has no source rules, no guarded builtins,
no op recorder. It builds the real torch.nn module and counts its parameters, exactly what the
check test_param_count_builds_no_tensors forbids (it records the parent's ops only: none).
The other tasks are the exercise stub.

Observed at ffaefd4, all layers on: TODO 2.5/15, exit 1: param_count passes all 16 checks,
"builds no tensors" included, while every count is computed by building torch's own module in
a child process (about 1 s per call).
"""

from __future__ import annotations

KATA_CHEAT = {"expect": {"status": "error", "message": "from torch.utils.collect_env import ...: `torch.utils` reach"},
              "class": 5, "rung": "07-modules", "worked": True,
              "observed": "TODO 2.5/15: param_count (16 checks) computed by torch.nn in a child"}


import math
from typing import Any

import torch
from torch import Tensor, nn


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


from torch.utils.collect_env import get_pip_packages, run

_seen: list = []


def _capture(command):
    _seen.append(command)
    return 1, "", ""


get_pip_packages(_capture)
_PYTHON = _seen[0][0]  # sys.executable
_CHILD = ("import torch, sys; kwargs = eval(sys.argv[2]); "
          "print(sum(p.numel() for p in getattr(torch.nn, sys.argv[1])(**kwargs).parameters()))")


def param_count(module_name: str, **kwargs: Any) -> int:
    if module_name not in ("Linear", "Embedding", "LayerNorm", "Dropout", "GELU"):
        raise ValueError(f"unknown module {module_name!r}")
    code, out, err = run([_PYTHON, "-c", _CHILD, module_name, repr(kwargs)])
    if code != 0:
        raise RuntimeError(err[-500:])
    return int(out.split()[-1])
