"""10-profiling mutant: top_ops ranks by self time per call instead of summed over calls.

A copy of the reference with this one mistake; the grader must fail it as KATA_EXPECT says.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

KATA_EXPECT = {"status": "fail", "task": "top_ops", "category": "values",
               "message": "is the slowest per call",
               "not_message": "the op with the largest total time"}

# The ops that make the host wait for the device (see 4. above). On CUDA, sync_points also
# reports "aten::copy_" for copies from GPU to CPU memory.
SYNC_OPS = ("aten::_local_scalar_dense", "aten::nonzero")

# anomaly mode's error: "Function 'SqrtBackward0' returned nan values in its 0th output."
_ANOMALY = re.compile(r"Function '(\w+)' returned nan values")


def _on_cuda(args: tuple[Any, ...]) -> bool:
    return any(isinstance(arg, Tensor) and arg.is_cuda for arg in args)


def _profile_once(fn: Callable[..., Any], args: tuple[Any, ...]) -> profile:
    """Run fn(*args) once under the profiler; on CUDA wait for the GPU inside the window."""
    cuda = _on_cuda(args)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        fn(*args)
        if cuda:
            torch.cuda.synchronize()  # kernels still queued at exit would be cut off
    return prof


def top_ops(fn: Callable[..., Any], *args: Any, k: int = 5) -> list[tuple[str, float]]:
    """Profile fn(*args) once; return the k (op name, self time in µs) pairs with the largest
    self time, summed over calls, largest first, one pair per name.

    Self time is CPU time (evt.self_cpu_time_total), or GPU time (evt.self_device_time_total)
    when a tensor in args is on CUDA.
    """
    cuda = _on_cuda(args)
    prof = _profile_once(fn, args)
    rows = [
        # self, not total: a wrapper's total time contains the op that did the work
        (evt.key, float(evt.self_device_time_total if cuda else evt.self_cpu_time_total)
         / evt.count)
        for evt in prof.key_averages()  # one entry per name, summed over its calls
        # GPU kernels and memcpys have entries of their own; their time is already counted in
        # the op that launched them
        if evt.device_type == DeviceType.CPU
    ]
    rows.sort(key=lambda row: row[1], reverse=True)
    return rows[:k]


def slowest_op(fn: Callable[..., Any], *args: Any) -> str | None:
    """The name of the op with the largest self time in fn(*args); None when fn ran no op."""
    top = top_ops(fn, *args, k=1)
    return top[0][0] if top else None


def first_nan_op(fn: Callable[[Tensor], Tensor], x: Tensor) -> str | None:
    """The autograd node whose backward first returned NaN for the scalar loss fn(x), as anomaly
    mode names it ("SqrtBackward0"); None when backward has no NaN.

    Raises ValueError when the loss fn(x) itself is NaN or inf: that is a forward-pass bug.
    """
    leaf = x.detach().requires_grad_(True)  # a leaf of our own: the caller's x stays as it was
    with torch.autograd.detect_anomaly():
        loss = fn(leaf)
        if not bool(torch.isfinite(loss).all()):
            raise ValueError(
                f"the loss is already {loss.item()} after the forward pass; anomaly mode "
                "checks backward only, so look for the NaN in the forward pass"
            )
        try:
            loss.backward()
        except RuntimeError as error:
            found = _ANOMALY.search(str(error))
            if found is None:  # some other failure: not ours to hide
                raise
            return found.group(1)
    return None


def sync_points(fn: Callable[..., Any], *args: Any) -> list[str]:
    """The host-device synchronisations in fn(*args), one op name per sync, in the order they
    ran: every "aten::_local_scalar_dense" and "aten::nonzero", nested calls included, and on
    CUDA every "aten::copy_" from GPU to CPU memory.
    """
    prof = _profile_once(fn, args)
    syncs = []
    # events(), not key_averages(): every call on its own, nested ones included, so the order
    # and the count survive
    for evt in sorted(prof.events(), key=lambda evt: evt.time_range.start):
        if evt.device_type != DeviceType.CPU:
            continue
        if evt.name in SYNC_OPS:
            syncs.append(evt.name)
        elif evt.name == "aten::copy_" and any("DtoH" in kernel.name for kernel in evt.kernels):
            syncs.append(evt.name)  # a GPU -> CPU copy: the host waits for the data
    return syncs
