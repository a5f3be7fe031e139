"""`kata compare 04-dataset`: windows, loaders and padding against the reference.

Run by the grader's worker like a spec (grader/harness/comparison_row.py says how a row travels).
"""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pad_sequence

from grader.harness.comparison_row import bare, compare_call

pytestmark = pytest.mark.rung("04-dataset")

T, STRIDE = 256, 128


def _tokens(slot: int) -> torch.Tensor:
    return torch.randint(0, 50_000, (20_000,), generator=torch.Generator().manual_seed(slot))


@pytest.mark.task("TokenWindowDataset", category="values")
def test_token_window_dataset(candidate, reference):
    def every_window(cls):
        def run(tokens: torch.Tensor) -> tuple[int, torch.Tensor, torch.Tensor]:
            dataset = cls(tokens, T, STRIDE)
            pairs = [dataset[i] for i in range(len(dataset))]
            return len(dataset), torch.stack([p[0] for p in pairs]), torch.stack([p[1]
                                                                                   for p in pairs])
        return run

    def by_unfold(tokens: torch.Tensor) -> tuple[int, torch.Tensor, torch.Tensor]:
        windows = tokens.unfold(0, T + 1, STRIDE)  # (n, T + 1)
        return len(windows), windows[:, :-1], windows[:, 1:]

    compare_call(every_window(candidate.TokenWindowDataset),
                 every_window(reference.TokenWindowDataset), lambda slot: (_tokens(slot),),
                 ("tokens.unfold(0, T + 1, stride)", by_unfold),
                 note=f"20000 tokens, context {T}, stride {STRIDE}: build and read every window")


@pytest.mark.task("make_loader", category="values")
def test_make_loader(candidate, reference):
    dataset = reference.TokenWindowDataset(_tokens(0), 32, 16)

    def one_epoch(fn):
        def run(seed: int) -> list[torch.Tensor]:
            return [inputs for inputs, _ in fn(dataset, 16, True, seed)]
        return run

    compare_call(one_epoch(bare(candidate.make_loader)), one_epoch(reference.make_loader),
                 lambda slot: (slot,), note="one shuffled epoch, batch 16: the same order?")


@pytest.mark.task("pad_collate", category="values")
def test_pad_collate(candidate, reference):
    def inputs(slot: int) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], int]:
        generator = torch.Generator().manual_seed(slot)
        lengths = torch.randint(1, 256, (64,), generator=generator).tolist()
        batch = [(torch.randint(0, 50_000, (n,), generator=generator),
                  torch.randint(0, 50_000, (n,), generator=generator)) for n in lengths]
        return batch, 0

    def by_pad_sequence(batch, pad_id):
        return (pad_sequence([i for i, _ in batch], batch_first=True, padding_value=pad_id),
                pad_sequence([t for _, t in batch], batch_first=True, padding_value=-100))

    compare_call(candidate.pad_collate, reference.pad_collate, inputs,
                 ("nn.utils.rnn.pad_sequence", by_pad_sequence),
                 note="64 pairs of lengths 1 to 255")
