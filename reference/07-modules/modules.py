"""07-modules: Linear, Embedding, LayerNorm, Dropout and GELU, written from scratch.

Every transformer is made of the same few layers. torch.nn ships all of them; here you write five
of them yourself, from tensor operations, as nn.Modules that can stand in for torch's: the same
parameter names and shapes (so a state_dict saved from torch's layer loads into yours with
load_state_dict), the same outputs and the same gradients. A sixth task counts their parameters
from the constructor arguments alone. Build each parameter with nn.Parameter in __init__ (call
super().__init__() first); autograd derives every backward pass for you.

1. Linear(in_features, out_features, bias=True): an affine map of the last dim.

       y = x @ weightᵀ + bias        x (..., in_features) -> y (..., out_features)
       weight (out_features, in_features)    torch's layout: row j holds output feature j
       bias   (out_features,)                with bias=False there is none: keep the attribute
                                             as torch does, self.register_parameter("bias", None)

   Initialise as torch does: weight and bias uniform in [-1/√in_features, 1/√in_features]
   (torch.empty(shape).uniform_(-bound, bound)). The grader wants weights that are not all zero,
   not all equal and inside that bound; a bias that starts at zero is fine.

2. Embedding(num_embeddings, embedding_dim): a table with one learned vector per token id.

       weight (num_embeddings, embedding_dim)   row i is the vector of id i; init N(0, 1)
       ids (...) int64 -> (..., embedding_dim)   each id replaced by its row

   Indexing the rows of weight with the ids is the whole forward; when an id repeats, autograd
   adds up the gradients of its row. The grader wants a new table whose rows all differ.

3. LayerNorm(normalized_shape: int, eps=1e-5): normalise each vector over its last dim,
   C = normalized_shape, then scale and shift it per feature.

       mean = x.mean(-1)                               (..., 1)
       var  = ((x - mean)²).mean(-1)                   (..., 1)  biased: divide by C, not C - 1
       y    = (x - mean) / √(var + eps) * weight + bias           eps inside the square root
       weight (C,) starts at ones, bias (C,) at zeros

   Take the variance of x - mean (two passes over x), not mean(x²) - mean(x)²: for inputs far
   from zero (a mean of 1000 in float32) that difference of two large numbers cancels away
   every correct digit. Keep the dtype of x.

4. Dropout(p=0.5): no parameters. In training mode zero each element independently with
   probability p and scale the survivors by 1 / (1 - p), so the expected output is the input:

       keep = torch.rand_like(x) >= p               True with probability 1 - p, per element
       y    = x * keep / (1 - p)                    a new mask on every call

   p = 0 returns x unchanged and p = 1 returns zeros (not 0 / 0 = NaN), as torch does. In eval
   mode (after .eval(), self.training is False) return x unchanged. p outside [0, 1] raises
   ValueError in __init__.

5. GELU(approximate="none"): the activation of GPT-2 and BERT, no parameters.

       "none": y = x · Φ(x) = 0.5 · x · (1 + erf(x / √2))          Φ: the normal CDF
       "tanh": y = 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))

   Any other value of approximate raises ValueError in __init__.

6. param_count(module_name, **kwargs) -> int: how many numbers the parameters of
   module_name(**kwargs) hold, from the arguments alone, without building any tensor. Linear:
   in_features · out_features, plus out_features with a bias (bias defaults to True);
   Embedding: num_embeddings · embedding_dim; LayerNorm: weight and bias, 2 · normalized_shape;
   Dropout and GELU: 0. A name other than these five raises ValueError.

Worked example. GPT-2's MLP starts with a Linear(768, 3072): 768 · 3072 weights and 3072
biases. A LayerNorm of [1, 2, 3, 4] subtracts the mean 2.5 and divides by √(1.25 + 1e-5):

    >>> import torch
    >>> param_count("Linear", in_features=768, out_features=3072)
    2362368
    >>> param_count("LayerNorm", normalized_shape=768), param_count("GELU")
    (1536, 0)
    >>> linear = Linear(3, 2)
    >>> [(name, tuple(p.shape)) for name, p in linear.named_parameters()]
    [('weight', (2, 3)), ('bias', (2,))]
    >>> torch_linear = torch.nn.Linear(3, 2)
    >>> linear.load_state_dict(torch_linear.state_dict())
    <All keys matched successfully>
    >>> x = torch.randn(4, 5, 3)
    >>> linear(x).shape, torch.allclose(linear(x), torch_linear(x))
    (torch.Size([4, 5, 2]), True)
    >>> Embedding(10, 3)(torch.tensor([[1, 2], [3, 1]])).shape
    torch.Size([2, 2, 3])
    >>> with torch.no_grad():
    ...     print(LayerNorm(4)(torch.tensor([[1.0, 2.0, 3.0, 4.0]])))
    tensor([[-1.3416, -0.4472,  0.4472,  1.3416]])
    >>> GELU()(torch.tensor([-1.0, 0.0, 1.0]))
    tensor([-0.1587,  0.0000,  0.8413])
    >>> GELU(approximate="tanh")(torch.tensor([-1.0, 0.0, 1.0]))
    tensor([-0.1588,  0.0000,  0.8412])
    >>> dropout = Dropout(0.5)
    >>> sorted(set(dropout(torch.ones(1000)).tolist()))
    [0.0, 2.0]
    >>> torch.equal(dropout.eval()(x), x)
    True
    >>> Dropout(1.5)
    Traceback (most recent call last):
        ...
    ValueError: dropout probability must be in [0, 1], got 1.5

Rules: write each layer from tensor operations (@ or matmul, indexing, mean, sqrt, erf, tanh,
rand_like, ...). Do not call torch.nn.functional.linear, embedding, layer_norm, dropout or gelu
(nor their torch.* and torch.ops.aten spellings), and do not use or subclass nn.Linear,
nn.Embedding, nn.LayerNorm, nn.Dropout or nn.GELU: the grader records every op your modules
run and looks at their submodules.

Check your work with `./kata check 07-modules`; stuck? `./kata hint 07-modules`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn


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
    if module_name in ("Dropout", "GELU"):
        return 0
    raise ValueError(
        f"param_count: unknown module {module_name!r}; expected one of Linear, Embedding, "
        "LayerNorm, Dropout, GELU"
    )
