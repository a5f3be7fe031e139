"""Alternative for 10-profiling: the older torch.autograd.profiler.profile API, aggregation by
hand with a Counter and heapq.nlargest, anomaly mode switched with set_detect_anomaly and its
message split on quotes, syncs found by walking the event tree depth-first."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor
from torch.autograd import DeviceType
from torch.autograd.profiler import profile
from torch.autograd.profiler_util import FunctionEvent

KATA_EXPECT = {"status": "pass"}

SYNC_OPS = ("aten::_local_scalar_dense", "aten::nonzero")


def _events(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[list[FunctionEvent], bool]:
    cuda = any(isinstance(arg, Tensor) and arg.device.type == "cuda" for arg in args)
    with profile(use_device="cuda" if cuda else None) as prof:
        fn(*args)
        if cuda:
            torch.cuda.synchronize()
    return [evt for evt in prof.function_events if evt.device_type == DeviceType.CPU], cuda


def top_ops(fn: Callable[..., Any], *args: Any, k: int = 5) -> list[tuple[str, float]]:
    events, cuda = _events(fn, args)
    totals: Counter[str] = Counter()
    for evt in events:
        totals[evt.name] += evt.self_device_time_total if cuda else evt.self_cpu_time_total
    return [(name, float(us)) for name, us in heapq.nlargest(k, totals.items(),
                                                              key=lambda item: item[1])]


def slowest_op(fn: Callable[..., Any], *args: Any) -> str | None:
    best = top_ops(fn, *args, k=1)
    return best[0][0] if len(best) == 1 else None


def first_nan_op(fn: Callable[[Tensor], Tensor], x: Tensor) -> str | None:
    leaf = x.clone().detach().requires_grad_()
    previous = torch.is_anomaly_enabled()
    torch.autograd.set_detect_anomaly(True)
    try:
        loss = fn(leaf)
        if torch.isnan(loss).any() or torch.isinf(loss).any():
            raise ValueError("fn(x) is not finite: the NaN starts in the forward pass")
        try:
            (grad,) = torch.autograd.grad(loss, leaf)
        except RuntimeError as error:
            message = str(error)
            if "returned nan values" not in message:
                raise
            return message.split("'")[1]
        return None
    finally:
        torch.autograd.set_detect_anomaly(previous)


def _depth_first(events: list[FunctionEvent]) -> Iterator[FunctionEvent]:
    for evt in sorted(events, key=lambda evt: evt.time_range.start):
        yield evt
        yield from _depth_first(evt.cpu_children)


def sync_points(fn: Callable[..., Any], *args: Any) -> list[str]:
    events, cuda = _events(fn, args)
    roots = [evt for evt in events if evt.cpu_parent is None]
    found = []
    for evt in _depth_first(roots):
        to_host = cuda and evt.name == "aten::copy_" and any(
            kernel.name.startswith("Memcpy DtoH") for kernel in evt.kernels)
        if evt.name in SYNC_OPS or to_host:
            found.append(evt.name)
    return found
