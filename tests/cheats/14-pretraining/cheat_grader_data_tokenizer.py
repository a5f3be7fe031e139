"""Class 4: the shipped corpus and encoding are right there in grader.data; read the spec's
story and build the spec's own tokenizer from it, so the "learner" never handles a tokenizer.

The spec hands a tokenizer in and the stub says no tokenizer library inside; grader.data is the
grader's, and a rung may import from grader only its blocks. The rest of the module is honest
enough to pass if the import were allowed.

Written against the grader as it is (the rung is new): the source rules refuse the import.
"""

import math

import torch
import torch.nn.functional as F

from grader.data import gpt2_encoding

KATA_CHEAT = {"expect": {"status": "error", "message": "from grader.data import ...: 14-pretraining does not use `grader`"},
              "class": 4, "rung": "14-pretraining", "worked": False,
              "observed": "refused by the source rules before it ran"}

_ENCODING = gpt2_encoding()


def text_to_token_ids(text, tokenizer):
    return torch.tensor([_ENCODING.encode(text)])


def token_ids_to_text(token_ids, tokenizer):
    return tokenizer.decode(token_ids[0].tolist())


def split_text(text, train_ratio=0.9):
    i = int(train_ratio * len(text))
    return text[:i], text[i:]


def calc_loss_batch(input_batch, target_batch, model, device):
    logits = model(input_batch.to(device))
    return F.cross_entropy(logits.flatten(0, 1), target_batch.to(device).flatten())


def perplexity(loss):
    return math.exp(loss)
