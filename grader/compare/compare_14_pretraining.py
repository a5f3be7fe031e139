"""`kata compare 14-pretraining`: the pieces of the training run and a short run on the story.

Run by the grader's worker like a spec (grader/harness/comparison_row.py says how a row travels).
The corpus is the shipped "The Verdict" with the offline GPT-2 encoding; the model the
reference's tiny GPTModel, built from a seed for each call.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from grader.data import gpt2_encoding, the_verdict
from grader.harness.comparison_row import bare, compare_call

pytestmark = pytest.mark.rung("14-pretraining")

T, B = 32, 8


def _model(reference, device: torch.device, vocab_size: int = 50257) -> nn.Module:
    torch.manual_seed(0)
    cfg = {"vocab_size": vocab_size, "context_length": T, "emb_dim": 16, "n_heads": 2,
           "n_layers": 1, "drop_rate": 0.0, "qkv_bias": False}
    return reference.GPTModel(cfg).to(device)


def _loaders(reference):
    train_text, val_text = reference.split_text(the_verdict(), 0.9)
    train = reference.create_dataloader(train_text, gpt2_encoding(), B, T, T, shuffle=False)
    val = reference.create_dataloader(val_text, gpt2_encoding(), B, T, T, shuffle=False,
                                      drop_last=False)
    return train, val


@pytest.mark.task("text_to_token_ids", category="values")
def test_text_to_token_ids(candidate, reference):
    compare_call(candidate.text_to_token_ids, reference.text_to_token_ids,
                 lambda slot: (the_verdict()[:2000], gpt2_encoding()),
                 note="the story's first 2000 characters")


@pytest.mark.task("token_ids_to_text", category="values")
def test_token_ids_to_text(candidate, reference):
    ids = torch.tensor([gpt2_encoding().encode(the_verdict()[:2000])])
    compare_call(candidate.token_ids_to_text, reference.token_ids_to_text,
                 lambda slot: (ids, gpt2_encoding()), note="(1, T) ids of 2000 characters")


@pytest.mark.task("split_text", category="values")
def test_split_text(candidate, reference):
    compare_call(candidate.split_text, reference.split_text, lambda slot: (the_verdict(), 0.9),
                 note="the story, 90% for training")


@pytest.mark.task("create_dataloader", category="values")
def test_create_dataloader(candidate, reference):
    def every_batch(fn):
        def run(text, tokenizer):
            return [inputs for inputs, _ in fn(text, tokenizer, B, T, T // 2, True, True, 3)]
        return run

    compare_call(every_batch(bare(candidate.create_dataloader)),
                 every_batch(reference.create_dataloader),
                 lambda slot: (the_verdict(), gpt2_encoding()),
                 note=f"the story, windows of {T} every {T // 2}, batch {B}, shuffled by seed 3")


@pytest.mark.task("calc_loss_batch", category="values")
def test_calc_loss_batch(candidate, reference, device):
    model = _model(reference, device).eval()
    train, _ = _loaders(reference)
    inputs, targets = next(iter(train))

    def by_hand(inputs, targets, model, device):
        logits = model(inputs.to(device))  # (B, T, V)
        logp = logits.log_softmax(-1).gather(-1, targets.to(device)[..., None])
        return -logp.mean()

    compare_call(candidate.calc_loss_batch, reference.calc_loss_batch,
                 lambda slot: (inputs, targets, model, device),
                 ("log_softmax + gather", by_hand),
                 note=f"a ({B}, {T}) batch of the story, GPTModel of vocab 50257")


@pytest.mark.task("calc_loss_loader", category="values")
def test_calc_loss_loader(candidate, reference, device):
    model = _model(reference, device).eval()
    train, _ = _loaders(reference)
    with torch.no_grad():
        compare_call(candidate.calc_loss_loader, reference.calc_loss_loader,
                     lambda slot: (train, model, device, 5), note="5 batches of the story")


@pytest.mark.task("evaluate_model", category="values")
def test_evaluate_model(candidate, reference, device):
    model = _model(reference, device)
    train, val = _loaders(reference)
    compare_call(candidate.evaluate_model, reference.evaluate_model,
                 lambda slot: (model, train, val, device, 3), note="eval_iter=3 on each split")


@pytest.mark.task("train_model_simple", category="training")
def test_train_model_simple(candidate, reference, device):
    train, val = (list(loader)[:4] for loader in _loaders(reference))  # 4 steps: seconds

    def trained(fn):
        def run(_slot):
            model = _model(reference, device)
            optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
            torch.manual_seed(1)
            return fn(model, train, val, optimizer, device, 1, 2, 1)
        return run

    compare_call(trained(bare(candidate.train_model_simple)), trained(reference.train_model_simple),
                 lambda slot: (slot,),
                 note=f"{len(train)} steps on the story, evaluated every 2 on one batch each")


@pytest.mark.task("perplexity", category="values")
def test_perplexity(candidate, reference):
    compare_call(candidate.perplexity, reference.perplexity, lambda slot: (math.log(50257),),
                 ("math.exp", math.exp), note="ln(50257): an untrained GPT-2's loss")


