"""15-classifier: fine-tune a GPT to tell spam from ham (chapter 6 of "Build a Large Language
Model (From Scratch)").

A GPT that predicts the next token over 50,257 ids becomes a classifier by a small surgery: its
output head is replaced by a Linear layer with one output per class, most of it is frozen, and
only the logits of the last position are read, since that is the only position whose causal
attention has seen the whole text. Training is then chapter 5's loop with a label per text
instead of a next token per position. You write the pieces with the book's names and
signatures, so its code and yours drop in for each other. GPTModel comes from your 12-gpt
(`from grader.blocks import GPTModel`, at the top of this file): yours when it passes, the
reference's otherwise. A tokenizer is handed in wherever one is needed (anything with
encode(text) -> list of ids; the grader uses GPT-2's encoding); this file imports none.

1. SpamDataset(csv_file, tokenizer, max_length=None, pad_token_id=50256): a Dataset of
   (input_ids, label) pairs from a CSV with the book's "Label" and "Text" columns (Label 0 or
   1, the text a message). csv_file is the CSV already opened (a text file object, or any
   iterable of its lines: read it with csv.DictReader(csv_file); this file opens nothing).
   Encode every text with tokenizer.encode. With max_length None, self.max_length is the
   length of the longest encoded text; with a max_length, self.max_length = max_length and
   every encoded text is cut to its first max_length ids. Then every text is padded on the
   right with pad_token_id up to self.max_length, so every item has the same length and a
   DataLoader can stack them. Item i is (a (max_length,) int64 tensor of ids, a 0-dim int64
   tensor of the label): F.cross_entropy takes class ids as int64. len() is the number of rows.

2. replace_head(model, num_classes=2) -> model: the new output head, a fresh
   nn.Linear(emb_dim, num_classes) (with its bias, as nn.Linear has by default) in place of
   model.out_head, emb_dim being the width the model's final norm hands the head
   (model.out_head.in_features). The model is changed in place and returned; the head is
   nn.Linear's own (float32, on the CPU, as the book makes it), so move the model afterwards.

3. freeze_for_finetuning(model) -> model: only the last transformer block
   (model.trf_blocks[-1]), the final norm (model.final_norm) and the output head
   (model.out_head) stay trainable (requires_grad True); every other parameter (the token and
   position embeddings, every earlier block) is frozen (requires_grad False). It may be called
   before or after replace_head and gives the same model either way. In place; returns model.

4. calc_loss_batch(input_batch, target_batch, model, device) -> Tensor: move both to device,
   run the model and keep the logits of the last position only, logits[:, -1, :] of shape
   (B, num_classes): with causal attention, the last position is the one that has seen every
   token of the text (padding included). Return F.cross_entropy of those against the (B,)
   labels: a one-element tensor the caller can call backward on.

5. calc_loss_loader(data_loader, model, device, num_batches=None) -> float: the mean of the
   per-batch losses calc_loss_batch gives over the first num_batches batches (all of them when
   None or more than the loader has; every batch counts once, whatever its size); float("nan")
   for a loader with no batch. It uses the model as it is handed (the caller sets eval mode and
   no_grad).

6. calc_accuracy_loader(data_loader, model, device, num_batches=None) -> float: the fraction
   of examples whose predicted class, the argmax over the classes of the last position's
   logits, equals the label: the number right over the number of examples seen, over the first
   num_batches batches (all when None or more than there are; num_batches is at least 1 and
   the loader has a batch). Counted per example, so a smaller last batch weighs less. It
   measures: model.eval() first and every forward under torch.no_grad(); it leaves the model in
   eval mode (the book's does; the training loop switches back).

7. evaluate_model(model, train_loader, val_loader, device, eval_iter) -> (train_loss,
   val_loss): model.eval(), both calc_loss_loader calls with num_batches=eval_iter under
   torch.no_grad(), then model.train(). Two Python floats.

8. train_classifier_simple(model, train_loader, val_loader, optimizer, device, num_epochs,
   eval_freq, eval_iter) -> (train_losses, val_losses, train_accs, val_accs, examples_seen):
   the book's loop. For each of num_epochs epochs, model.train(), then for every batch of
   train_loader, in order:

       optimizer.zero_grad()
       loss = calc_loss_batch(input_batch, target_batch, model, device)
       loss.backward()
       optimizer.step()
       examples_seen += input_batch.shape[0]  examples (texts), not tokens
       global_step += 1                       the first step is step 0

   and when global_step % eval_freq == 0, evaluate_model(model, train_loader, val_loader,
   device, eval_iter) and append its two losses. After each epoch append
   calc_accuracy_loader(train_loader, ..., num_batches=eval_iter) to train_accs and the same of
   val_loader to val_accs. examples_seen is the total, an int. Printing is up to you.

9. classify_review(text, model, tokenizer, device, max_length=None, pad_token_id=50256) -> str:
   one text through the classifier: encode it, cut the ids to the model's context length
   (model.pos_emb.weight.shape[0]) and, when max_length is given (at most the context length),
   to max_length and pad them with pad_token_id up to max_length, as the training set was;
   with max_length None the ids go in as they are. Run the model on the (1, T) batch in eval
   mode under no_grad and return "spam" when the last position's argmax is class 1, else
   "not spam". The model is left in eval mode.

Worked example: a tokenizer of one id per character (code point - 32), and a "model" that
gives class 1 a logit of 1 where the id is 1 ("!"), 0 elsewhere.

    >>> import io
    >>> import torch
    >>> from torch import nn
    >>> class Chars:
    ...     def encode(self, text): return [ord(c) - 32 for c in text]
    >>> rows = io.StringIO('Label,Text\\n0,"Hi, Jo"\\n1,WIN!\\n')
    >>> dataset = SpamDataset(rows, Chars(), pad_token_id=0)
    >>> dataset.max_length, len(dataset)
    (6, 2)
    >>> dataset[1]  # "WIN!" padded with 0 to 6 ids
    (tensor([55, 41, 46,  1,  0,  0]), tensor(1))
    >>> class Bang(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.pos_emb = nn.Embedding(8, 1)
    ...     def forward(self, idx):
    ...         return torch.stack([torch.zeros(idx.shape), (idx == 1).double()], dim=-1)
    >>> classify_review("WIN!", Bang(), Chars(), "cpu")
    'spam'
    >>> classify_review("WIN!", Bang(), Chars(), "cpu", max_length=6, pad_token_id=0)
    'not spam'
    >>> loader = [(torch.tensor([[55, 1], [1, 55]]), torch.tensor([1, 1]))]
    >>> calc_accuracy_loader(loader, Bang(), "cpu")  # only the first ends in "!"
    0.5

Rules: the cross-entropy comes from torch (F.cross_entropy or nn.CrossEntropyLoss); no
tokenizer library and no opening files (the CSV comes in opened); don't reseed the global RNG.
train_classifier_simple calls your calc_loss_batch, evaluate_model and calc_accuracy_loader.

Check your work with `./kata check 15-classifier`; stuck? `./kata hint 15-classifier`.
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


class SpamDataset(Dataset):
    """Labelled texts from a CSV, encoded and padded with pad_token_id to one length."""

    def __init__(self, csv_file: Iterable[str], tokenizer: Any, max_length: int | None = None,
                 pad_token_id: int = 50256) -> None:
        """Read the rows, encode the texts, cut them to max_length and pad them to one length."""
        # TODO(15-classifier): DictReader rows; labels, encoded texts, max_length; cut, pad.
        raise NotImplementedError("15-classifier: SpamDataset")

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        """Row `index`: its padded ids (max_length,) and its label (), both int64."""
        # TODO(15-classifier): (ids as an int64 tensor, label as a 0-dim int64 tensor).
        raise NotImplementedError("15-classifier: SpamDataset")

    def __len__(self) -> int:
        """The number of rows."""
        # TODO(15-classifier): the number of rows.
        raise NotImplementedError("15-classifier: SpamDataset")


def replace_head(model: nn.Module, num_classes: int = 2) -> nn.Module:
    """out_head becomes a fresh Linear(emb_dim, num_classes)."""
    # TODO(15-classifier): model.out_head = a new nn.Linear(emb_dim, num_classes); return model.
    raise NotImplementedError("15-classifier: replace_head")


def freeze_for_finetuning(model: nn.Module) -> nn.Module:
    """Only the last transformer block, the final norm and the head stay trainable."""
    # TODO(15-classifier): freeze all; unfreeze trf_blocks[-1], final_norm, out_head.
    raise NotImplementedError("15-classifier: freeze_for_finetuning")


def calc_loss_batch(input_batch: Tensor, target_batch: Tensor, model: nn.Module,
                    device: torch.device | str) -> Tensor:
    """Cross-entropy of the last position's logits against the labels."""
    # TODO(15-classifier): to(device); model(...)[:, -1, :]; F.cross_entropy.
    raise NotImplementedError("15-classifier: calc_loss_batch")


def calc_loss_loader(data_loader: DataLoader, model: nn.Module, device: torch.device | str,
                     num_batches: int | None = None) -> float:
    """The mean of the per-batch losses over the first num_batches batches (all when None)."""
    # TODO(15-classifier): nan when empty; clamp num_batches; mean of the batch losses (.item()).
    raise NotImplementedError("15-classifier: calc_loss_loader")


def calc_accuracy_loader(data_loader: DataLoader, model: nn.Module, device: torch.device | str,
                         num_batches: int | None = None) -> float:
    """Correct predictions over examples seen, in eval mode without gradients."""
    # TODO(15-classifier): eval, no_grad; argmax of the last logits; right / examples.
    raise NotImplementedError("15-classifier: calc_accuracy_loader")


def evaluate_model(model: nn.Module, train_loader: DataLoader, val_loader: DataLoader,
                   device: torch.device | str, eval_iter: int) -> tuple[float, float]:
    """Train and validation losses over eval_iter batches each, in eval mode without gradients."""
    # TODO(15-classifier): model.eval(); both calc_loss_loader calls under no_grad; model.train().
    raise NotImplementedError("15-classifier: evaluate_model")


def train_classifier_simple(
        model: nn.Module, train_loader: DataLoader, val_loader: DataLoader,
        optimizer: torch.optim.Optimizer, device: torch.device | str, num_epochs: int,
        eval_freq: int, eval_iter: int,
) -> tuple[list[float], list[float], list[float], list[float], int]:
    """The book's loop: a step per batch, losses every eval_freq steps, accuracies per epoch."""
    # TODO(15-classifier): the book's loop; evaluate every eval_freq; accuracies per epoch.
    raise NotImplementedError("15-classifier: train_classifier_simple")


def classify_review(text: str, model: nn.Module, tokenizer: Any, device: torch.device | str,
                    max_length: int | None = None, pad_token_id: int = 50256) -> str:
    """'spam' or 'not spam' from the last position's logits of one (padded) text."""
    # TODO(15-classifier): encode, cut, pad; eval, no_grad; class 1 is "spam".
    raise NotImplementedError("15-classifier: classify_review")
