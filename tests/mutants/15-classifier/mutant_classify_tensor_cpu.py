"""15-classifier mutant: classify_review builds its batch on the CPU whatever the device.

A copy of the reference with this one mistake; the grader must fail it as KATA_EXPECT says.
"""


from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from grader.blocks import GPTModel  # noqa: F401 (to try the rung on a model of your own)

KATA_EXPECT = {'status': 'fail', 'task': 'classify_review', 'category': 'properties', 'message': "records its input's device"}


class SpamDataset(Dataset):
    """Labelled texts from a CSV, encoded and padded with pad_token_id to one length."""

    def __init__(self, csv_file: Iterable[str], tokenizer: Any, max_length: int | None = None,
                 pad_token_id: int = 50256) -> None:
        """Read the rows, encode the texts, cut them to max_length and pad them to one length."""
        rows = list(csv.DictReader(csv_file))
        self.labels = [int(row["Label"]) for row in rows]
        self.encoded_texts = [tokenizer.encode(row["Text"]) for row in rows]
        if max_length is None:
            self.max_length = max(len(ids) for ids in self.encoded_texts)
        else:
            self.max_length = max_length
            self.encoded_texts = [ids[:max_length] for ids in self.encoded_texts]
        self.encoded_texts = [ids + [pad_token_id] * (self.max_length - len(ids))
                              for ids in self.encoded_texts]

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        """Row `index`: its padded ids (max_length,) and its label (), both int64."""
        return (torch.tensor(self.encoded_texts[index], dtype=torch.long),
                torch.tensor(self.labels[index], dtype=torch.long))

    def __len__(self) -> int:
        """The number of rows."""
        return len(self.labels)


def replace_head(model: nn.Module, num_classes: int = 2) -> nn.Module:
    """out_head becomes a fresh Linear(emb_dim, num_classes)."""
    model.out_head = nn.Linear(model.out_head.in_features, num_classes)
    return model


def freeze_for_finetuning(model: nn.Module) -> nn.Module:
    """Only the last transformer block, the final norm and the head stay trainable."""
    for param in model.parameters():
        param.requires_grad = False
    for part in (model.trf_blocks[-1], model.final_norm, model.out_head):
        for param in part.parameters():
            param.requires_grad = True
    return model


def calc_loss_batch(input_batch: Tensor, target_batch: Tensor, model: nn.Module,
                    device: torch.device | str) -> Tensor:
    """Cross-entropy of the last position's logits against the labels."""
    input_batch, target_batch = input_batch.to(device), target_batch.to(device)
    logits = model(input_batch)[:, -1, :]  # (B, num_classes): the last token has seen them all
    return F.cross_entropy(logits, target_batch)


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


def calc_accuracy_loader(data_loader: DataLoader, model: nn.Module, device: torch.device | str,
                         num_batches: int | None = None) -> float:
    """Correct predictions over examples seen, in eval mode without gradients."""
    model.eval()
    num_batches = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    correct, examples = 0, 0
    for i, (input_batch, target_batch) in enumerate(data_loader):
        if i >= num_batches:
            break
        input_batch, target_batch = input_batch.to(device), target_batch.to(device)
        with torch.no_grad():
            logits = model(input_batch)[:, -1, :]
        predicted = logits.argmax(dim=-1)  # (B,): the class of each text
        examples += predicted.shape[0]
        correct += (predicted == target_batch).sum().item()
    return correct / examples


def evaluate_model(model: nn.Module, train_loader: DataLoader, val_loader: DataLoader,
                   device: torch.device | str, eval_iter: int) -> tuple[float, float]:
    """Train and validation losses over eval_iter batches each, in eval mode without gradients."""
    model.eval()
    with torch.no_grad():
        train_loss = calc_loss_loader(train_loader, model, device, num_batches=eval_iter)
        val_loss = calc_loss_loader(val_loader, model, device, num_batches=eval_iter)
    model.train()
    return train_loss, val_loss


def train_classifier_simple(
        model: nn.Module, train_loader: DataLoader, val_loader: DataLoader,
        optimizer: torch.optim.Optimizer, device: torch.device | str, num_epochs: int,
        eval_freq: int, eval_iter: int,
) -> tuple[list[float], list[float], list[float], list[float], int]:
    """The book's loop: a step per batch, losses every eval_freq steps, accuracies per epoch."""
    train_losses: list[float] = []
    val_losses: list[float] = []
    train_accs: list[float] = []
    val_accs: list[float] = []
    examples_seen, global_step = 0, -1
    for _ in range(num_epochs):
        model.train()
        for input_batch, target_batch in train_loader:
            optimizer.zero_grad()
            loss = calc_loss_batch(input_batch, target_batch, model, device)
            loss.backward()
            optimizer.step()
            examples_seen += input_batch.shape[0]  # texts, not tokens
            global_step += 1
            if global_step % eval_freq == 0:
                train_loss, val_loss = evaluate_model(model, train_loader, val_loader, device,
                                                      eval_iter)
                train_losses.append(train_loss)
                val_losses.append(val_loss)
        train_accs.append(calc_accuracy_loader(train_loader, model, device, num_batches=eval_iter))
        val_accs.append(calc_accuracy_loader(val_loader, model, device, num_batches=eval_iter))
    return train_losses, val_losses, train_accs, val_accs, examples_seen


def classify_review(text: str, model: nn.Module, tokenizer: Any, device: torch.device | str,
                    max_length: int | None = None, pad_token_id: int = 50256) -> str:
    """'spam' or 'not spam' from the last position's logits of one (padded) text."""
    model.eval()
    input_ids = tokenizer.encode(text)[:model.pos_emb.weight.shape[0]]
    if max_length is not None:
        input_ids = input_ids[:max_length]
        input_ids = input_ids + [pad_token_id] * (max_length - len(input_ids))
    input_tensor = torch.tensor(input_ids).unsqueeze(0)  # (1, T)
    with torch.no_grad():
        logits = model(input_tensor)[:, -1, :]
    predicted_label = logits.argmax(dim=-1).item()
    return "spam" if predicted_label == 1 else "not spam"
