"""Alternative for 04-dataset, written the way the book's GPTDatasetV1 is: every window built up
front in __init__ (a loop over windows, not tokens), explicit samplers, pad_sequence."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset, RandomSampler, SequentialSampler

KATA_EXPECT = {"status": "pass"}


class TokenWindowDataset(Dataset):
    """Next-token windows over a stream of token ids: item i is (input_ids, target_ids)."""

    def __init__(self, token_ids: Sequence[int] | Tensor, context_length: int, stride: int) -> None:
        """Keep the tokens as int64 and count the full windows; ValueError on a bad size."""
        if context_length < 1 or stride < 1:
            raise ValueError("context_length and stride must both be at least 1")
        ids = [int(t) for t in token_ids]
        self.input_ids: list[Tensor] = []
        self.target_ids: list[Tensor] = []
        # start s is valid while s + context_length + 1 <= N, i.e. s < N - context_length
        for start in range(0, len(ids) - context_length, stride):
            chunk = ids[start : start + context_length + 1]
            self.input_ids.append(torch.tensor(chunk[:-1], dtype=torch.long))
            self.target_ids.append(torch.tensor(chunk[1:], dtype=torch.long))

    def __len__(self) -> int:
        """The number of full windows, 0 when the text is shorter than one window."""
        return len(self.input_ids)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        """Window `index` (negative counts from the end) as (input_ids, target_ids)."""
        return self.input_ids[index], self.target_ids[index]  # a list: IndexError, negatives


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    seed: int,
    drop_last: bool = True,
    num_workers: int = 0,
) -> DataLoader:
    """A DataLoader whose order depends only on `seed`, never on the global RNG."""
    generator = torch.Generator()
    generator.manual_seed(seed)
    if shuffle:
        sampler = RandomSampler(dataset, generator=generator)
    else:
        sampler = SequentialSampler(dataset)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last,
                      num_workers=num_workers, generator=generator)


def pad_collate(
    batch: Sequence[tuple[Tensor, Tensor]], pad_id: int, ignore_index: int = -100
) -> tuple[Tensor, Tensor]:
    """Right-pad B pairs of 1-D int64 tensors to (B, T_max): inputs with pad_id, targets with
    ignore_index."""
    inputs = pad_sequence([x for x, _ in batch], batch_first=True, padding_value=pad_id)
    targets = pad_sequence([y for _, y in batch], batch_first=True, padding_value=ignore_index)
    return inputs.long(), targets.long()
