"""17-lora mutant: LoRALayer draws A from a standard normal.

A copy of the reference with this one mistake; the grader must fail it as KATA_EXPECT says.
"""


from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from grader.blocks import GPTConfig, GPTModel  # noqa: F401 - GPTModel is the model to adapt

KATA_EXPECT = {'status': 'fail',
               'task': 'LoRALayer',
               'category': 'values',
               'message': ['drawn from a standard normal'],
               'not_message': ['A starts at zeros', 'taken from in_dim', 'was kept from an earlier call']}


class LoRALayer(nn.Module):
    """The low-rank update alpha * (x @ A @ B), A (in_dim, rank) random, B (rank, out_dim) zero."""

    def __init__(self, in_dim: int, out_dim: int, rank: int, alpha: float) -> None:
        """Create A (kaiming_uniform_, a=sqrt(5)) and B (zeros), and keep alpha."""
        super().__init__()
        self.A = nn.Parameter(torch.randn(in_dim, rank))
        # fan_in of an (in_dim, rank) tensor is rank: A ~ U(-1/sqrt(rank), 1/sqrt(rank))
        pass
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
