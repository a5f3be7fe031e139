"""Alternative for 15-classifier: other idioms that are just as right. csv.reader over the rows
with the header skipped, torch.stack of padded tensors built with F.pad, the trainable set
chosen by parameter-name prefix with requires_grad_(), the head's width read from the old
head's weight, a loss through nn.CrossEntropyLoss, accuracy from eq().sum() over tensors
accumulated per example, an itertools.islice over the loaders, and a loop that keeps its own
step counter from 0 and evaluates after incrementing."""

from __future__ import annotations

import csv
import itertools

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from grader.blocks import GPTModel  # noqa: F401

KATA_EXPECT = {"status": "pass"}


class SpamDataset(Dataset):
    def __init__(self, csv_file, tokenizer, max_length=None, pad_token_id=50256):
        reader = csv.reader(csv_file)
        header = next(reader)
        label_col, text_col = header.index("Label"), header.index("Text")
        rows = list(reader)
        encoded = [torch.tensor(tokenizer.encode(r[text_col]), dtype=torch.long) for r in rows]
        if max_length is not None:
            encoded = [ids[:max_length] for ids in encoded]
        self.max_length = max_length if max_length is not None else max(len(e) for e in encoded)
        self.inputs = torch.stack([F.pad(ids, (0, self.max_length - len(ids)),
                                         value=pad_token_id) for ids in encoded])
        self.targets = torch.tensor([int(r[label_col]) for r in rows], dtype=torch.long)

    def __len__(self):
        return self.targets.shape[0]

    def __getitem__(self, index):
        return self.inputs[index].clone(), self.targets[index].clone()


def replace_head(model, num_classes=2):
    width = model.out_head.weight.shape[1]
    model.out_head = nn.Linear(width, num_classes, bias=True)
    return model


def freeze_for_finetuning(model):
    last = f"trf_blocks.{len(model.trf_blocks) - 1}."
    for name, param in model.named_parameters():
        param.requires_grad_(name.startswith((last, "final_norm.", "out_head.")))
    return model


def calc_loss_batch(input_batch, target_batch, model, device):
    logits = model(input_batch.to(device))
    return nn.CrossEntropyLoss()(logits[:, logits.shape[1] - 1], target_batch.to(device))


def calc_loss_loader(data_loader, model, device, num_batches=None):
    n = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    if n == 0:
        return float("nan")
    losses = [calc_loss_batch(x, y, model, device).item()
              for x, y in itertools.islice(data_loader, n)]
    return sum(losses) / len(losses)


def calc_accuracy_loader(data_loader, model, device, num_batches=None):
    model.eval()
    n = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    hits = []
    with torch.no_grad():
        for x, y in itertools.islice(data_loader, n):
            predicted = model(x.to(device))[:, -1].max(dim=1).indices
            hits.append(predicted.eq(y.to(device)))
    every = torch.cat(hits)
    return every.sum().item() / every.numel()


def evaluate_model(model, train_loader, val_loader, device, eval_iter):
    model.eval()
    with torch.no_grad():
        result = (calc_loss_loader(train_loader, model, device, eval_iter),
                  calc_loss_loader(val_loader, model, device, eval_iter))
    model.train()
    return result


def train_classifier_simple(model, train_loader, val_loader, optimizer, device, num_epochs,
                            eval_freq, eval_iter):
    history = {"tl": [], "vl": [], "ta": [], "va": []}
    seen, steps = 0, 0
    for _ in range(num_epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad(set_to_none=True)
            calc_loss_batch(x, y, model, device).backward()
            optimizer.step()
            seen += len(x)
            steps += 1
            if (steps - 1) % eval_freq == 0:
                tl, vl = evaluate_model(model, train_loader, val_loader, device, eval_iter)
                history["tl"].append(tl)
                history["vl"].append(vl)
        history["ta"].append(calc_accuracy_loader(train_loader, model, device, eval_iter))
        history["va"].append(calc_accuracy_loader(val_loader, model, device, eval_iter))
    return history["tl"], history["vl"], history["ta"], history["va"], seen


def classify_review(text, model, tokenizer, device, max_length=None, pad_token_id=50256):
    ids = tokenizer.encode(text)[:model.pos_emb.num_embeddings]
    if max_length:
        ids = ids[:max_length]
        ids = ids + [pad_token_id] * (max_length - len(ids))
    model.eval()
    with torch.inference_mode():
        logits = model(torch.tensor([ids], dtype=torch.long, device=device))
    return ["not spam", "spam"][int(logits[0, -1].argmax())]
