"""Mutant of 04-dataset: window i starts at i instead of i * stride."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

KATA_EXPECT = {"status": "fail", "task": "TokenWindowDataset", "category": "values", "message": ["starts at i", "window i starts at i; it starts at s = i * stride"], "not_message": "window i starts at i * context_length"}


class TokenWindowDataset(Dataset):
    """Next-token windows over a stream of token ids: item i is (input_ids, target_ids)."""

    def __init__(self, token_ids: Sequence[int] | Tensor, context_length: int, stride: int) -> None:
        """Keep the tokens as int64 and count the full windows; ValueError on a bad size."""
        if context_length < 1:
            raise ValueError(f"context_length must be at least 1, got {context_length}")
        if stride < 1:
            raise ValueError(f"stride must be at least 1, got {stride}")
        # int64 once, here, so every item comes out ready for nn.Embedding and cross_entropy
        tokens = torch.as_tensor(token_ids, dtype=torch.long)  # (N,)
        if tokens.dim() != 1:
            raise ValueError(f"token_ids must be 1-D, got shape {tuple(tokens.shape)}")
        N = tokens.numel()
        self.tokens = tokens
        self.context_length = context_length
        self.stride = stride
        # the last start s must leave s + context_length + 1 <= N: the targets run one further
        self.num_windows = max(0, (N - context_length - 1) // stride + 1)

    def __len__(self) -> int:
        """The number of full windows, 0 when the text is shorter than one window."""
        return self.num_windows

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        """Window `index` (negative counts from the end) as (input_ids, target_ids)."""
        if not -self.num_windows <= index < self.num_windows:
            # IndexError (not a short window) is what ends `for pair in dataset`
            raise IndexError(f"window {index} out of range for {self.num_windows} windows")
        start = index % self.num_windows
        T = self.context_length
        input_ids = self.tokens[start : start + T]  # (T,), a view: slicing copies nothing
        target_ids = self.tokens[start + 1 : start + T + 1]  # (T,), the next token at each t
        return input_ids, target_ids


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    seed: int,
    drop_last: bool = True,
    num_workers: int = 0,
) -> DataLoader:
    """A DataLoader whose order depends only on `seed`, never on the global RNG."""
    # A private generator drives the shuffle and the workers' base seed. Without one, DataLoader
    # draws from the global RNG on every pass, even when it does not shuffle.
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        num_workers=num_workers,
        generator=generator,
    )


def pad_collate(
    batch: Sequence[tuple[Tensor, Tensor]], pad_id: int, ignore_index: int = -100
) -> tuple[Tensor, Tensor]:
    """Right-pad B pairs of 1-D int64 tensors to (B, T_max): inputs with pad_id, targets with
    ignore_index."""
    B = len(batch)
    T_max = max(len(input_ids) for input_ids, _ in batch)
    device = batch[0][0].device
    inputs = torch.full((B, T_max), pad_id, dtype=torch.long, device=device)  # (B, T_max)
    targets = torch.full((B, T_max), ignore_index, dtype=torch.long, device=device)  # (B, T_max)
    # fill by length, not by value: a real token may equal pad_id
    for b, (input_ids, target_ids) in enumerate(batch):
        inputs[b, : len(input_ids)] = input_ids
        targets[b, : len(target_ids)] = target_ids
    return inputs, targets
