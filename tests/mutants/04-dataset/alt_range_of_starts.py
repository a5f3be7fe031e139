"""Alternative for 04-dataset: the window starts as a Python range (which already knows its
length, negative indices and IndexError), a list of ints, and F.pad per pair."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

KATA_EXPECT = {"status": "pass"}


class TokenWindowDataset(Dataset):
    """Next-token windows over a stream of token ids: item i is (input_ids, target_ids)."""

    def __init__(self, token_ids: Sequence[int] | Tensor, context_length: int, stride: int) -> None:
        """Keep the tokens as int64 and count the full windows; ValueError on a bad size."""
        if min(context_length, stride) < 1:
            raise ValueError("context_length and stride must be positive")
        self.ids = token_ids.tolist() if isinstance(token_ids, Tensor) else list(token_ids)
        self.context_length = context_length
        self.starts = range(0, max(len(self.ids) - context_length, 0), stride)

    def __len__(self) -> int:
        """The number of full windows, 0 when the text is shorter than one window."""
        return len(self.starts)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        """Window `index` (negative counts from the end) as (input_ids, target_ids)."""
        s = self.starts[index]
        chunk = torch.tensor(self.ids[s : s + self.context_length + 1], dtype=torch.int64)
        return chunk[:-1], chunk[1:]


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    seed: int,
    drop_last: bool = True,
    num_workers: int = 0,
) -> DataLoader:
    """A DataLoader whose order depends only on `seed`, never on the global RNG."""
    options = dict(batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                   num_workers=num_workers)
    return DataLoader(dataset, generator=torch.Generator().manual_seed(seed), **options)


def pad_collate(
    batch: Sequence[tuple[Tensor, Tensor]], pad_id: int, ignore_index: int = -100
) -> tuple[Tensor, Tensor]:
    """Right-pad B pairs of 1-D int64 tensors to (B, T_max): inputs with pad_id, targets with
    ignore_index."""
    T_max = max(x.numel() for x, _ in batch)
    inputs = torch.stack([F.pad(x, (0, T_max - x.numel()), value=pad_id) for x, _ in batch])
    targets = torch.stack([F.pad(y, (0, T_max - y.numel()), value=ignore_index)
                           for _, y in batch])
    return inputs, targets
