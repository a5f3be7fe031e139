"""`kata compare 15-classifier`: the pieces of the fine-tuning run on the shipped messages.

Run by the grader's worker like a spec (grader/harness/comparison_row.py says how a row travels).
The data is the project's labelled SMS-style set (grader.data.spam_csv()) with the offline GPT-2
encoding; the model the reference's tiny GPTModel with a 2-class head, built from a seed.
"""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from grader.data import gpt2_encoding, spam_csv
from grader.harness.comparison_row import bare, compare_call

pytestmark = pytest.mark.rung("15-classifier")

B = 8


def _model(reference, device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    cfg = {"vocab_size": 50257, "context_length": 32, "emb_dim": 16, "n_heads": 2,
           "n_layers": 2, "drop_rate": 0.0, "qkv_bias": False}
    model = reference.GPTModel(cfg)
    reference.replace_head(model)
    reference.freeze_for_finetuning(model)
    return model.to(device)


def _loaders(reference):
    train = reference.SpamDataset(io.StringIO(spam_csv("train")), gpt2_encoding())
    val = reference.SpamDataset(io.StringIO(spam_csv("validation")), gpt2_encoding(),
                                max_length=train.max_length)
    return DataLoader(train, batch_size=B, drop_last=True), DataLoader(val, batch_size=B)


@pytest.mark.task("SpamDataset", category="values")
def test_spam_dataset(candidate, reference):
    def items(cls):
        def run(text, tokenizer):
            dataset = cls(io.StringIO(text), tokenizer)
            return torch.stack([dataset[i][0] for i in range(len(dataset))])
        return run

    compare_call(items(candidate.SpamDataset), items(reference.SpamDataset),
                 lambda slot: (spam_csv("train"), gpt2_encoding()),
                 note="the 420 shipped training messages, padded to the longest")


@pytest.mark.task("calc_loss_batch", category="values")
def test_calc_loss_batch(candidate, reference, device):
    model = _model(reference, device).eval()
    inputs, labels = next(iter(_loaders(reference)[0]))

    def by_hand(inputs, labels, model, device):
        logits = model(inputs.to(device))[:, -1, :]
        return -logits.log_softmax(-1).gather(-1, labels.to(device)[:, None]).mean()

    compare_call(candidate.calc_loss_batch, reference.calc_loss_batch,
                 lambda slot: (inputs, labels, model, device), ("log_softmax + gather", by_hand),
                 note=f"a ({B}, T) batch of messages, last-token logits")


@pytest.mark.task("calc_accuracy_loader", category="values")
def test_calc_accuracy_loader(candidate, reference, device):
    model = _model(reference, device)
    train, _ = _loaders(reference)
    compare_call(candidate.calc_accuracy_loader, reference.calc_accuracy_loader,
                 lambda slot: (train, model, device, 10), note="10 batches of messages")


@pytest.mark.task("train_classifier_simple", category="training")
def test_train_classifier_simple(candidate, reference, device):
    train, val = (list(loader)[:6] for loader in _loaders(reference))

    def trained(fn):
        def run(_slot):
            model = _model(reference, device)
            optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                          lr=3e-3)
            torch.manual_seed(1)
            return fn(model, train, val, optimizer, device, 1, 2, 1)
        return run

    compare_call(trained(bare(candidate.train_classifier_simple)),
                 trained(reference.train_classifier_simple), lambda slot: (slot,),
                 note=f"{len(train)} steps on the messages, evaluated every 2 on one batch each")


@pytest.mark.task("classify_review", category="values")
def test_classify_review(candidate, reference, device):
    model = _model(reference, device)
    text = "You are a winner! Txt WIN to 80010 to claim your prize"
    compare_call(candidate.classify_review, reference.classify_review,
                 lambda slot: (text, model, gpt2_encoding(), device, 25),
                 note="one message, padded to 25 ids")


