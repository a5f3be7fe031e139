"""Structure checks: which ops learner code dispatches, and whether their number grows with size.

A `TorchDispatchMode` sees every aten op however it was reached (an alias, getattr, torch.ops.aten,
a captured reference); a `TorchFunctionMode` sees torch-level calls that decompose into ordinary
ops and leave no telltale aten op (F.multi_head_attention_forward, F.rms_norm). Counting dispatched
ops at two sizes is a deterministic "no Python loop" test that no machine noise can flake
(research/speed-and-correctness.md §5.4).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from grader.harness import sandbox
from grader.harness.candidate import in_harness_internal
from grader.harness.compare import note_margin

OP_SLACK = 3
REFERENCE_FACTOR = 5


@dataclass
class OpLog:
    """What one call dispatched: aten overload packets and torch-level function names."""

    aten: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    # the aten ops that touched data: at least one non-empty tensor among inputs and outputs
    working: list[str] = field(default_factory=list)

    def names(self) -> Iterable[str]:
        yield from self.aten
        yield from self.functions


class _DispatchRecorder(TorchDispatchMode):
    def __init__(self, log: OpLog) -> None:
        super().__init__()
        self.log = log

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        result = func(*args, **(kwargs or {}))
        if not in_harness_internal():
            name = str(func.overloadpacket)
            self.log.aten.append(name)
            if _touches_data((args, kwargs, result)):
                self.log.working.append(name)
        return result


def _touches_data(tree: Any) -> bool:
    """Does any tensor in this (nested) structure hold at least one element?"""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, torch.Tensor):
            if item.numel() > 0:
                return True
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return False


class _FunctionRecorder(TorchFunctionMode):
    def __init__(self, log: OpLog) -> None:
        super().__init__()
        self.log = log

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        if not in_harness_internal():
            self.log.functions.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


def record_ops(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> OpLog:
    """Run `fn(*args, **kwargs)` once and return the ops it dispatched."""
    sandbox.verify()  # the judges' tools are as the grader left them
    log = OpLog()
    with _FunctionRecorder(log), _DispatchRecorder(log):
        fn(*args, **kwargs)
    sandbox.verify()
    return log


def assert_no_banned_ops(
    fn: Callable[..., Any], *args: Any, banned: dict[str, str], **kwargs: Any
) -> OpLog:
    """Fail naming the op when `fn` dispatches anything whose name contains a banned substring.

    `banned` maps a substring (`"scaled_dot_product"`) to advice on what to write instead.
    """
    log = record_ops(fn, *args, **kwargs)
    for name in log.names():
        for substring, advice in banned.items():
            if substring in name:
                raise AssertionError(
                    f"your code called `{name}`, a built-in this rung asks you to write "
                    f"yourself. {advice}"
                )
    return log


def assert_no_banned_modules(
    module: nn.Module, banned: dict[type[nn.Module], str], what: str = "your module"
) -> None:
    """Fail when `module` holds a submodule of a banned type (nn.MultiheadAttention, ...)."""
    sandbox.verify()  # the judges' tools are as the grader left them
    for name, submodule in module.named_modules():
        for banned_type, advice in banned.items():
            if isinstance(submodule, banned_type):
                where = f"`{name}`" if name else "itself"
                raise AssertionError(
                    f"{what} uses {banned_type.__module__}.{banned_type.__name__} ({where}), "
                    f"which this rung asks you to write yourself. {advice}"
                )


def assert_op_count_constant(
    make_call: Callable[[int], Callable[[], Any]],
    sizes: Sequence[int] = (4, 8),
    dim: str = "sequence length",
    advice: str = "Work on all positions at once with broadcasting and batched matmuls.",
    reference: Callable[[int], Callable[[], Any]] | None = None,
) -> None:
    """The ops that do work must be the same at every size of `dim`, as under no Python loop.

    `sizes` go from small to large; give three, the last a few times the others (a loop padded
    to a fixed number of rounds shows there). Only ops that
    touch data count: padding a loop with operations on empty tensors hides nothing. Besides
    growing, the work may differ between sizes by at most OP_SLACK ops of any kind (slicing a
    buffer to its full length dispatches nothing, so a few may vanish): a loop taken only for
    small sizes changes far more.
    """
    sandbox.verify()  # the judges' tools are as the grader left them
    logs = []
    for size in sizes:
        call = make_call(size)
        call()  # the first call may dispatch one-off work (lazy initialisation); count the second
        logs.append(Counter(record_ops(call).working))
    counts = [sum(log.values()) for log in logs]
    detail = ", ".join(f"{c} ops at {dim} {s}" for s, c in zip(sizes, counts, strict=True))
    growth = max((later - earlier for earlier, later in zip(counts, counts[1:], strict=False)),
                 default=0)
    if growth > 0:
        note_margin(growth, "ops grown")
        raise AssertionError(
            f"the number of tensor operations grows with the {dim} ({detail}). That is the mark "
            f"of a Python loop over the {dim} (a for loop, a comprehension, map or recursion). "
            + advice
        )
    if reference is not None:  # a loop padded past the largest size still does its rounds
        call = reference(sizes[-1])
        call()
        theirs = len(record_ops(call).working)
        if counts[-1] > REFERENCE_FACTOR * theirs + 10:
            note_margin(counts[-1] / (REFERENCE_FACTOR * theirs + 10), "ops/allowed")
            raise AssertionError(
                f"at {dim} {sizes[-1]} your code runs {counts[-1]} tensor operations, the "
                f"reference {theirs}: that many, the same at every size, are a Python loop run "
                "a fixed number of rounds. " + advice)
    for (small, first), (large, second) in zip(zip(sizes, logs, strict=True),
                                               list(zip(sizes, logs, strict=True))[1:],
                                               strict=False):
        differ = sum(((first - second) + (second - first)).values())
        if differ > OP_SLACK:
            note_margin(differ / OP_SLACK, "ops changed/slack")
            raise AssertionError(
                f"the tensor operations change with the {dim} ({detail}; {differ} differ "
                f"between {small} and {large}). Code that loops only for some sizes is still a "
                f"Python loop over the {dim}. " + advice
            )


def assert_op_count_constant_in_every_dim(
    make_call: Callable[..., Callable[[], Any]],
    dims: Mapping[str, tuple[str, Sequence[int]]],
    advice: str = "Work on all positions at once with broadcasting and batched matmuls.",
    reference: Callable[..., Callable[[], Any]] | None = None,
) -> None:
    """`assert_op_count_constant` over every dimension a learner could loop over, one at a time.

    `dims` maps each keyword `make_call` takes to (how a message names it, its sizes); while one
    dimension goes through its sizes, every other stays at its first. A learner loops over
    whichever dimension comes to mind, so a task lists every dimension of its inputs here.
    """
    if not dims:
        raise ValueError("assert_op_count_constant_in_every_dim needs at least one dimension")
    smallest = {name: sizes[0] for name, (_, sizes) in dims.items()}

    def along(name: str, fn: Callable[..., Callable[[], Any]]
              ) -> Callable[[int], Callable[[], Any]]:
        return lambda size: fn(**{**smallest, name: size})

    for name, (label, sizes) in dims.items():
        assert_op_count_constant(along(name, make_call), sizes=sizes, dim=label, advice=advice,
                                 reference=along(name, reference) if reference else None)
