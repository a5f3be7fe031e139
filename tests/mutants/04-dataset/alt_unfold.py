"""Alternative for 04-dataset: windows of context_length + 1 tokens as one unfold view, a
randperm sampler of its own, and a vectorised pad_collate with masked_scatter."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

KATA_EXPECT = {"status": "pass"}


class TokenWindowDataset(Dataset):
    """Next-token windows over a stream of token ids: item i is (input_ids, target_ids)."""

    def __init__(self, token_ids: Sequence[int] | Tensor, context_length: int, stride: int) -> None:
        """Keep the tokens as int64 and count the full windows; ValueError on a bad size."""
        if context_length < 1:
            raise ValueError(f"context_length must be >= 1, got {context_length}")
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        tokens = torch.tensor(token_ids).long() if not isinstance(token_ids, Tensor) \
            else token_ids.long()
        size = context_length + 1  # inputs and targets overlap in all but one token
        if tokens.numel() >= size:
            self.windows = tokens.unfold(0, size, stride)  # (num_windows, T + 1)
        else:
            self.windows = tokens.new_empty((0, size))

    def __len__(self) -> int:
        """The number of full windows, 0 when the text is shorter than one window."""
        return self.windows.shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        """Window `index` (negative counts from the end) as (input_ids, target_ids)."""
        window = self.windows[index]  # tensor indexing raises IndexError out of range
        return window[:-1], window[1:]


class _Shuffled(Sampler[int]):
    def __init__(self, size: int, generator: torch.Generator) -> None:
        self.size = size
        self.generator = generator

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        # the same generator every epoch, advancing: a new order each time, reproducible overall
        return iter(torch.randperm(self.size, generator=self.generator).tolist())


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    seed: int,
    drop_last: bool = True,
    num_workers: int = 0,
) -> DataLoader:
    """A DataLoader whose order depends only on `seed`, never on the global RNG."""
    generator = torch.Generator().manual_seed(seed)
    sampler = _Shuffled(len(dataset), generator) if shuffle else None
    return DataLoader(dataset, batch_size, sampler=sampler, drop_last=drop_last,
                      num_workers=num_workers, generator=generator)


def pad_collate(
    batch: Sequence[tuple[Tensor, Tensor]], pad_id: int, ignore_index: int = -100
) -> tuple[Tensor, Tensor]:
    """Right-pad B pairs of 1-D int64 tensors to (B, T_max): inputs with pad_id, targets with
    ignore_index."""
    lengths = torch.tensor([len(x) for x, _ in batch])  # (B,)
    T_max = int(lengths.max())
    real = torch.arange(T_max)[None, :] < lengths[:, None]  # (B, T_max), row-major like cat
    inputs = torch.full(real.shape, pad_id, dtype=torch.long)
    targets = torch.full(real.shape, ignore_index, dtype=torch.long)
    inputs = inputs.masked_scatter(real, torch.cat([x for x, _ in batch]).long())
    targets = targets.masked_scatter(real, torch.cat([y for _, y in batch]).long())
    return inputs, targets
