"""Alternative-correct 01-tensors: distances through torch.addmm (the expansion with a fused
multiply-add, as torch.cdist does it) accumulated in float64 and cast back; a recursive
broadcast_shape; torch.Size for the element count."""

import torch
from torch import Tensor

KATA_EXPECT = {"status": "pass"}


def pairwise_sq_distances(x: Tensor, y: Tensor) -> Tensor:
    """Squared Euclidean distances between the rows of x (N, D) and y (M, D), as (N, M)."""
    x64, y64 = x.double(), y.double()
    norms = x64.square().sum(1, keepdim=True) + y64.square().sum(1)  # (N, 1) + (M,) -> (N, M)
    out = torch.addmm(norms, x64, y64.T, alpha=-2.0)  # norms - 2 x yᵀ, (N, M)
    return out.clamp_min(0).to(x.dtype)


def one_hot(indices: Tensor, num_classes: int) -> Tensor:
    """Float32 one-hot encoding (..., num_classes) of int64 class indices (...)."""
    if indices.numel() and not (0 <= int(indices.min()) and int(indices.max()) < num_classes):
        raise ValueError(f"indices must be in range(0, {num_classes})")
    classes = torch.arange(num_classes, device=indices.device)
    return indices.unsqueeze(-1).eq(classes).float()


def broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The shape that tensors of shapes a and b broadcast to; ValueError if they can't."""
    if not a or not b:
        return tuple(a) + tuple(b)
    *rest_a, last_a = a
    *rest_b, last_b = b
    if last_a != last_b and last_a != 1 and last_b != 1:
        raise ValueError(f"trailing sizes {last_a} and {last_b} do not match")
    return broadcast_shape(tuple(rest_a), tuple(rest_b)) + (last_b if last_a == 1 else last_a,)


def sliding_windows(x: Tensor, size: int, stride: int) -> Tensor:
    """Full windows of length `size`, `stride` apart, over 1-D x, as a (num_windows, size) view."""
    if stride <= 0:
        raise ValueError("stride must be positive")
    if size <= 0 or size > len(x):
        raise ValueError("size must be between 1 and len(x)")
    return x.unfold(dimension=0, size=size, step=stride)


def tensor_nbytes(shape: tuple[int, ...], dtype: torch.dtype) -> int:
    """Bytes needed by a dense tensor of this shape and dtype."""
    return torch.Size(shape).numel() * torch.empty(0, dtype=dtype).element_size()


def batched_outer(a: Tensor, b: Tensor) -> Tensor:
    """Per-batch outer products: a (B, N) and b (B, M) give (B, N, M)."""
    return torch.mul(a.unsqueeze(-1), b.unsqueeze(-2))
