"""Alternative-correct 01-tensors: einsum for the sums of products, torch.as_strided with an
explicit storage offset for the windows, scatter for one_hot, indexing from the right for
broadcasting."""

import functools
import operator

import torch
from torch import Tensor

KATA_EXPECT = {"status": "pass"}


def pairwise_sq_distances(x: Tensor, y: Tensor) -> Tensor:
    """Squared Euclidean distances between the rows of x (N, D) and y (M, D), as (N, M)."""
    diff = x.unsqueeze(1) - y.unsqueeze(0)  # (N, M, D)
    return torch.einsum("nmd,nmd->nm", diff, diff)  # (N, M)


def one_hot(indices: Tensor, num_classes: int) -> Tensor:
    """Float32 one-hot encoding (..., num_classes) of int64 class indices (...)."""
    if torch.any(indices < 0) or torch.any(indices >= num_classes):
        raise ValueError("one_hot: index out of range")
    out = torch.zeros(*indices.shape, num_classes, dtype=torch.float32, device=indices.device)
    return out.scatter_(-1, indices.unsqueeze(-1), 1.0)  # (..., C)


def broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The shape that tensors of shapes a and b broadcast to; ValueError if they can't."""
    rank = max(len(a), len(b))
    result = [0] * rank
    for offset in range(1, rank + 1):
        size_a = a[-offset] if offset <= len(a) else 1
        size_b = b[-offset] if offset <= len(b) else 1
        if 1 not in (size_a, size_b) and size_a != size_b:
            raise ValueError(f"size {size_a} and size {size_b} clash at dim -{offset}")
        result[-offset] = size_a if size_b == 1 else size_b
    return tuple(result)


def sliding_windows(x: Tensor, size: int, stride: int) -> Tensor:
    """Full windows of length `size`, `stride` apart, over 1-D x, as a (num_windows, size) view."""
    n = x.shape[0]
    if not (1 <= size <= n and stride >= 1):
        raise ValueError("sliding_windows: need 1 <= size <= len(x) and stride >= 1")
    count = 1 + (n - size) // stride
    step = x.stride(0)
    return torch.as_strided(x, (count, size), (stride * step, step), x.storage_offset())


def tensor_nbytes(shape: tuple[int, ...], dtype: torch.dtype) -> int:
    """Bytes needed by a dense tensor of this shape and dtype."""
    return functools.reduce(operator.mul, shape, 1) * dtype.itemsize


def batched_outer(a: Tensor, b: Tensor) -> Tensor:
    """Per-batch outer products: a (B, N) and b (B, M) give (B, N, M)."""
    return torch.einsum("bn,bm->bnm", a, b)
