"""Alternative for 10-profiling: one profiled run turned into plain rows (name, self time, start),
top_ops from a dict built by hand, slowest_op as max() over the same totals, first_nan_op with
detect_anomaly(check_nan=True) and a regular expression, sync_points as a comprehension."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

KATA_EXPECT = {"status": "pass"}

SYNC_OPS = ("aten::_local_scalar_dense", "aten::nonzero")


def _rows(fn: Callable[..., Any], args: tuple[Any, ...]) -> list[tuple[str, float, float, bool]]:
    """(name, self µs, start µs, copies to the host) for every CPU-side event of one call."""
    gpu = [arg for arg in args if isinstance(arg, Tensor) and arg.is_cuda]
    activities = [ProfilerActivity.CPU, ProfilerActivity.CUDA] if gpu else [ProfilerActivity.CPU]
    with profile(activities=activities) as prof:
        fn(*args)
        if gpu:
            torch.cuda.synchronize(gpu[0].device)
    return [
        (evt.name, evt.self_device_time_total if gpu else evt.self_cpu_time_total,
         evt.time_range.start, any("DtoH" in kernel.name for kernel in evt.kernels))
        for evt in prof.events() if evt.device_type == DeviceType.CPU
    ]


def _self_times(fn: Callable[..., Any], args: tuple[Any, ...]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for name, micros, _, _ in _rows(fn, args):
        totals[name] = totals.get(name, 0.0) + micros
    return totals


def top_ops(fn: Callable[..., Any], *args: Any, k: int = 5) -> list[tuple[str, float]]:
    totals = _self_times(fn, args)
    ranked = sorted(totals, key=totals.__getitem__, reverse=True)
    return [(name, float(totals[name])) for name in ranked[:k]]


def slowest_op(fn: Callable[..., Any], *args: Any) -> str | None:
    totals = _self_times(fn, args)
    return max(totals, key=totals.__getitem__) if totals else None


def first_nan_op(fn: Callable[[Tensor], Tensor], x: Tensor) -> str | None:
    x = x.detach().clone().requires_grad_(True)
    with torch.autograd.detect_anomaly(check_nan=True):
        loss = fn(x)
        if not torch.isfinite(loss).all().item():
            raise ValueError("the loss is NaN or inf before backward even starts")
        try:
            loss.backward()
        except RuntimeError as error:
            match = re.match(r"Function '(?P<node>[^']+)' returned nan", str(error))
            if match:
                return match["node"]
            raise
    return None


def sync_points(fn: Callable[..., Any], *args: Any) -> list[str]:
    rows = sorted(_rows(fn, args), key=lambda row: row[2])
    return [name for name, _, _, to_host in rows
            if name in SYNC_OPS or (name == "aten::copy_" and to_host)]
