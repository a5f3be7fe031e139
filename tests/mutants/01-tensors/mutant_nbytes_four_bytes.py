"""Mutant of 01-tensors: tensor_nbytes assumes every element takes 4 bytes."""

import math

import torch
from torch import Tensor

KATA_EXPECT = {"status": "fail", "task": "tensor_nbytes", "category": "values", "message": ["4 bytes", "you assumed 4 bytes per element"], "not_message": ["you counted bits, not bytes", "you returned the number of elements"]}


def pairwise_sq_distances(x: Tensor, y: Tensor) -> Tensor:
    """Squared Euclidean distances between the rows of x (N, D) and y (M, D), as (N, M)."""
    diff = x[:, None, :] - y[None, :, :]  # (N, 1, D) - (1, M, D) -> (N, M, D)
    # Subtracting before squaring keeps full precision when the points sit far from the origin,
    # where ||x||² - 2 x·y + ||y||² loses digits to cancellation.
    return diff.pow(2).sum(dim=-1)  # (N, M)


def one_hot(indices: Tensor, num_classes: int) -> Tensor:
    """Float32 one-hot encoding (..., num_classes) of int64 class indices (...)."""
    # Check first: a bad index would otherwise just give a row of zeros.
    if indices.numel() > 0 and (indices.min() < 0 or indices.max() >= num_classes):
        raise ValueError(f"one_hot: indices must lie in [0, {num_classes})")
    classes = torch.arange(num_classes, device=indices.device)  # (C,)
    return (indices[..., None] == classes).to(torch.float32)  # (..., 1) == (C,) -> (..., C)


def broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The shape that tensors of shapes a and b broadcast to; ValueError if they can't."""
    rank = max(len(a), len(b))
    # Missing leading dimensions behave as size 1, so pad on the left and compare position-wise.
    a_padded = (1,) * (rank - len(a)) + tuple(a)
    b_padded = (1,) * (rank - len(b)) + tuple(b)
    result = []
    for size_a, size_b in zip(a_padded, b_padded, strict=True):
        if size_a != size_b and size_a != 1 and size_b != 1:
            raise ValueError(f"shapes {tuple(a)} and {tuple(b)} cannot be broadcast together")
        result.append(size_b if size_a == 1 else size_a)
    return tuple(result)


def sliding_windows(x: Tensor, size: int, stride: int) -> Tensor:
    """Full windows of length `size`, `stride` apart, over 1-D x, as a (num_windows, size) view."""
    (N,) = x.shape
    if not 1 <= size <= N:
        raise ValueError(f"sliding_windows: need 1 <= size <= {N}, got size={size}")
    if stride < 1:
        raise ValueError(f"sliding_windows: need stride >= 1, got stride={stride}")
    num_windows = (N - size) // stride + 1
    step = x.stride(0)  # x may itself be a strided view, e.g. base[::2]
    # Moving one window on skips `stride` elements; moving along a window skips one.
    return x.as_strided((num_windows, size), (stride * step, step))  # (num_windows, size)


def tensor_nbytes(shape: tuple[int, ...], dtype: torch.dtype) -> int:
    """Bytes needed by a dense tensor of this shape and dtype."""
    # math.prod(()) == 1: a 0-d tensor still holds one element.
    return math.prod(shape) * 4


def batched_outer(a: Tensor, b: Tensor) -> Tensor:
    """Per-batch outer products: a (B, N) and b (B, M) give (B, N, M)."""
    return a[:, :, None] * b[:, None, :]  # (B, N, 1) * (B, 1, M) -> (B, N, M)
