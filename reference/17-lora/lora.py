"""17-lora: low-rank adapters (LoRA), appendix E of "Build a Large Language Model (From Scratch)".

Fine-tuning every weight of a GPT means storing a second copy of the whole model per task. LoRA
freezes the model and learns, next to each Linear layer, a low-rank update instead: two small
matrices A (in_dim, rank) and B (rank, out_dim) whose product is an (in_dim, out_dim) change of
the layer's map. The layer computes

    linear(x) + alpha * (x @ A @ B)

and only A and B learn: rank * (in_dim + out_dim) numbers instead of in_dim * out_dim. B starts
at zero, so an adapted model computes exactly what the base model did until it is trained; A
starts random (if it were zero too, neither would ever get a gradient). Once trained, the update
can be added into the weight itself, W + alpha * (A @ B).T, and the adapter removed: a plain
model again, with no extra cost at inference.

You build it in eight tasks, with the book's names, so the book's code and yours drop in for each
other. The GPT to adapt is your 12-gpt GPTModel (`from grader.blocks import GPTModel`, already at
the top of this file): yours when that rung passes, the reference's otherwise.

1. LoRALayer(in_dim, out_dim, rank, alpha): parameters A = nn.Parameter of shape
   (in_dim, rank), initialised as the book does with
   torch.nn.init.kaiming_uniform_(A, a=math.sqrt(5)), and B = nn.Parameter(torch.zeros(rank,
   out_dim)); keep alpha as self.alpha. forward(x) = alpha * (x @ A @ B), (..., in_dim) ->
   (..., out_dim). The scaling is the book's: alpha, not alpha / rank (the LoRA paper's, and the
   one the book's repository later switched to).
   torch's kaiming_uniform_ takes fan_in from a 2-D tensor's second dimension, so for A it is
   rank: A's entries are uniform on [-1/sqrt(rank), 1/sqrt(rank)].

2. LinearWithLoRA(linear, rank, alpha): keeps the nn.Linear it is given as self.linear (the same
   module, not a copy) and self.lora = LoRALayer(linear.in_features, linear.out_features, rank,
   alpha); forward(x) = linear(x) + lora(x). The linear's bias, if it has one, stays in.

3. LinearWithLoRAMerged(linear, rank, alpha): the book's variant, the same attributes and the
   same output, computed with the merged weight: F.linear(x, linear.weight + alpha * (A @ B).T,
   linear.bias). nn.Linear stores its weight as (out_features, in_features), hence the .T.

4. replace_linear_with_lora(model, rank, alpha): in place, every nn.Linear inside model, at any
   depth (out_head included), becomes LinearWithLoRA(that linear, rank, alpha) under the same
   name; every other module (embeddings, norms, dropout, ...) stays as it is. Returns None, as
   the book's does. Like the book's, it adapts every nn.Linear it finds, the ones inside an
   adapter included: call it once on a model.

5. freeze_and_add_lora(model, rank, alpha): the book's recipe, in place: set requires_grad False
   on every parameter of the model first, then replace_linear_with_lora(model, rank, alpha), so
   the adapters' A and B (made afterwards) are the only trainable parameters. Returns model.

6. merge_lora(model): in place, every LinearWithLoRA (or LinearWithLoRAMerged) inside model
   becomes a plain nn.Linear with weight linear.weight + alpha * (A @ B).T and the linear's own
   bias, same dtype and device. The merged model computes what the adapted one did and has no
   LoRA modules left. Returns model.

7. count_trainable_parameters(model): the number of parameter entries with requires_grad, as
   the book counts them: sum of p.numel() over model.parameters() that require grad.

8. lora_parameter_count(cfg, rank): the number of LoRA parameters freeze_and_add_lora adds to
   GPTModel(cfg), from the config alone (no model built): rank * (in + out) for every Linear
   the model has (cfg is the book's dict or 12's GPTConfig).

Worked example: a tiny GPT adapted with rank 2 computes what it did, trains 2 * (32 + 97) +
2 * 18 * 32 * 2 numbers, and merges back to a model of the base's size.

    >>> import torch
    >>> cfg = {"vocab_size": 97, "context_length": 16, "emb_dim": 32, "n_heads": 4,
    ...        "n_layers": 2, "drop_rate": 0.0, "qkv_bias": False}
    >>> torch.manual_seed(0) and None
    >>> model = GPTModel(cfg).eval()
    >>> ids = torch.tensor([[5, 3, 96], [0, 1, 2]])
    >>> before = model(ids)
    >>> n_base = sum(p.numel() for p in model.parameters())
    >>> model = freeze_and_add_lora(model, rank=2, alpha=8)
    >>> torch.equal(model(ids), before), type(model.out_head).__name__
    (True, 'LinearWithLoRA')
    >>> count_trainable_parameters(model), lora_parameter_count(cfg, rank=2)
    (2562, 2562)
    >>> with torch.no_grad():
    ...     _ = model.out_head.lora.B.fill_(0.01)
    ...     adapted = model(ids)
    >>> merged = merge_lora(model)
    >>> type(merged.out_head).__name__, sum(p.numel() for p in merged.parameters()) == n_base
    ('Linear', True)
    >>> torch.allclose(merged(ids), adapted, atol=1e-5)
    True

Rules: build on torch (nn.Parameter, nn.init, nn.Linear, F.linear) and the GPTModel above; no
PEFT or other LoRA library. Keep the names and signatures exactly as they are: the grader calls
them, and sets A and B by name.

Check your work with `./kata check 17-lora`; stuck? see the hints in README.md
(or `./kata hint 17-lora`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from grader.blocks import GPTConfig, GPTModel  # noqa: F401 - GPTModel is the model to adapt


class LoRALayer(nn.Module):
    """The low-rank update alpha * (x @ A @ B), A (in_dim, rank) random, B (rank, out_dim) zero."""

    def __init__(self, in_dim: int, out_dim: int, rank: int, alpha: float) -> None:
        """Create A (kaiming_uniform_, a=sqrt(5)) and B (zeros), and keep alpha."""
        super().__init__()
        self.A = nn.Parameter(torch.empty(in_dim, rank))
        # fan_in of an (in_dim, rank) tensor is rank: A ~ U(-1/sqrt(rank), 1/sqrt(rank))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = nn.Parameter(torch.zeros(rank, out_dim))  # zero: the adapter starts as a no-op
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        """(..., in_dim) -> (..., out_dim)."""
        return self.alpha * (x @ self.A @ self.B)  # (..., in) @ (in, r) @ (r, out)


class LinearWithLoRA(nn.Module):
    """linear(x) + lora(x): a frozen-able Linear with a low-rank adapter beside it."""

    def __init__(self, linear: nn.Linear, rank: int, alpha: float) -> None:
        """Keep linear as self.linear; self.lora = LoRALayer(in_features, out_features, ...)."""
        super().__init__()
        self.linear = linear
        self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha)

    def forward(self, x: Tensor) -> Tensor:
        """(..., in_features) -> (..., out_features)."""
        return self.linear(x) + self.lora(x)


class LinearWithLoRAMerged(nn.Module):
    """The book's merged variant: the same output, from the weight W + alpha * (A @ B).T."""

    def __init__(self, linear: nn.Linear, rank: int, alpha: float) -> None:
        """The same attributes as LinearWithLoRA: self.linear and self.lora."""
        super().__init__()
        self.linear = linear
        self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha)

    def forward(self, x: Tensor) -> Tensor:
        """(..., in_features) -> (..., out_features)."""
        lora = self.lora.A @ self.lora.B  # (in, r) @ (r, out) -> (in, out)
        combined_weight = self.linear.weight + self.lora.alpha * lora.T  # (out, in), as W is
        return F.linear(x, combined_weight, self.linear.bias)


def replace_linear_with_lora(model: nn.Module, rank: int, alpha: float) -> None:
    """In place: every nn.Linear inside model, at any depth, becomes LinearWithLoRA."""
    for name, module in model.named_children():
        if isinstance(module, nn.Linear):
            setattr(model, name, LinearWithLoRA(module, rank, alpha))
        else:
            replace_linear_with_lora(module, rank, alpha)


def freeze_and_add_lora(model: nn.Module, rank: int, alpha: float) -> nn.Module:
    """Freeze every parameter, then add the adapters: only A and B are trainable."""
    for param in model.parameters():
        param.requires_grad = False
    replace_linear_with_lora(model, rank, alpha)
    return model


def merge_lora(model: nn.Module) -> nn.Module:
    """In place: every LoRA-adapted Linear becomes a plain nn.Linear with the merged weight."""
    for name, module in model.named_children():
        if not isinstance(module, (LinearWithLoRA, LinearWithLoRAMerged)):
            merge_lora(module)
            continue
        linear, lora = module.linear, module.lora
        merged = nn.Linear(linear.in_features, linear.out_features,
                           bias=linear.bias is not None, device=linear.weight.device,
                           dtype=linear.weight.dtype)
        with torch.no_grad():
            # (in, r) @ (r, out) -> (in, out), transposed to the (out, in) of a Linear's weight
            merged.weight.copy_(linear.weight + lora.alpha * (lora.A @ lora.B).T)
            if linear.bias is not None:
                merged.bias.copy_(linear.bias)
        setattr(model, name, merged)
    return model


def count_trainable_parameters(model: nn.Module) -> int:
    """The number of parameter entries that require grad."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def lora_parameter_count(cfg: GPTConfig | dict[str, Any], rank: int) -> int:
    """LoRA parameters freeze_and_add_lora adds to GPTModel(cfg): rank * (in + out) per Linear."""
    cfg = GPTConfig.of(cfg)
    C, V = cfg.emb_dim, cfg.vocab_size
    attention = 4 * rank * (C + C)  # W_query, W_key, W_value, out_proj: C -> C each
    feed_forward = rank * (C + 4 * C) * 2  # C -> 4C and 4C -> C
    head = rank * (C + V)  # out_head: C -> V
    return cfg.n_layers * (attention + feed_forward) + head
