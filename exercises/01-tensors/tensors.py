"""01-tensors: broadcasting, views and memory.

Six small functions, each one or two tensor expressions once the shapes are right. Write the
shape of every intermediate next to it; that is most of the work.

pairwise_sq_distances(x, y)
    x is (N, D), y is (M, D); return the (N, M) matrix out[i, j] = sum_d (x[i, d] - y[j, d])**2.
    Broadcast (N, 1, D) against (1, M, D), or expand ||x - y||² = ||x||² - 2 x·y + ||y||². The
    result keeps the input dtype and must be accurate to that dtype, also for points far from
    the origin, and never negative. No Python loops.

one_hot(indices, num_classes)
    indices is int64 of any shape (...); return float32 (..., num_classes) with a 1.0 at each
    index and 0.0 elsewhere. Raise ValueError if an index is negative or >= num_classes.

broadcast_shape(a, b)
    The shape that a tensor of shape a combined with one of shape b broadcasts to. Line the
    shapes up from the right, padding the shorter with 1s on the left; in each position the two
    sizes must be equal or one of them 1, and the result takes the size that is not 1 (so 1
    against 0 gives 0). Return a tuple of ints; raise ValueError when the shapes don't fit.

sliding_windows(x, size, stride)
    x is 1-D (N,); return (num_windows, size) with row w = x[w*stride : w*stride + size] and
    num_windows = (N - size) // stride + 1 (only full windows). The result must be a view that
    shares x's storage: writing to x shows up in the windows. Raise ValueError unless
    1 <= size <= N and stride >= 1. x need not be contiguous.

tensor_nbytes(shape, dtype)
    The number of bytes a dense tensor of that shape and dtype needs: the number of elements
    (the product of the shape, 1 for shape ()) times the bytes per element (float32 4,
    bfloat16 2, int8 1, bool 1, ...). Compute it from the shape; don't allocate the tensor.

batched_outer(a, b)
    a is (B, N), b is (B, M); return (B, N, M) with out[k, i, j] = a[k, i] * b[k, j].

Worked example:

    >>> import torch
    >>> x = torch.tensor([[0.0, 0.0], [1.0, 2.0]])
    >>> y = torch.tensor([[3.0, 4.0]])
    >>> pairwise_sq_distances(x, y)
    tensor([[25.],
            [ 8.]])
    >>> one_hot(torch.tensor([2, 0]), 3)
    tensor([[0., 0., 1.],
            [1., 0., 0.]])
    >>> broadcast_shape((8, 1, 3), (5, 1))
    (8, 5, 3)
    >>> sliding_windows(torch.arange(7), size=3, stride=2)
    tensor([[0, 1, 2],
            [2, 3, 4],
            [4, 5, 6]])
    >>> tensor_nbytes((1024, 768), torch.bfloat16)
    1572864
    >>> batched_outer(torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 4.0, 5.0]]))
    tensor([[[ 3.,  4.,  5.],
             [ 6.,  8., 10.]]])

Rules:
- No Python loops over the elements, rows or dimensions of a tensor: the grader counts the
  tensor operations you run, and the count must not grow with N, M, D, the number of indices
  or the batch size.
- pairwise_sq_distances: don't call torch.cdist. one_hot: don't call
  torch.nn.functional.one_hot. Both are what you are building.
- broadcast_shape is plain Python on tuples of ints: no torch.broadcast_shapes or
  torch.broadcast_tensors, and no tensors created just to ask torch.
- Don't modify the input tensors.

Check your work with `./kata check 01-tensors`; stuck? `./kata hint 01-tensors`.
"""

import math

import torch
from torch import Tensor


def pairwise_sq_distances(x: Tensor, y: Tensor) -> Tensor:
    """Squared Euclidean distances between the rows of x (N, D) and y (M, D), as (N, M)."""
    # TODO(01-tensors): broadcast x against y to (N, M, D), square, sum over D.
    raise NotImplementedError("01-tensors: pairwise_sq_distances")


def one_hot(indices: Tensor, num_classes: int) -> Tensor:
    """Float32 one-hot encoding (..., num_classes) of int64 class indices (...)."""
    # TODO(01-tensors): reject bad indices, then compare them with torch.arange(num_classes).
    raise NotImplementedError("01-tensors: one_hot")


def broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The shape that tensors of shapes a and b broadcast to; ValueError if they can't."""
    # TODO(01-tensors): pad the shorter shape on the left, then compare position by position.
    raise NotImplementedError("01-tensors: broadcast_shape")


def sliding_windows(x: Tensor, size: int, stride: int) -> Tensor:
    """Full windows of length `size`, `stride` apart, over 1-D x, as a (num_windows, size) view."""
    # TODO(01-tensors): validate size and stride, then build a view with as_strided (or unfold).
    raise NotImplementedError("01-tensors: sliding_windows")


def tensor_nbytes(shape: tuple[int, ...], dtype: torch.dtype) -> int:
    """Bytes needed by a dense tensor of this shape and dtype."""
    # TODO(01-tensors): multiply the number of elements by the size of one element.
    raise NotImplementedError("01-tensors: tensor_nbytes")


def batched_outer(a: Tensor, b: Tensor) -> Tensor:
    """Per-batch outer products: a (B, N) and b (B, M) give (B, N, M)."""
    # TODO(01-tensors): give a and b singleton dims so (B, N, 1) * (B, 1, M) broadcasts.
    raise NotImplementedError("01-tensors: batched_outer")
