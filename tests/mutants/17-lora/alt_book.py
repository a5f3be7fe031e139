"""Alternative for 17-lora: written the way appendix E of the book (and its chapter 6 bonus
experiments, for LinearWithLoRAMerged) writes it: torch.nn.* spelled out, the adapter scaled by
alpha alone as the printed chapter does, replace_linear_with_lora over named_children with
setattr, the freezing loop over model.parameters() before the replacement, and the book's
trainable count. merge_lora, which the book does not have, is written in the same style."""

from __future__ import annotations

import math

import torch

from grader.blocks import GPTConfig, GPTModel  # noqa: F401

KATA_EXPECT = {"status": "pass"}


class LoRALayer(torch.nn.Module):
    def __init__(self, in_dim, out_dim, rank, alpha):
        super().__init__()
        self.A = torch.nn.Parameter(torch.empty(in_dim, rank))
        torch.nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))  # as a Linear's weights start
        self.B = torch.nn.Parameter(torch.zeros(rank, out_dim))
        self.alpha = alpha

    def forward(self, x):
        x = self.alpha * (x @ self.A @ self.B)
        return x


class LinearWithLoRA(torch.nn.Module):
    def __init__(self, linear, rank, alpha):
        super().__init__()
        self.linear = linear
        self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha)

    def forward(self, x):
        return self.linear(x) + self.lora(x)


class LinearWithLoRAMerged(torch.nn.Module):
    def __init__(self, linear, rank, alpha):
        super().__init__()
        self.linear = linear
        self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha)

    def forward(self, x):
        lora = self.lora.A @ self.lora.B
        combined_weight = self.linear.weight + self.lora.alpha * lora.T
        return torch.nn.functional.linear(x, combined_weight, self.linear.bias)


def replace_linear_with_lora(model, rank, alpha):
    for name, module in model.named_children():
        if isinstance(module, torch.nn.Linear):
            # swap the Linear layer for one with an adapter beside it
            setattr(model, name, LinearWithLoRA(module, rank, alpha))
        else:
            # look for Linear layers further down
            replace_linear_with_lora(module, rank, alpha)


def freeze_and_add_lora(model, rank, alpha):
    for param in model.parameters():
        param.requires_grad = False
    replace_linear_with_lora(model, rank=rank, alpha=alpha)
    return model


def merge_lora(model):
    for name, module in model.named_children():
        if isinstance(module, (LinearWithLoRA, LinearWithLoRAMerged)):
            old = module.linear
            new = torch.nn.Linear(old.in_features, old.out_features, bias=old.bias is not None)
            new = new.to(old.weight.device, old.weight.dtype)
            with torch.no_grad():
                lora = module.lora.A @ module.lora.B
                new.weight.copy_(old.weight + module.lora.alpha * lora.T)
                if old.bias is not None:
                    new.bias.copy_(old.bias)
            setattr(model, name, new)
        else:
            merge_lora(module)
    return model


def count_trainable_parameters(model):
    total_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total_params


def lora_parameter_count(cfg, rank):
    cfg = GPTConfig.of(cfg)
    emb = cfg.emb_dim
    per_block = 4 * (emb + emb) + (emb + 4 * emb) + (4 * emb + emb)
    return rank * (cfg.n_layers * per_block + emb + cfg.vocab_size)
