"""14-pretraining: train a tiny GPT on a short story (chapter 5 of "Build a Large Language Model
(From Scratch)").

Pretraining is next-token prediction, repeated: cut a text into windows of token ids, ask the
model for the logits of every position, and score them with cross-entropy against the same
window shifted by one token. You write the pieces of the book's training run with the book's
names and signatures, so its code and yours drop in for each other. GPTModel comes from your
12-gpt and the window dataset and its loader from your 04-dataset (`from grader.blocks import
...`, already at the top of this file): yours when that rung passes, the reference's otherwise.
A tokenizer is handed in wherever one is needed: anything with encode(text) -> list of ids and
decode(ids) -> text (tiktoken's GPT-2 encoding is one); this file imports none.

1. text_to_token_ids(text, tokenizer) -> Tensor: tokenizer.encode(text) as an int64 tensor of
   shape (1, T), a batch of one (what a model takes).
   token_ids_to_text(token_ids, tokenizer) -> str: the reverse for a (1, T) tensor: drop the
   batch axis and decode the ids (as a list of Python ints).

2. split_text(text, train_ratio=0.9) -> (train_text, val_text): the book's split by characters,
   at split_idx = int(train_ratio * len(text)): train_text = text[:split_idx], val_text =
   text[split_idx:]. Every character lands in exactly one part, so nothing the model is
   validated on was trained on. 0 <= train_ratio <= 1.

3. create_dataloader(text, tokenizer, batch_size=4, max_length=256, stride=128, shuffle=True,
   drop_last=True, seed=0) -> DataLoader: encode the whole text once, cut the ids into
   TokenWindowDataset(ids, max_length, stride) windows (04-dataset: input ids and the targets
   shifted by one) and batch them with make_loader(dataset, batch_size, shuffle, seed,
   drop_last) (04-dataset: the order depends only on seed). Each batch is (input_batch,
   target_batch), both (batch_size, max_length) int64. The text is long enough for one window
   at least (more than max_length ids): a loader cannot shuffle an empty dataset.

4. calc_loss_batch(input_batch, target_batch, model, device) -> Tensor: move both batches to
   device, run the model, and return the mean cross-entropy over every position of every row:
   the logits (B, T, V) flattened to (B * T, V) against the targets flattened to (B * T,), with
   F.cross_entropy (a one-element tensor, so the caller can call backward on it).

5. calc_loss_loader(data_loader, model, device, num_batches=None) -> float: the mean of the
   per-batch losses calc_loss_batch gives (the book's average: every batch counts once, whatever
   its size; a smaller last batch weighs as much as a full one), over the first num_batches
   batches of the loader, or all of them when num_batches is None or more than the loader has.
   num_batches is None or at least 1. A loader with no batch at all gives float("nan"), as the
   book's does. Return a Python float. calc_loss_loader uses the model as it is handed: the
   caller sets eval mode and torch.no_grad() (evaluate_model does), so it never changes the
   model's mode.

6. evaluate_model(model, train_loader, val_loader, device, eval_iter) -> (train_loss, val_loss):
   measure without learning: model.eval() (dropout off), both calc_loss_loader calls with
   num_batches=eval_iter under torch.no_grad(), then model.train(), since it is called in the
   middle of training. Two Python floats.

7. train_model_simple(model, train_loader, val_loader, optimizer, device, num_epochs, eval_freq,
   eval_iter, start_context=None, tokenizer=None) -> (train_losses, val_losses,
   track_tokens_seen): the book's loop. For each of num_epochs epochs, model.train(), then for
   every batch of train_loader, in order:

       optimizer.zero_grad()                  the last step's gradients must not add in
       loss = calc_loss_batch(input_batch, target_batch, model, device)
       loss.backward()
       optimizer.step()
       tokens_seen += input_batch.numel()     tokens, not batches: B * T per step
       global_step += 1                       the first step is step 0

   and, when global_step % eval_freq == 0 (steps 0, eval_freq, 2 * eval_freq, ... counted
   across epochs), evaluate_model(model, train_loader, val_loader, device, eval_iter) and append
   its two losses and tokens_seen to the three lists. Only train_loader's batches are trained
   on; val_loader is only ever evaluated. The book also prints the losses and, after each epoch,
   a sample continuation of start_context; printing is up to you (nothing checks it, and
   13-generation is where decoding is taught), so start_context and tokenizer may go unused.

8. perplexity(loss) -> float: exp(loss), for a loss (a mean cross-entropy, in nats) as a Python
   float: the number of tokens the model is, on average, as unsure between as a uniform choice
   would be. An untrained model over V tokens has a loss near ln(V) and a perplexity near V.

Worked example: a tokenizer of one id per character, on a text of 41 characters.

    >>> import torch
    >>> from torch import nn
    >>> class Chars:
    ...     def encode(self, text): return [ord(c) - 32 for c in text]
    ...     def decode(self, ids): return "".join(chr(i + 32) for i in ids)
    >>> chars = Chars()
    >>> text_to_token_ids("Hi!", chars)
    tensor([[40, 73,  1]])
    >>> token_ids_to_text(torch.tensor([[40, 73, 1]]), chars)
    'Hi!'
    >>> train_text, val_text = split_text("I had always thought Jack Gisburn rather.", 0.9)
    >>> len(train_text), val_text  # int(0.9 * 41) = 36
    (36, 'ther.')
    >>> loader = create_dataloader(train_text, chars, batch_size=4, max_length=8, stride=8,
    ...                            shuffle=False)
    >>> [tuple(inputs.shape) for inputs, targets in loader]  # 4 windows of 8: one batch
    [(4, 8)]
    >>> inputs, targets = next(iter(loader))
    >>> token_ids_to_text(inputs[:1], chars), token_ids_to_text(targets[:1], chars)
    ('I had al', ' had alw')
    >>> class Uniform(nn.Module):  # the same logits for every token: loss ln(96)
    ...     def forward(self, idx): return torch.zeros(*idx.shape, 96)
    >>> loss = calc_loss_batch(inputs, targets, Uniform(), torch.device("cpu"))
    >>> round(loss.item(), 4), round(perplexity(loss.item()), 2)
    (4.5643, 96.0)
    >>> calc_loss_loader(loader, Uniform(), torch.device("cpu"), num_batches=3) == loss.item()
    True

Rules: the cross-entropy comes from torch (F.cross_entropy or nn.CrossEntropyLoss); no
tokenizer library inside (the tokenizer is handed in), and no reading files. Don't reseed the
global RNG (torch.manual_seed) anywhere: the caller owns it. train_model_simple calls your
calc_loss_batch and evaluate_model, and evaluate_model your calc_loss_loader.

Check your work with `./kata check 14-pretraining`; stuck? `./kata hint 14-pretraining`.
"""

from __future__ import annotations

import math  # noqa: F401
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from grader.blocks import GPTModel, TokenWindowDataset, make_loader  # noqa: F401 (GPTModel: to try)


def text_to_token_ids(text: str, tokenizer: Any) -> Tensor:
    """The ids of `text` as a (1, T) int64 batch of one."""
    # TODO(14-pretraining): encode, make an int64 tensor, add the batch axis in front.
    raise NotImplementedError("14-pretraining: text_to_token_ids")


def token_ids_to_text(token_ids: Tensor, tokenizer: Any) -> str:
    """The text of a (1, T) batch of one."""
    # TODO(14-pretraining): drop the batch axis, .tolist(), decode.
    raise NotImplementedError("14-pretraining: token_ids_to_text")


def split_text(text: str, train_ratio: float = 0.9) -> tuple[str, str]:
    """The first train_ratio of the characters, and the rest."""
    # TODO(14-pretraining): split_idx = int(train_ratio * len(text)); the two slices.
    raise NotImplementedError("14-pretraining: split_text")


def create_dataloader(text: str, tokenizer: Any, batch_size: int = 4, max_length: int = 256,
                      stride: int = 128, shuffle: bool = True, drop_last: bool = True,
                      seed: int = 0) -> DataLoader:
    """Batches of (inputs, targets) windows of the encoded text."""
    # TODO(14-pretraining): encode once, TokenWindowDataset(ids, max_length, stride), make_loader.
    raise NotImplementedError("14-pretraining: create_dataloader")


def calc_loss_batch(input_batch: Tensor, target_batch: Tensor, model: nn.Module,
                    device: torch.device | str) -> Tensor:
    """Mean cross-entropy of the next-token logits over every position of the batch."""
    # TODO(14-pretraining): to(device), forward, cross-entropy of (B*T, V) logits against (B*T,) targets.
    raise NotImplementedError("14-pretraining: calc_loss_batch")


def calc_loss_loader(data_loader: DataLoader, model: nn.Module, device: torch.device | str,
                     num_batches: int | None = None) -> float:
    """The mean of the per-batch losses over the first num_batches batches (all when None)."""
    # TODO(14-pretraining): nan when empty, clamp num_batches, mean of the per-batch .item() losses.
    raise NotImplementedError("14-pretraining: calc_loss_loader")


def evaluate_model(model: nn.Module, train_loader: DataLoader, val_loader: DataLoader,
                   device: torch.device | str, eval_iter: int) -> tuple[float, float]:
    """Train and validation losses over eval_iter batches each, in eval mode without gradients."""
    # TODO(14-pretraining): eval(), no_grad, calc_loss_loader on both with eval_iter, train() again.
    raise NotImplementedError("14-pretraining: evaluate_model")


def train_model_simple(model: nn.Module, train_loader: DataLoader, val_loader: DataLoader,
                       optimizer: torch.optim.Optimizer, device: torch.device | str,
                       num_epochs: int, eval_freq: int, eval_iter: int,
                       start_context: str | None = None,
                       tokenizer: Any = None) -> tuple[list[float], list[float], list[int]]:
    """The book's loop: step on every training batch, evaluate every eval_freq steps."""
    # TODO(14-pretraining): zero_grad, loss, backward, step, tokens; evaluate every eval_freq.
    raise NotImplementedError("14-pretraining: train_model_simple")


def perplexity(loss: float) -> float:
    """exp(loss): the effective number of equally likely next tokens."""
    # TODO(14-pretraining): e to the power of the loss.
    raise NotImplementedError("14-pretraining: perplexity")
