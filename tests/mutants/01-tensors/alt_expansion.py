"""Alternative-correct 01-tensors: the expansion ||x||² - 2 x·y + ||y||² (clamped), unfold for the
windows, rows of an identity matrix for one_hot, bmm for the outer products."""

from itertools import zip_longest

import torch
from torch import Tensor

KATA_EXPECT = {"status": "pass"}


def pairwise_sq_distances(x: Tensor, y: Tensor) -> Tensor:
    """Squared Euclidean distances between the rows of x (N, D) and y (M, D), as (N, M)."""
    sq_x = x.pow(2).sum(dim=-1, keepdim=True)  # (N, 1)
    sq_y = y.pow(2).sum(dim=-1)  # (M,)
    cross = x @ y.T  # (N, M)
    # Rounding can push the difference of large, nearly equal terms below zero.
    return (sq_x - 2 * cross + sq_y).clamp_min(0)  # (N, M)


def one_hot(indices: Tensor, num_classes: int) -> Tensor:
    """Float32 one-hot encoding (..., num_classes) of int64 class indices (...)."""
    bad = (indices < 0) | (indices >= num_classes)
    if bad.any():
        raise ValueError(f"index {indices[bad][0].item()} is outside [0, {num_classes})")
    identity = torch.eye(num_classes, dtype=torch.float32, device=indices.device)  # (C, C)
    return identity[indices]  # (..., C)


def broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The shape that tensors of shapes a and b broadcast to; ValueError if they can't."""
    sizes = []
    for size_a, size_b in zip_longest(reversed(a), reversed(b), fillvalue=1):
        if size_a == 1:
            sizes.append(size_b)
        elif size_b == 1 or size_a == size_b:
            sizes.append(size_a)
        else:
            raise ValueError(f"{a} and {b} do not broadcast")
    return tuple(reversed(sizes))


def sliding_windows(x: Tensor, size: int, stride: int) -> Tensor:
    """Full windows of length `size`, `stride` apart, over 1-D x, as a (num_windows, size) view."""
    if size < 1 or size > x.shape[0] or stride < 1:
        raise ValueError(f"bad window size {size} or stride {stride} for length {x.shape[0]}")
    return x.unfold(0, size, stride)  # (num_windows, size), a view


def tensor_nbytes(shape: tuple[int, ...], dtype: torch.dtype) -> int:
    """Bytes needed by a dense tensor of this shape and dtype."""
    count = 1
    for side in shape:
        count *= side
    return count * torch.empty((), dtype=dtype).element_size()


def batched_outer(a: Tensor, b: Tensor) -> Tensor:
    """Per-batch outer products: a (B, N) and b (B, M) give (B, N, M)."""
    return torch.bmm(a.unsqueeze(2), b.unsqueeze(1))  # (B, N, 1) @ (B, 1, M) -> (B, N, M)
