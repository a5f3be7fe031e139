"""Alternative for 14-pretraining: other idioms throughout. as_tensor and [None] for the batch
axis, row 0 instead of squeeze, a split from divmod-free floor arithmetic, 04's blocks with
keyword arguments, nn.CrossEntropyLoss over view(-1, V), calc_loss_loader over
itertools.islice with a list of tensor losses, evaluate_model under inference_mode, a loop that
counts its steps from 0 with enumerate, and perplexity by math.e ** loss."""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from grader.blocks import TokenWindowDataset, make_loader

KATA_EXPECT = {"status": "pass"}

_cross_entropy = nn.CrossEntropyLoss()


def text_to_token_ids(text, tokenizer):
    return torch.as_tensor(list(tokenizer.encode(text)), dtype=torch.int64)[None, :]


def token_ids_to_text(token_ids, tokenizer):
    return tokenizer.decode([int(i) for i in token_ids[0]])


def split_text(text, train_ratio=0.9):
    cut = math.floor(train_ratio * len(text))
    return text[:cut], text[cut:]


def create_dataloader(text, tokenizer, batch_size=4, max_length=256, stride=128, shuffle=True,
                      drop_last=True, seed=0):
    ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    windows = TokenWindowDataset(ids, context_length=max_length, stride=stride)
    return make_loader(windows, batch_size=batch_size, shuffle=shuffle, seed=seed,
                       drop_last=drop_last)


def calc_loss_batch(input_batch, target_batch, model, device):
    logits = model(input_batch.to(device))
    V = logits.shape[-1]
    return _cross_entropy(logits.reshape(-1, V), target_batch.to(device).view(-1))


def calc_loss_loader(data_loader, model, device, num_batches=None):
    limit = len(data_loader) if num_batches is None else num_batches
    losses = [calc_loss_batch(x, y, model, device).detach()
              for x, y in itertools.islice(data_loader, limit)]
    if not losses:
        return float("nan")
    return torch.stack(losses).mean().item()


def evaluate_model(model, train_loader, val_loader, device, eval_iter):
    model.train(False)
    with torch.inference_mode():
        losses = tuple(calc_loss_loader(loader, model, device, eval_iter)
                       for loader in (train_loader, val_loader))
    model.train(True)
    return losses


def train_model_simple(model, train_loader, val_loader, optimizer, device, num_epochs,
                       eval_freq, eval_iter, start_context=None, tokenizer=None):
    history = ([], [], [])
    tokens_seen = 0
    steps = itertools.count()
    for _ in range(num_epochs):
        model.train()
        for (x, y), step in zip(train_loader, steps):
            for p in model.parameters():
                p.grad = None
            calc_loss_batch(x, y, model, device).backward()
            optimizer.step()
            tokens_seen += x.shape[0] * x.shape[1]
            if step % eval_freq == 0:
                for column, value in zip(history, (*evaluate_model(
                        model, train_loader, val_loader, device, eval_iter), tokens_seen)):
                    column.append(value)
    return history


def perplexity(loss):
    return math.e ** loss
