"""Class 5: the banned op runs in a forked helper: a DataLoader worker process.

one_hot must not call torch.nn.functional.one_hot. Each call builds a one-item Dataset whose
__getitem__ calls F.one_hot, and a DataLoader with num_workers=1 forks a worker process to run
it; the result comes back through shared memory. The recorders watch this process's dispatch,
not the worker's: no banned op, no growing count. (Argument checks, which the spec wants as a
ValueError, are done here, in the parent.) The other tasks are stubs.

Against c952621: TODO 1.67/10 points, exit 1: one_hot passes every check, "does not call the
builtin" included.
"""

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

KATA_CHEAT = {"expect": {"status": "error", "message": "from torch.utils.data import ...: `torch.utils` reaches past"},
              "class": 5, "rung": "01-tensors", "worked": True,
              "observed": "TODO 1.67/10: F.one_hot in a DataLoader worker passes the ban"}


class _Job(Dataset):
    def __init__(self, indices, num_classes):
        self.indices, self.num_classes = indices, num_classes

    def __len__(self):
        return 1

    def __getitem__(self, i):
        return F.one_hot(self.indices, self.num_classes).to(torch.float32)


def one_hot(indices, num_classes):
    if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= num_classes):
        raise ValueError("index out of range")
    loader = DataLoader(_Job(indices, num_classes), batch_size=None, num_workers=1)
    return next(iter(loader))


def pairwise_sq_distances(x, y):
    raise NotImplementedError("01-tensors: pairwise_sq_distances")


def broadcast_shape(a, b):
    raise NotImplementedError("01-tensors: broadcast_shape")


def sliding_windows(x, size, stride):
    raise NotImplementedError("01-tensors: sliding_windows")


def tensor_nbytes(shape, dtype):
    raise NotImplementedError("01-tensors: tensor_nbytes")


def batched_outer(a, b):
    raise NotImplementedError("01-tensors: batched_outer")
