"""14-pretraining mutant: split_text gives the training part the validation share.

A copy of the reference with this one mistake; the grader must fail it as KATA_EXPECT says.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from grader.blocks import GPTModel, TokenWindowDataset, make_loader  # noqa: F401 (GPTModel: to try)

KATA_EXPECT = {'status': 'fail',
               'task': 'split_text',
               'category': 'values',
               'message': ['applied to the validation part', 'the ratio applied to the validation part'],
               'not_message': ['round() where the book rounds down', 'math.ceil where the book rounds down', 'a split one character late']}


def text_to_token_ids(text: str, tokenizer: Any) -> Tensor:
    """The ids of `text` as a (1, T) int64 batch of one."""
    ids = tokenizer.encode(text)
    return torch.tensor(ids, dtype=torch.long).unsqueeze(0)  # (T,) -> (1, T)


def token_ids_to_text(token_ids: Tensor, tokenizer: Any) -> str:
    """The text of a (1, T) batch of one."""
    return tokenizer.decode(token_ids.squeeze(0).tolist())  # (1, T) -> (T,)


def split_text(text: str, train_ratio: float = 0.9) -> tuple[str, str]:
    """The first train_ratio of the characters, and the rest."""
    split_idx = len(text) - int(train_ratio * len(text))
    return text[:split_idx], text[split_idx:]


def create_dataloader(text: str, tokenizer: Any, batch_size: int = 4, max_length: int = 256,
                      stride: int = 128, shuffle: bool = True, drop_last: bool = True,
                      seed: int = 0) -> DataLoader:
    """Batches of (inputs, targets) windows of the encoded text."""
    dataset = TokenWindowDataset(tokenizer.encode(text), max_length, stride)
    return make_loader(dataset, batch_size, shuffle, seed, drop_last=drop_last)


def calc_loss_batch(input_batch: Tensor, target_batch: Tensor, model: nn.Module,
                    device: torch.device | str) -> Tensor:
    """Mean cross-entropy of the next-token logits over every position of the batch."""
    input_batch, target_batch = input_batch.to(device), target_batch.to(device)
    logits = model(input_batch)  # (B, T, V)
    # every position is one classification: (B*T, V) scores against (B*T,) ids
    return F.cross_entropy(logits.flatten(0, 1), target_batch.flatten())


def calc_loss_loader(data_loader: DataLoader, model: nn.Module, device: torch.device | str,
                     num_batches: int | None = None) -> float:
    """The mean of the per-batch losses over the first num_batches batches (all when None)."""
    if len(data_loader) == 0:
        return float("nan")
    num_batches = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    total_loss = 0.0
    for i, (input_batch, target_batch) in enumerate(data_loader):
        if i >= num_batches:
            break
        total_loss += calc_loss_batch(input_batch, target_batch, model, device).item()
    return total_loss / num_batches


def evaluate_model(model: nn.Module, train_loader: DataLoader, val_loader: DataLoader,
                   device: torch.device | str, eval_iter: int) -> tuple[float, float]:
    """Train and validation losses over eval_iter batches each, in eval mode without gradients."""
    model.eval()
    with torch.no_grad():
        train_loss = calc_loss_loader(train_loader, model, device, num_batches=eval_iter)
        val_loss = calc_loss_loader(val_loader, model, device, num_batches=eval_iter)
    model.train()  # called mid-training: hand the model back ready to train
    return train_loss, val_loss


def train_model_simple(model: nn.Module, train_loader: DataLoader, val_loader: DataLoader,
                       optimizer: torch.optim.Optimizer, device: torch.device | str,
                       num_epochs: int, eval_freq: int, eval_iter: int,
                       start_context: str | None = None,
                       tokenizer: Any = None) -> tuple[list[float], list[float], list[int]]:
    """The book's loop: step on every training batch, evaluate every eval_freq steps."""
    train_losses: list[float] = []
    val_losses: list[float] = []
    track_tokens_seen: list[int] = []
    tokens_seen, global_step = 0, -1
    for _ in range(num_epochs):
        model.train()
        for input_batch, target_batch in train_loader:
            optimizer.zero_grad()
            loss = calc_loss_batch(input_batch, target_batch, model, device)
            loss.backward()
            optimizer.step()
            tokens_seen += input_batch.numel()  # B * T tokens
            global_step += 1
            if global_step % eval_freq == 0:
                train_loss, val_loss = evaluate_model(model, train_loader, val_loader, device,
                                                      eval_iter)
                train_losses.append(train_loss)
                val_losses.append(val_loss)
                track_tokens_seen.append(tokens_seen)
    return train_losses, val_losses, track_tokens_seen


def perplexity(loss: float) -> float:
    """exp(loss): the effective number of equally likely next tokens."""
    return math.exp(loss)
