"""Hypothesis strategies shared by the specs: small shapes plus a seed, never element lists.

Drawing a shape and a seed (then building values with a private torch.Generator) keeps examples
fast, makes the first draw the smallest shape (the grader's profile does not shrink: a mistake that
shows on every input is reported on that first, smallest draw), and keeps learner code from
predicting inputs by reseeding the global RNG.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

MAX_SEED = 2**31 - 1


def seeds() -> st.SearchStrategy[int]:
    return st.integers(0, MAX_SEED)


def sizes(min_value: int = 1, max_value: int = 6) -> st.SearchStrategy[int]:
    return st.integers(min_value, max_value)


def small_shapes(
    min_dims: int = 1, max_dims: int = 3, min_side: int = 1, max_side: int = 5
) -> st.SearchStrategy[tuple[int, ...]]:
    return st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims).map(
        tuple
    )


def randn(
    shape: tuple[int, ...],
    seed: int,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
    scale: float = 1.0,
    offset: float = 0.0,
) -> torch.Tensor:
    """Normal values from a private generator: one (shape, seed), one tensor, always."""
    generator = torch.Generator().manual_seed(seed)
    values = torch.randn(shape, generator=generator, dtype=torch.float64) * scale + offset
    return values.to(dtype=dtype, device=device)
