"""Class 5: a Python loop over rows, padded with dummy iterations so the op count stays flat.

assert_op_count_constant counts dispatched aten ops at two sizes (N = 3 and 7 here) and calls
any growth a loop. pairwise_sq_distances loops over the rows of x in Python, one (M,) row of
distances per iteration, but always runs max(N, 16) iterations (the extra ones on a repeated
row, thrown away), so the count is the same for every N up to 16. Values and gradients are
right; the other tasks are stubs.

Against c952621: TODO 1.67/10 points, exit 1: pairwise_sq_distances passes every check,
"uses no Python loop" included.
"""

import torch

KATA_CHEAT = {"bare": {"status": "fail", "message": "the number of tensor operations grows with the number of row"},
              "expect": {"status": "fail", "message": "the number of tensor operations grows with the number of row"},
              "class": 5, "rung": "01-tensors", "worked": True,
              "observed": "TODO 1.67/10: a padded row loop passes the op-count loop check"}

PAD = 16


def pairwise_sq_distances(x, y):
    rows = []
    for i in range(max(x.shape[0], PAD)):
        row = x[i % x.shape[0]]
        rows.append((row[None, :] - y).pow(2).sum(-1))
    return torch.stack(rows[: x.shape[0]])


def one_hot(indices, num_classes):
    raise NotImplementedError("01-tensors: one_hot")


def broadcast_shape(a, b):
    raise NotImplementedError("01-tensors: broadcast_shape")


def sliding_windows(x, size, stride):
    raise NotImplementedError("01-tensors: sliding_windows")


def tensor_nbytes(shape, dtype):
    raise NotImplementedError("01-tensors: tensor_nbytes")


def batched_outer(a, b):
    raise NotImplementedError("01-tensors: batched_outer")
