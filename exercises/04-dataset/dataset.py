"""04-dataset: datasets and loaders for token windows.

A language model learns to predict the next token. To train one, a long stream of token ids is
cut into windows of fixed length: the inputs are context_length tokens, and the targets are the
same stretch of text moved on by one token, so target_ids[t] is the token that follows
input_ids[t]. A torch Dataset serves those windows one at a time, a DataLoader batches and
shuffles them, and a collate function pads sequences of different lengths into one rectangular
batch. You build the three pieces.

1. TokenWindowDataset(token_ids, context_length, stride)

   token_ids holds N tokens: a list of ints or a 1-D integer tensor. Window i starts at
   s = i * stride:

       input_ids  = tokens[s     : s + context_length]         (context_length,) int64
       target_ids = tokens[s + 1 : s + context_length + 1]     (context_length,) int64

   A window needs context_length + 1 tokens, so the number of full windows is

       len(dataset) = max(0, (N - context_length - 1) // stride + 1)

   A partial window at the end is dropped, and a text shorter than context_length + 1 tokens
   gives an empty dataset (len 0, not an error). dataset[i] returns the tuple
   (input_ids, target_ids), both int64 whatever the dtype of token_ids. Indices work as they do
   for a list: -1 is the last window, and an index outside -len <= i < len raises IndexError
   (that is also how `for pair in dataset` knows where to stop). __init__ raises ValueError
   unless context_length >= 1 and stride >= 1. stride = context_length gives windows that don't
   overlap; a smaller stride makes them overlap and gets more windows out of the same text.

2. make_loader(dataset, batch_size, shuffle, seed, drop_last=True, num_workers=0)

   Return a torch.utils.data.DataLoader over dataset with this batch_size, shuffle, drop_last and
   num_workers. The default collate stacks the windows, so a batch is (inputs, targets), both
   (batch_size, context_length) int64. With drop_last=True the last, partial batch is dropped:
   len(dataset) // batch_size batches. With shuffle=False the windows come in dataset order.
   Shuffling must be reproducible: two loaders made with the same seed give the same batches,
   epoch after epoch; different seeds give different orders; each new pass over one loader (an
   epoch) is a new shuffle. Give the DataLoader its own torch.Generator seeded with seed, and
   leave the global RNG alone: dropout and weight initialisation draw from it, so a loader that
   reseeds it or draws from it changes their random numbers too. Careful: on every pass a
   DataLoader draws a seed for its workers from the global RNG, even with shuffle=False, unless
   it has a generator of its own.

3. pad_collate(batch, pad_id, ignore_index=-100)

   batch is a list of B pairs (input_ids, target_ids) of 1-D int64 tensors. Within a pair both
   have the same length L_b >= 1; pairs may differ. Return (inputs, targets), both (B, T_max)
   int64 with T_max = max L_b, padded on the right:

       inputs[b, :L_b]  = input_ids     inputs[b, L_b:]  = pad_id
       targets[b, :L_b] = target_ids    targets[b, L_b:] = ignore_index

   Find the padding by length, never by value: a real token may equal pad_id (GPT-2 pads with
   50256, its <|endoftext|> token). cross_entropy(..., ignore_index=-100) skips targets equal to
   ignore_index, so padding adds nothing to the loss. Hand it to a DataLoader as
   collate_fn=functools.partial(pad_collate, pad_id=...).

Worked example. Seven tokens, windows of 3 that start 2 apart: windows start at 0 and 2; one at
4 would need tokens up to position 7, which does not exist.

    >>> import torch
    >>> dataset = TokenWindowDataset([10, 11, 12, 13, 14, 15, 16], context_length=3, stride=2)
    >>> len(dataset)
    2
    >>> dataset[1]
    (tensor([12, 13, 14]), tensor([13, 14, 15]))
    >>> len(TokenWindowDataset([10, 11, 12], context_length=3, stride=1))
    0
    >>> inputs, targets = next(iter(make_loader(dataset, batch_size=2, shuffle=False, seed=0)))
    >>> inputs
    tensor([[10, 11, 12],
            [12, 13, 14]])
    >>> targets
    tensor([[11, 12, 13],
            [13, 14, 15]])
    >>> pairs = [(torch.tensor([5, 6, 7]), torch.tensor([6, 7, 8])),
    ...          (torch.tensor([9]), torch.tensor([4]))]
    >>> inputs, targets = pad_collate(pairs, pad_id=0)
    >>> inputs
    tensor([[5, 6, 7],
            [9, 0, 0]])
    >>> targets
    tensor([[   6,    7,    8],
            [   4, -100, -100]])

Rules:
- TokenWindowDataset.__getitem__ slices; no Python loop over the tokens of a window (the grader
  counts tensor operations at two context lengths). A loop over the windows in __init__, to
  build them all up front, is fine.
- make_loader must not call torch.manual_seed or otherwise use or change the global RNG.
- pad_collate may loop over the pairs of the batch; torch.nn.utils.rnn.pad_sequence is allowed.
- Don't modify the tensors you are given.

Check your work with `./kata check 04-dataset`; stuck? `./kata hint 04-dataset`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset


class TokenWindowDataset(Dataset):
    """Next-token windows over a stream of token ids: item i is (input_ids, target_ids)."""

    def __init__(self, token_ids: Sequence[int] | Tensor, context_length: int, stride: int) -> None:
        """Keep the tokens as int64 and count the full windows; ValueError on a bad size."""
        # TODO(04-dataset): validate the sizes, store torch.as_tensor(token_ids, dtype=torch.long).
        raise NotImplementedError("04-dataset: TokenWindowDataset")

    def __len__(self) -> int:
        """The number of full windows, 0 when the text is shorter than one window."""
        # TODO(04-dataset): max(0, (N - context_length - 1) // stride + 1).
        raise NotImplementedError("04-dataset: TokenWindowDataset")

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        """Window `index` (negative counts from the end) as (input_ids, target_ids)."""
        # TODO(04-dataset): IndexError if out of range, else slice at s = i * stride and s + 1.
        raise NotImplementedError("04-dataset: TokenWindowDataset")


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    seed: int,
    drop_last: bool = True,
    num_workers: int = 0,
) -> DataLoader:
    """A DataLoader whose order depends only on `seed`, never on the global RNG."""
    # TODO(04-dataset): build a DataLoader with generator=torch.Generator().manual_seed(seed).
    raise NotImplementedError("04-dataset: make_loader")


def pad_collate(
    batch: Sequence[tuple[Tensor, Tensor]], pad_id: int, ignore_index: int = -100
) -> tuple[Tensor, Tensor]:
    """Right-pad B pairs of 1-D int64 tensors to (B, T_max): inputs with pad_id, targets with
    ignore_index."""
    # TODO(04-dataset): fill (B, T_max) with pad_id / ignore_index, copy each pair in by length.
    raise NotImplementedError("04-dataset: pad_collate")
