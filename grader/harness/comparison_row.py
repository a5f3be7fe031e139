"""One row of `kata compare`: the learner's output against the reference's, and their times.

The compare files (grader/compare/) run in the grader's worker, under the same plugin and guards
as a spec. Each test calls the learner's code and the reference on the same seeded inputs,
measures both (and torch's built-in, where there is one) with the harness's timing helper, and
ends with `pytest.fail` carrying the row as one line of JSON after ROW_MARK. The plugin records
that as the test's message; the parent (grader/comparison.py) reads it as untrusted text.
A stub's NotImplementedError or a crash in learner code propagates instead, and the plugin
records it as it records any check: todo, or a failure with the learner's message.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

import pytest
import torch

from grader.harness import sandbox
from grader.harness.candidate import harness_internal
from grader.harness.speed import median_seconds

ROW_MARK = "kata-compare-row:"
NOTE_LIMIT = 160
# The code of the sandbox's watch wrapper, to recognise it (and only it) when unwrapping.
_WATCHED_CODE = sandbox.Watcher("", frozenset()).wrap(lambda: None).__code__


def bare(learner_fn: Callable[..., Any]) -> Callable[..., Any]:
    """A learner function from `candidate` without the grader's per-call wrappers (the input
    guard and the sandbox's watch, which does nothing inside a timing loop anyway), so that it
    is timed as the reference is. Only wrappers the grader made are removed."""
    inner = getattr(learner_fn, "__wrapped__", learner_fn)  # candidate's input guard
    if getattr(inner, "__code__", None) is _WATCHED_CODE:
        inner = getattr(inner, "__wrapped__", inner)
    return inner


def _plain(fn: Callable[..., Any]) -> Callable[..., Any]:
    """fn behind a closure of ours, so the timer's own unwrapping stops here."""

    def call(*args: Any) -> Any:
        return fn(*args)

    return call


def _pair(learner: Any, reference: Any, where: str) -> tuple[float, float, float, list[str]]:
    """(max |l - r|, max |r|, max |l|, notes on what differs beyond numbers)."""
    if isinstance(reference, torch.Tensor):
        if not isinstance(learner, torch.Tensor):
            return 0.0, 0.0, 0.0, [f"{where}a {type(learner).__name__}, not a tensor"]
        if tuple(learner.shape) != tuple(reference.shape):
            return 0.0, 0.0, 0.0, [f"{where}shape {tuple(learner.shape)} vs "
                                   f"{tuple(reference.shape)}"]
        mine = learner.detach().to("cpu", torch.float64)
        theirs = reference.detach().to("cpu", torch.float64)
        if mine.numel() == 0:
            return 0.0, 0.0, 0.0, []
        both_nan = mine.isnan() & theirs.isnan()
        same_inf = mine.isinf() & (mine == theirs)
        gaps = (mine - theirs).abs().masked_fill(both_nan | same_inf, 0.0)
        gaps = gaps.nan_to_num(nan=math.inf)
        finite = theirs.isfinite()
        scale = float(theirs.abs()[finite].max()) if bool(finite.any()) else 0.0
        size = float(mine.abs()[mine.isfinite()].max()) if bool(mine.isfinite().any()) else 0.0
        return float(gaps.max()), scale, size, []
    if isinstance(reference, bool) or reference is None or isinstance(reference, str):
        return 0.0, 0.0, 0.0, ([] if type(learner) is type(reference) and learner == reference
                               else [f"{where}{_short(learner)} vs {_short(reference)}"])
    if isinstance(reference, int | float):
        if isinstance(learner, bool) or not isinstance(learner, int | float | torch.Tensor):
            return 0.0, 0.0, 0.0, [f"{where}{_short(learner)} vs {_short(reference)}"]
        value = float(learner)
        if math.isnan(value) and math.isnan(reference):
            return 0.0, abs(reference), 0.0, []
        gap = abs(value - reference) if value != reference else 0.0
        return (math.inf if math.isnan(gap) else gap), abs(reference), abs(value), []
    if isinstance(reference, Mapping):
        if not isinstance(learner, Mapping) or set(learner) != set(reference):
            return 0.0, 0.0, 0.0, [f"{where}other keys: {_short(learner)} vs {_short(reference)}"]
        parts = [_pair(learner[key], reference[key], f"{key}: ") for key in reference]
    elif isinstance(reference, Sequence):
        if not isinstance(learner, Sequence) or isinstance(learner, str) \
                or len(learner) != len(reference):
            return 0.0, 0.0, 0.0, [f"{where}{_short(learner)} vs {_short(reference)}"]
        parts = [_pair(mine, theirs, where) for mine, theirs in zip(learner, reference,
                                                                    strict=True)]
    else:
        return 0.0, 0.0, 0.0, ([] if learner == reference else ["not comparable"])
    gap = max((part[0] for part in parts), default=0.0)
    scale = max((part[1] for part in parts), default=0.0)
    size = max((part[2] for part in parts), default=0.0)
    return gap, scale, size, [note for part in parts for note in part[3]]


def _short(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor {tuple(value.shape)}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def difference(learner: Any, reference: Any) -> tuple[float | None, float | None, str]:
    """(largest absolute error, that error relative to the reference's largest magnitude, a note
    when the outputs differ in kind, shape, keys or words); errors are None where no number
    compares (strings, names, a different shape)."""
    with harness_internal(), torch.no_grad():
        gap, scale, _size, notes = _pair(learner, reference, "")
    numeric = _has_numbers(reference)
    if notes:
        return (gap if numeric and gap > 0 else None), None, "; ".join(notes)[:NOTE_LIMIT]
    if not numeric:
        return None, None, "same"
    relative = gap / scale if scale > 0 else (0.0 if gap == 0 else math.inf)
    return gap, relative, ""


def _has_numbers(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return False
    if isinstance(value, int | float):
        return True
    if isinstance(value, Mapping):
        return any(_has_numbers(item) for item in value.values())
    if isinstance(value, Sequence):
        return any(_has_numbers(item) for item in value)
    return False


def report_row(
    learner_output: Any,
    reference_output: Any,
    timed: Sequence[Callable[..., Any]],
    make_inputs: Callable[[int], tuple[Any, ...]],
    builtin: tuple[str, Callable[..., Any]] | None = None,
    note: str = "",
) -> NoReturn:
    """Time `timed` (the learner's callable, then the reference's: the same work) and the
    built-in on make_inputs(slot), and end the test with the row."""
    max_abs, max_rel, found = difference(learner_output, reference_output)
    learner_fn, reference_fn = timed
    functions = [_plain(bare(learner_fn)), _plain(reference_fn)]
    functions += [_plain(builtin[1])] if builtin else []
    seconds = median_seconds(functions, make_inputs, rounds=5, block_seconds=0.08)
    row = {
        "abs": max_abs, "rel": max_rel, "learner": seconds[0], "reference": seconds[1],
        "builtin": seconds[2] if builtin else None, "builtin_name": builtin[0] if builtin else "",
        "note": "; ".join(part for part in ("same output" if found == "same" else found, note)
                          if part),
    }
    pytest.fail(ROW_MARK + json.dumps(row), pytrace=False)


def without_grad(fn: Callable[..., Any]) -> Callable[..., Any]:
    """fn called under torch.no_grad(), as a plain function the timer will not unwrap."""

    def call(*args: Any) -> Any:
        with torch.no_grad():
            return fn(*args)

    return call


def compare_call(
    learner_fn: Callable[..., Any],
    reference_fn: Callable[..., Any],
    make_inputs: Callable[[int], tuple[Any, ...]],
    builtin: tuple[str, Callable[..., Any]] | None = None,
    note: str = "",
) -> NoReturn:
    """The common case: both called on make_inputs(0) (fresh copies each), then timed."""
    learner_output = learner_fn(*make_inputs(0))
    reference_output = reference_fn(*make_inputs(0))
    report_row(learner_output, reference_output, (learner_fn, reference_fn), make_inputs,
               builtin, note)
