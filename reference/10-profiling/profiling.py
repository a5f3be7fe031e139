"""10-profiling: where the time goes, where NaNs start, and where the GPU waits.

Guessing why a step is slow, or why a loss went NaN, wastes days; measuring takes minutes. You
build four small tools on PyTorch's own instruments: torch.profiler, which times every op a
piece of code runs, and anomaly mode, which checks every gradient as backward computes it.

Every tool takes a callable `fn` and the arguments to call it with, runs `fn(*args)` exactly
once (a profiled training step must not take two steps; warm up before you call), and
reports on that one run. Op names are the keys torch.profiler reports: "aten::mm",
"aten::addmm", "aten::sort", or the name of a torch.profiler.record_function region.

1. top_ops(fn, *args, k=5) -> list[tuple[str, float]]
   Profile fn(*args) with torch.profiler.profile and aggregate with prof.key_averages(): one
   entry per op name, its times summed over every call. Return the k entries with the largest
   SELF time, as (name, self time in microseconds) pairs, largest first, at most one pair per
   name (fewer than k when fn ran fewer distinct ops).

       self time  = time inside the op itself             evt.self_cpu_time_total
       total time = self time + the ops it called          evt.cpu_time_total

   `a @ b` runs aten::matmul, which calls aten::mm: matmul's total time contains all of mm's,
   its self time is a few microseconds of bookkeeping. Rank by total time and the outermost
   wrapper (aten::matmul, aten::linear, a record_function region) always wins; rank by self
   time and the op that did the work does. Sum over calls: an op called 500 times at 30 µs
   costs more than one op called once at 1 ms.
   On CUDA (any tensor in args on a GPU) profile ProfilerActivity.CUDA as well and rank by the
   GPU time of the kernels each op launched itself, evt.self_device_time_total, leaving out the
   kernels' own entries (keep entries with evt.device_type == DeviceType.CPU): a GPU op's CPU
   time is only its launch.

2. slowest_op(fn, *args) -> str | None
   The name of the op with the largest self time, the first name top_ops would return: where
   an optimisation would pay off. None when fn ran no op at all.

3. first_nan_op(fn, x) -> str | None
   fn(x) returns a scalar loss. Run forward and backward (on a detached copy of x that requires
   grad) under torch.autograd.detect_anomaly(). Anomaly mode checks the output of every backward
   function as it runs and raises a RuntimeError at the first that contains NaN:

       Function 'SqrtBackward0' returned nan values in its 0th output.

   Return that autograd node's name ("SqrtBackward0"), or None when backward finishes with no
   NaN. Two things anomaly mode does not do, and neither does first_nan_op:
   - it checks NaN, not inf: sqrt'(0) = inf is not reported; the op whose backward then turns
     that inf into NaN (0 * inf) is;
   - it checks backward only. A forward value that is already NaN surfaces in backward at some
     later op that uses it, not where it started. So if the loss fn(x) is already NaN or inf,
     raise ValueError instead of answering: that is a forward bug, and the place to look is the
     forward pass.
   The classic backward-only NaN: torch.where(h > 0, h.sqrt(), 0) at h == 0. The forward is
   fine (the where picks 0), but backward still runs sqrt's gradient, 0 / (2 * sqrt(0)) = NaN.

4. sync_points(fn, *args) -> list[str]
   Host-device synchronisations: places where the CPU has to wait for the GPU to finish, because
   it needs a value the GPU computes. Each one stalls the launch queue; a training step should
   have almost none. Return one name per sync, in the order they ran:
   - "aten::_local_scalar_dense": a tensor value copied to Python (.item(), float(t), int(t),
     bool(t), `if t > 0:`, and the same inside other ops: torch.allclose, masked_select, ...);
   - "aten::nonzero": an output whose size depends on the data (torch.nonzero, torch.where
     with one argument, boolean-mask indexing x[mask], which calls nonzero inside);
   - on CUDA also "aten::copy_" for each copy from GPU to CPU memory (.cpu(), .tolist(),
     .to("cpu")); the profiler shows it as an aten::copy_ whose GPU activity is a
     "Memcpy DtoH".
   On the CPU nothing really waits, but the same ops run, so you find them the same way: profile
   fn, walk prof.events() (every single call, nested ones too) in order of their start time
   (evt.time_range.start), keep the names in SYNC_OPS. Count each sync once: .item() shows up
   as aten::item calling aten::_local_scalar_dense, and only the latter counts. A
   TorchDispatchMode sees only the outermost op (x[mask] is one aten::index to it), so it
   misses the syncs inside other ops; the profiler records them.

Worked example (the times vary from run to run; the names do not):

    >>> import torch
    >>> a, b = torch.randn(512, 2048), torch.randn(2048, 512)  # the matmul dwarfs the rest
    >>> def step(a, b):
    ...     c = (a @ b).relu()
    ...     return c.sum().item()
    >>> [name for name, _ in top_ops(step, a, b, k=1)]
    ['aten::mm']
    >>> slowest_op(step, a, b)
    'aten::mm'
    >>> sync_points(step, a, b)
    ['aten::_local_scalar_dense']
    >>> def norm(x):
    ...     h = torch.relu(x)
    ...     return torch.where(h > 0, h.sqrt(), torch.zeros_like(h)).sum()
    >>> first_nan_op(norm, torch.tensor([-1.0, 4.0]))
    'SqrtBackward0'
    >>> first_nan_op(norm, torch.tensor([1.0, 4.0])) is None
    True

Rules: use torch.profiler for top_ops, slowest_op and sync_points and
torch.autograd.detect_anomaly for first_nan_op; no timing with time.perf_counter. Call fn once.
Leave the inputs unchanged.

Check your work with `./kata check 10-profiling`; stuck? see the hints in README.md
(or `./kata hint 10-profiling`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

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
        (evt.key, float(evt.self_device_time_total if cuda else evt.self_cpu_time_total))
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
            syncs.append("aten::copy_")  # a GPU -> CPU copy: the host waits for the data
    return syncs
