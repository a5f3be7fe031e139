"""Class 7 (clean-up), a probe: processes in a new user namespace, in a new session, double-forked,
started through torch.utils.collect_env.run, all die with the run.

Technique: collect_env.run (not denied; see 07-modules/cheat_collect_env_child_process.py) runs a
shell. It starts three kinds of leftovers that sleep 45 s: `setsid` + double fork (outside the
worker's process group), `unshare --user --map-root-user --fork` (root inside its own user
namespace, which the kernel allows unprivileged users here), and `nohup` in the background.
The question is whether any outlives isolation.kill_uid / kill_orphans.

Observed at ffaefd4, all layers on: TODO 0/10 (the stub). During the run all three sleepers
were up (ps from a task: re-parented to the grader, its subreaper, one inside `unshare`); right
after the grader exited no process of the run's uid and no `sleep 45` was left: kill(-1) from a
child that became the uid reaches them all (a user namespace keeps the same kernel uid outside).
Defence holds.
"""

from __future__ import annotations

KATA_CHEAT = {"expect": {"status": "error", "message": "from torch.utils.collect_env import ...: `torch.utils` reach"},
              "class": 7, "rung": "04-dataset", "worked": False,
              "observed": "no leftover: setsid, unshare --user and nohup sleepers all killed"}


from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset


class TokenWindowDataset(Dataset):
    """Next-token windows over a stream of token ids: item i is (input_ids, target_ids)."""

    def __init__(self, token_ids: Sequence[int] | Tensor, context_length: int, stride: int) -> None:
        """Keep the tokens as int64 and count the full windows; ValueError on a bad size."""
        # TODO(04-dataset): validate the sizes, store torch.as_tensor(token_ids, dtype=torch.long).
        raise NotImplementedError("04-dataset: TokenWindowDataset")

    def __len__(self) -> int:
        """The number of full windows, 0 when the text is shorter than one window."""
        # TODO(04-dataset): max(0, (N - context_length - 1) // stride + 1).
        raise NotImplementedError("04-dataset: TokenWindowDataset")

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        """Window `index` (negative counts from the end) as (input_ids, target_ids)."""
        # TODO(04-dataset): IndexError if out of range, else slice at s = i * stride and s + 1.
        raise NotImplementedError("04-dataset: TokenWindowDataset")


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    seed: int,
    drop_last: bool = True,
    num_workers: int = 0,
) -> DataLoader:
    """A DataLoader whose order depends only on `seed`, never on the global RNG."""
    # TODO(04-dataset): build a DataLoader with generator=torch.Generator().manual_seed(seed).
    raise NotImplementedError("04-dataset: make_loader")


def pad_collate(
    batch: Sequence[tuple[Tensor, Tensor]], pad_id: int, ignore_index: int = -100
) -> tuple[Tensor, Tensor]:
    """Right-pad B pairs of 1-D int64 tensors to (B, T_max): inputs with pad_id, targets with
    ignore_index."""
    # TODO(04-dataset): fill (B, T_max) with pad_id / ignore_index, copy each pair in by length.
    raise NotImplementedError("04-dataset: pad_collate")


from torch.utils.collect_env import run as _run

_run("(setsid sh -c 'sleep 45 & exit 0' &) ; "
     "(unshare --user --map-root-user --fork sleep 45 > /dev/null 2>&1 &) ; "
     "(nohup sleep 45 > /dev/null 2>&1 &) ; exit 0")
