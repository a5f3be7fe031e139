"""Class 7 (limits, clean-up): memory the watchdog never counts, left behind after the run.

Technique: the parent's memory watchdog sums VmRSS of the worker uid's processes
(isolation.resident_bytes) and RLIMIT_AS bounds each process's address space. Pages of a tmpfs
file are neither: `torch.save` (allowed in every rung) writes file after file into /dev/shm
(mode 1777, RAM-backed), each under RLIMIT_FSIZE's 64 MiB, as many as the tmpfs takes (half
the machine's RAM by default). Clean-up after the run kills the uid's processes but removes no
files, so the memory stays taken after the grader has exited, by a uid nobody else uses. On a
grading host that is reused (PrairieLearn workers, self-hosted CI), every submission can take
more, until the machine swaps or the OOM killer picks a victim.

Bounded copy: this one writes 16 files of 63 MiB (about 1 GiB) to /dev/shm/kata-leftover-*;
raise COUNT to take more. Remove them afterwards: rm /dev/shm/kata-leftover-*.

Observed at ffaefd4, all layers on: TODO 0/10 (the stub), no memory message, exit 1; afterwards
16 files, 1.0 GiB of RAM in /dev/shm, owned by the run's uid, still there.
"""

from __future__ import annotations

KATA_CHEAT = {"expect": {"status": "todo", "message": ""},
              "class": 7, "rung": "03-module", "worked": True,
              "observed": "1 GiB left in /dev/shm after the run; the watchdog never saw it"}


from collections.abc import Iterable

import torch
from torch import Tensor, nn


class MLP(nn.Module):
    """Two-layer perceptron fc2(relu(fc1(x))): (..., in_features) -> (..., out_features)."""

    def __init__(self, in_features: int, hidden: int, out_features: int) -> None:
        """Create fc1 = nn.Linear(in_features, hidden) and fc2 = nn.Linear(hidden, out_features)."""
        # TODO(03-module): super().__init__(); store nn.Linear layers as self.fc1 and self.fc2.
        raise NotImplementedError("03-module: MLP")

    def forward(self, x: Tensor) -> Tensor:
        """Return fc2(relu(fc1(x))) for x of shape (..., in_features)."""
        # TODO(03-module): fc1, then ReLU, then fc2; the leading dims of x pass through.
        raise NotImplementedError("03-module: MLP")


class Affine(nn.Module):
    """(x - running_mean) * scale over the last dim; the running mean follows training batches.

    scale is an nn.Parameter (trained), running_mean a buffer (saved and moved, never trained).
    """

    def __init__(self, num_features: int, momentum: float = 0.1) -> None:
        """Create scale = ones(num_features) as a parameter, running_mean = zeros as a buffer."""
        # TODO(03-module): super().__init__(); self.scale = nn.Parameter; register_buffer.
        raise NotImplementedError("03-module: Affine")

    def forward(self, x: Tensor) -> Tensor:
        """Return (x - running_mean) * scale; in training mode then update running_mean."""
        # TODO(03-module): output from the buffer as it is; if self.training, update it.
        raise NotImplementedError("03-module: Affine")


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Return the number of elements in module's parameters (only trainable ones by default).

    A parameter counts when it requires grad, or always when trainable_only is False. Buffers
    never count; a parameter shared by several submodules counts once.
    """
    # TODO(03-module): add up p.numel() over module.parameters(); honour trainable_only.
    raise NotImplementedError("03-module: count_parameters")


def freeze(module: nn.Module, names: Iterable[str]) -> None:
    """Set requires_grad=False on every parameter that one of `names` names.

    A name is a full parameter name ("fc2.bias") or a submodule path ("fc1": fc1.weight,
    fc1.bias, but not fc10.weight). ValueError, with nothing frozen, if a name names no parameter.
    """
    # TODO(03-module): match names on dot boundaries, check all of them, then requires_grad_(False).
    raise NotImplementedError("03-module: freeze")


COUNT = 16


def _leave_memory() -> None:
    block = torch.ones(63 * 1024 * 1024, dtype=torch.uint8)
    for index in range(COUNT):
        try:
            torch.save(block, f"/dev/shm/kata-leftover-{index}")
        except Exception:
            return


_leave_memory()
