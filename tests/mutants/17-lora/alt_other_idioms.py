"""Alternative for 17-lora: other correct idioms. A drawn with uniform_ on the bound kaiming
gives (1/sqrt(rank)) instead of kaiming_uniform_, the update as x @ (A @ B), the adapters found
with named_modules() and put in place through get_submodule, the merged variant's weight from
B.T @ A.T, merging in place (the update added into the base linear's own weight, that Linear put
back), and the counts over named_parameters and a list of Linear shapes."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from grader.blocks import GPTConfig, GPTModel  # noqa: F401

KATA_EXPECT = {"status": "pass"}


class LoRALayer(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, rank: int, alpha: float) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(rank)  # kaiming_uniform_ with a = sqrt(5) and fan_in = rank
        self.A = nn.Parameter(torch.empty(in_dim, rank).uniform_(-bound, bound))
        self.B = nn.Parameter(torch.zeros(rank, out_dim))
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        return (x @ (self.A @ self.B)) * self.alpha


class LinearWithLoRA(nn.Module):
    def __init__(self, linear: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.linear = linear
        self.lora = LoRALayer(linear.weight.shape[1], linear.weight.shape[0], rank, alpha)

    def forward(self, x: Tensor) -> Tensor:
        base = F.linear(x, self.linear.weight, self.linear.bias)
        return base + self.lora(x)


class LinearWithLoRAMerged(nn.Module):
    def __init__(self, linear: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.linear = linear
        self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha)

    def forward(self, x: Tensor) -> Tensor:
        delta = self.lora.B.T @ self.lora.A.T  # (out, in)
        return F.linear(x, self.linear.weight + self.lora.alpha * delta, self.linear.bias)


def _place(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent), child, module)


def replace_linear_with_lora(model: nn.Module, rank: int, alpha: float) -> None:
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    for name, linear in found:
        _place(model, name, LinearWithLoRA(linear, rank, alpha))


def freeze_and_add_lora(model: nn.Module, rank: int, alpha: float) -> nn.Module:
    model.requires_grad_(False)
    replace_linear_with_lora(model, rank, alpha)
    return model


def merge_lora(model: nn.Module) -> nn.Module:
    found = [(name, m) for name, m in model.named_modules()
             if isinstance(m, (LinearWithLoRA, LinearWithLoRAMerged))]
    for name, adapter in found:
        linear, lora = adapter.linear, adapter.lora
        with torch.no_grad():
            linear.weight += lora.alpha * (lora.A @ lora.B).T
        _place(model, name, linear)
    return model


def count_trainable_parameters(model: nn.Module) -> int:
    total = 0
    for _, param in model.named_parameters():
        if param.requires_grad:
            total += param.numel()
    return total


def lora_parameter_count(cfg: GPTConfig | dict[str, Any], rank: int) -> int:
    cfg = GPTConfig.of(cfg)
    C = cfg.emb_dim
    block = [(C, C)] * 4 + [(C, 4 * C), (4 * C, C)]
    shapes = block * cfg.n_layers + [(C, cfg.vocab_size)]
    return sum(rank * (d_in + d_out) for d_in, d_out in shapes)
