"""Speed as a ratio to the reference, measured in one process (research §8.4).

Both sides run on the same inputs, interleaved in pairs whose order alternates, on one thread,
timed with `time.process_time` on CPU (robust to other processes on a shared machine) and with
CUDA events after a device-wide synchronize on GPU. The verdict is the ratio of medians against a
band; a ratio inside the gray zone is re-measured by the runner in two fresh processes.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from time import process_time as _process_time  # taken before learner code exists
from typing import Any

import torch

from grader.bands import AS_FAST_AS_REFERENCE, VECTORIZED, Band  # noqa: F401  (re-exported)
from grader.harness import sandbox

IMPLAUSIBLY_FAST = 0.1

# The plugin copies this into the test's result record, so the runner sees every measured ratio.
last_measurement: dict[str, float] = {}


class SpeedGrayZone(Exception):
    """The ratio fell between the band's lines: the runner measures again in fresh processes."""

    def __init__(self, ratio: float, band: Band, message: str) -> None:
        super().__init__(message)
        self.ratio = ratio
        self.band = band


def _unwrap(fn: Callable[..., Any]) -> Callable[..., Any]:
    return getattr(fn, "__wrapped__", fn)


def _on_cuda(inputs: Sequence[tuple[Any, ...]]) -> bool:
    return any(isinstance(a, torch.Tensor) and a.is_cuda for args in inputs for a in args)


def _block_seconds(fn: Callable[..., Any], inputs: Sequence[tuple[Any, ...]], calls: int,
                   cuda: bool) -> float:
    """Seconds per call over a block of `calls` calls, rotating through the inputs.

    Every block runs on one torch thread: process_time counts all threads, so code that raised
    the thread count would make the other side's blocks look slow."""
    torch.set_num_threads(1)
    try:
        return _timed_block(fn, inputs, calls, cuda)
    finally:
        if torch.get_num_threads() != 1:
            raise sandbox.Tampered(sandbox.tamper_message(
                "the number of torch threads was changed while the code was timed"))


def _timed_block(fn: Callable[..., Any], inputs: Sequence[tuple[Any, ...]], calls: int,
                 cuda: bool) -> float:
    if cuda:
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for i in range(calls):
            fn(*inputs[i % len(inputs)])
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / 1000 / calls
    begin = _process_time()
    for i in range(calls):
        fn(*inputs[i % len(inputs)])
    return (_process_time() - begin) / calls


def _calibrate(fn: Callable[..., Any], inputs: Sequence[tuple[Any, ...]], cuda: bool,
               block_seconds: float) -> int:
    calls = 1
    while calls < 1 << 16 and _block_seconds(fn, inputs, calls, cuda) * calls < block_seconds:
        calls *= 2
    return calls


def measure_speed_ratio(
    candidate_fn: Callable[..., Any],
    reference_fn: Callable[..., Any],
    make_inputs: Callable[[int], tuple[Any, ...]],
    slots: int = 4,
    pairs: int = 15,
    block_seconds: float = 0.02,
) -> float:
    """median(candidate seconds per call) / median(reference seconds per call)."""
    candidate_fn, reference_fn = _unwrap(candidate_fn), _unwrap(reference_fn)
    inputs = [make_inputs(slot) for slot in range(slots)]
    cuda = _on_cuda(inputs)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # process_time counts every thread; one thread keeps it honest
    try:
        with sandbox.suspended():  # one integrity check before and after, none per call
            return _interleaved_ratio(candidate_fn, reference_fn, inputs, cuda, pairs,
                                      block_seconds)
    finally:
        torch.set_num_threads(threads)


def _interleaved_ratio(candidate_fn: Callable[..., Any], reference_fn: Callable[..., Any],
                       inputs: list[tuple[Any, ...]], cuda: bool, pairs: int,
                       block_seconds: float) -> float:
    slots = len(inputs)
    for fn in (candidate_fn, reference_fn):  # warm-up: caches, allocator, lazy init
        for i in range(3):
            fn(*inputs[i % slots])
    candidate_calls = _calibrate(candidate_fn, inputs, cuda, block_seconds)
    reference_calls = _calibrate(reference_fn, inputs, cuda, block_seconds)
    candidate_times: list[float] = []
    reference_times: list[float] = []
    for pair in range(pairs):
        sides = [(candidate_fn, candidate_calls, candidate_times),
                 (reference_fn, reference_calls, reference_times)]
        if pair % 2:
            sides.reverse()
        for fn, calls, times in sides:
            times.append(_block_seconds(fn, inputs, calls, cuda))
    return statistics.median(candidate_times) / statistics.median(reference_times)


def assert_speed_within(
    candidate_fn: Callable[..., Any],
    reference_fn: Callable[..., Any],
    make_inputs: Callable[[int], tuple[Any, ...]],
    band: Band = AS_FAST_AS_REFERENCE,
    what: str = "your code",
) -> float:
    """Fail when `candidate_fn` is slower than the band allows; return the measured ratio."""
    ratio = measure_speed_ratio(candidate_fn, reference_fn, make_inputs)
    last_measurement.clear()
    last_measurement.update(ratio=ratio, pass_at=band.pass_at, fail_above=band.fail_above)
    if ratio < IMPLAUSIBLY_FAST:
        raise AssertionError(
            f"{what}: measured {1 / ratio:.0f}× faster than the reference, which is not "
            "plausible for a correct implementation; does it cache results between calls?"
        )
    if ratio <= band.pass_at:
        return ratio
    message = (
        f"{what} took {ratio:.2f}× the reference's time (median of 15 interleaved timing "
        f"pairs); the limit is {band.pass_at}×. Look for a Python loop, work repeated on "
        f"every call, or synchronising calls (.item(), .cpu(), .tolist()) in the hot path."
    )
    if ratio > band.fail_above:
        raise AssertionError(message)
    raise SpeedGrayZone(ratio, band, message)


def median_seconds(
    functions: Sequence[Callable[..., Any]],
    make_inputs: Callable[[int], tuple[Any, ...]],
    slots: int = 2,
    rounds: int = 7,
    block_seconds: float = 0.01,
) -> list[float]:
    """Median seconds per call of each function on the same inputs (for `kata compare`).

    The same discipline as the speed checks: one thread, warm-up calls, calibrated blocks timed
    with process time (CUDA events on a GPU), rounds whose order rotates, integrity checked once
    before and once after rather than on every call."""
    functions = [_unwrap(fn) for fn in functions]
    inputs = [make_inputs(slot) for slot in range(slots)]
    cuda = _on_cuda(inputs)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with sandbox.suspended():
            for fn in functions:
                for i in range(2):
                    fn(*inputs[i % slots])
            calls = [_calibrate(fn, inputs, cuda, block_seconds) for fn in functions]
            times: list[list[float]] = [[] for _ in functions]
            for turn in range(rounds):
                order = list(range(len(functions)))
                order = order[turn % len(order):] + order[:turn % len(order)]
                for index in order:
                    times[index].append(_block_seconds(functions[index], inputs, calls[index],
                                                       cuda))
            return [statistics.median(seconds) for seconds in times]
    finally:
        torch.set_num_threads(threads)
