"""`kata compare 01-tensors`: each task against the reference and torch's own function.

Run by the grader's worker like a spec (grader/harness/comparison_row.py says how a row travels).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from grader.harness.comparison_row import bare, compare_call
from grader.strategies import randn

pytestmark = pytest.mark.rung("01-tensors")

N, M, D = 512, 512, 64
SHAPES = [((8, 1, 6, 1), (7, 1, 5)), ((5, 4), (1,)), ((15, 3, 5), (15, 1, 5)), ((3, 1), (1, 4))]


@pytest.mark.task("pairwise_sq_distances", category="values")
def test_pairwise_sq_distances(candidate, reference, device):
    def inputs(slot: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (randn((N, D), 2 * slot, torch.float32, device),
                randn((M, D), 2 * slot + 1, torch.float32, device))

    compare_call(candidate.pairwise_sq_distances, reference.pairwise_sq_distances, inputs,
                 ("torch.cdist(x, y) ** 2", lambda x, y: torch.cdist(x, y).pow(2)),
                 note=f"x ({N}, {D}), y ({M}, {D}) float32")


@pytest.mark.task("one_hot", category="values")
def test_one_hot(candidate, reference, device):
    def inputs(slot: int) -> tuple[torch.Tensor, int]:
        generator = torch.Generator().manual_seed(slot)
        return torch.randint(0, 1000, (64, 128), generator=generator).to(device), 1000

    compare_call(candidate.one_hot, reference.one_hot, inputs,
                 ("F.one_hot(...).float()", lambda i, c: F.one_hot(i, c).float()),
                 note="indices (64, 128), 1000 classes")


@pytest.mark.task("broadcast_shape", category="values")
def test_broadcast_shape(candidate, reference):
    def inputs(slot: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return SHAPES[slot % len(SHAPES)]

    def every_pair(fn):
        return lambda *_: [tuple(fn(a, b)) for a, b in SHAPES]

    compare_call(every_pair(bare(candidate.broadcast_shape)), every_pair(reference.broadcast_shape),
                 inputs, ("torch.broadcast_shapes", every_pair(torch.broadcast_shapes)),
                 note=f"{len(SHAPES)} pairs of shapes per call")


@pytest.mark.task("sliding_windows", category="values")
def test_sliding_windows(candidate, reference, device):
    def inputs(slot: int) -> tuple[torch.Tensor, int, int]:
        return randn((100_000,), slot, torch.float32, device), 64, 16

    compare_call(candidate.sliding_windows, reference.sliding_windows, inputs,
                 ("x.unfold(0, size, stride)", lambda x, size, step: x.unfold(0, size, step)),
                 note="x (100000,), size 64, stride 16")


@pytest.mark.task("tensor_nbytes", category="values")
def test_tensor_nbytes(candidate, reference):
    def inputs(slot: int) -> tuple[tuple[int, ...], torch.dtype]:
        return ((1024, 1024, 3), (torch.float32, torch.bfloat16)[slot % 2])

    def on_meta(shape: tuple[int, ...], dtype: torch.dtype) -> int:
        return torch.empty(shape, dtype=dtype, device="meta").nbytes

    compare_call(candidate.tensor_nbytes, reference.tensor_nbytes, inputs,
                 ("torch.empty(..., device='meta').nbytes", on_meta))


@pytest.mark.task("batched_outer", category="values")
def test_batched_outer(candidate, reference, device):
    def inputs(slot: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (randn((64, 256), 2 * slot, torch.float32, device),
                randn((64, 256), 2 * slot + 1, torch.float32, device))

    compare_call(candidate.batched_outer, reference.batched_outer, inputs,
                 ("torch.einsum('bn,bm->bnm')", lambda a, b: torch.einsum("bn,bm->bnm", a, b)),
                 note="a, b (64, 256) float32")
