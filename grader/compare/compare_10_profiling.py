"""`kata compare 10-profiling`: what the profiler says, read by the learner and by the reference.

Run by the grader's worker like a spec (grader/harness/comparison_row.py says how a row travels).
Profiled times differ from run to run, so the rows compare names: the same ops, the same order.
"""

from __future__ import annotations

import pytest
import torch

from grader.harness.comparison_row import bare, compare_call
from grader.strategies import randn


def _names(fn):
    """top_ops without its times, which no two profiles share: the top op (the matmul, far
    ahead of the rest) and how many came back; the order of the others varies run to run."""
    def run(*args):
        names = [name for name, _ in fn(*args, k=3)]
        return names[:1], len(names)
    return run


def _workload(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a @ b).relu().sum()


def _with_syncs(x: torch.Tensor) -> torch.Tensor:
    if bool(x.sum() > 0):  # .item() underneath: one sync
        x = x * 2
    return x[x > 0].sum()  # nonzero: another


def _nan_loss(x: torch.Tensor) -> torch.Tensor:
    return (x - x.detach()).sqrt().sum()


pytestmark = pytest.mark.rung("10-profiling")


def _matrices(device):
    def inputs(slot: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (randn((256, 256), 2 * slot, torch.float32, device),
                randn((256, 256), 2 * slot + 1, torch.float32, device))
    return inputs


@pytest.mark.task("top_ops", category="values")
def test_top_ops(candidate, reference, device):
    inputs = _matrices(device)
    compare_call(lambda a, b: _names(bare(candidate.top_ops))(_workload, a, b),
                 lambda a, b: _names(reference.top_ops)(_workload, a, b), inputs,
                 note="the first of the top 3 ops of (a @ b).relu().sum(), and how many")


@pytest.mark.task("slowest_op", category="values")
def test_slowest_op(candidate, reference, device):
    inputs = _matrices(device)
    compare_call(lambda a, b: bare(candidate.slowest_op)(_workload, a, b),
                 lambda a, b: reference.slowest_op(_workload, a, b), inputs,
                 note="(a @ b).relu().sum()")


@pytest.mark.task("first_nan_op", category="values")
def test_first_nan_op(candidate, reference, device):
    compare_call(candidate.first_nan_op, reference.first_nan_op,
                 lambda slot: (_nan_loss, randn((64,), slot, torch.float32, device)),
                 note="sqrt of an exact zero: NaN in backward only")


@pytest.mark.task("sync_points", category="values")
def test_sync_points(candidate, reference, device):
    compare_call(lambda x: bare(candidate.sync_points)(_with_syncs, x),
                 lambda x: reference.sync_points(_with_syncs, x),
                 lambda slot: (randn((4096,), slot, torch.float32, device),),
                 note="a Python if on a tensor and a boolean mask")
