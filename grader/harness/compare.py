"""Tensor comparison against a reference, with the error-ratio rule and a readable diff.

The rule (research/speed-and-correctness.md §8.2): run the reference twice, at the input dtype and
in float64. An output passes where its error against the float64 result is at most `k` times the
reference's own error at the input dtype, and never needs to be closer than the
`torch.testing.assert_close` tolerance of its dtype. A fixed tolerance either fails correct float32
code on hard inputs or lets wrong code through on easy ones; this rule does neither.
"""

from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from grader.harness import sandbox
from grader.harness.candidate import harness_internal

# (rtol, atol) per dtype, the floor of the error-ratio rule: torch.testing.assert_close's defaults,
# except float64. There a float64 task compares with the float64 reference directly, and
# assert_close's 1e-7 lets float32 arithmetic inside through (a float32 constant such as
# torch.tensor(0.1) is off by 1.5e-8 of its value, 5-10% of 1e-7). Correct float64 formulations
# (every alternative in tests/mutants/, 2,853 float64 comparisons) differ by at most 4.2e-14 of
# 1 + |value|, 24 times below this floor; float32 arithmetic is 100 times above it.
DTYPE_TOLERANCE: dict[torch.dtype, tuple[float, float]] = {
    torch.float16: (1e-3, 1e-5),
    torch.bfloat16: (1.6e-2, 1e-5),
    torch.float32: (1.3e-6, 1e-5),
    torch.float64: (1e-10, 1e-12),
}

# Significant digits a dtype holds: how far `distinct_digits` goes to tell two values apart.
DTYPE_DIGITS: dict[torch.dtype, int] = {
    torch.float16: 5,
    torch.bfloat16: 4,
    torch.float32: 8,
    torch.float64: 17,
}
SHOWN_DIGITS = 6

# How far the last failed comparison was from passing: its worst error over what was allowed
# ("margin") and what kind of measure that is. The project's mutant tests read it (the plugin
# copies it into the check's record and clears it) to find mistakes caught by a hair.
last_margin: dict[str, float | str] = {}


def note_margin(margin: float | None, kind: str = "error/allowed") -> None:
    """Record how far a failing check was from passing (see `last_margin`); None for a check
    that has no measure of it (an exact comparison): a categorical failure."""
    last_margin.clear()
    last_margin["margin_kind"] = kind
    if margin is not None:
        last_margin["margin"] = float(margin)


def distinct_digits(got: float, expected: float, dtype: torch.dtype) -> tuple[str, str]:
    """Both values with 6 significant digits, or with more (as many as `dtype` holds) when 6
    would print them the same: 1.0000001 against 1.0000003 is not 1 against 1."""
    most = max(SHOWN_DIGITS, DTYPE_DIGITS.get(dtype, DTYPE_DIGITS[torch.float32]))
    for digits in range(SHOWN_DIGITS, most + 1):
        shown = f"{got:.{digits}g}", f"{expected:.{digits}g}"
        if shown[0] != shown[1]:
            break
    return shown


@dataclass(frozen=True)
class Mistake:
    """A classic mistake and what it computes, so a failure can name it.

    `compute` takes the same arguments as the reference function and returns what code with this
    mistake would return.
    """

    description: str
    compute: Callable[..., Any]


def _map_tensors(obj: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, nn.Module):
        return obj
    if isinstance(obj, tuple):
        return tuple(_map_tensors(item, fn) for item in obj)
    if isinstance(obj, list):
        return [_map_tensors(item, fn) for item in obj]
    if isinstance(obj, dict):
        return {key: _map_tensors(item, fn) for key, item in obj.items()}
    return obj


def _clone(obj: Any) -> Any:
    return _map_tensors(obj, lambda t: t.detach().clone())


def _to_float64(obj: Any) -> Any:
    if isinstance(obj, nn.Module):
        return copy.deepcopy(obj).double()
    return _map_tensors(
        obj, lambda t: t.detach().to(torch.float64) if t.is_floating_point() else t.detach()
    )


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def _index(flat_index: int, shape: torch.Size) -> tuple[int, ...]:
    index = []
    for size in reversed(shape):
        index.append(flat_index % size)
        flat_index //= size
    return tuple(reversed(index))


def _diagnose(actual: Any, mistakes: Sequence[Mistake], args: tuple, kwargs: dict) -> str:
    """Name the first mistake whose output `actual` reproduces.

    Mistakes get the original arguments, not clones: a clone of a strided view is contiguous,
    and some mistakes (assuming contiguity) only show on the real layout. They must not modify
    them.
    """
    for mistake in mistakes:
        try:
            with harness_internal():
                wrong = mistake.compute(*args, **kwargs)
        except Exception:  # a mistake that cannot run on these inputs names nothing
            continue
        if _same(actual, wrong):
            return f"\n  Likely mistake: {mistake.description}."
    return ""


def _same(actual: Any, wrong: Any) -> bool:
    if isinstance(actual, torch.Tensor) and isinstance(wrong, torch.Tensor):
        if actual.shape != wrong.shape:
            return False
        if actual.dtype != wrong.dtype and not (
            actual.is_floating_point() and wrong.is_floating_point()
        ):
            return bool(torch.equal(actual.cpu().double(), wrong.cpu().double()))
        if actual.dtype == torch.bool or not actual.is_floating_point():
            return bool(torch.equal(actual.cpu(), wrong.cpu().to(actual.dtype)))
        return bool(torch.allclose(actual.detach().cpu().double(), wrong.detach().cpu().double(),
                                   rtol=1e-4, atol=1e-6, equal_nan=True))
    if isinstance(actual, torch.Tensor) or isinstance(wrong, torch.Tensor):
        return False
    return bool(actual == wrong)


def check_tensor_meta(actual: Any, expected: torch.Tensor, what: str) -> str | None:
    """Type, shape, dtype and device, in that order: the first that differs, as a sentence."""
    if not isinstance(actual, torch.Tensor):
        return f"{what}: expected a torch.Tensor, got {type(actual).__name__}"
    if type(actual) not in (torch.Tensor, nn.Parameter):
        return f"{what}: got a {type(actual).__name__} (a tensor subclass); return a plain tensor"
    if actual.shape != expected.shape:
        return f"{what}: shape {_shape(actual)}, expected {_shape(expected)}"
    if actual.dtype != expected.dtype:
        return f"{what}: dtype {actual.dtype}, expected {expected.dtype}"
    if actual.device != expected.device:
        return f"{what}: on device {actual.device}, expected {expected.device}"
    return None


def compare_tensors(
    actual: torch.Tensor,
    expected: torch.Tensor,
    expected64: torch.Tensor | None,
    what: str,
    k: float,
    float64_floor: tuple[float, float] | None = None,
) -> str | None:
    """Return None when `actual` passes the error-ratio rule, else the diff as text.

    `float64_floor` (rtol, atol) replaces DTYPE_TOLERANCE's float64 floor, for a task whose
    correct answers differ by more than float64 rounding (say so where it is passed)."""
    sandbox.verify()  # the judges' tools are as the grader left them
    last_margin.clear()
    problem = check_tensor_meta(actual, expected, what)
    if problem:
        return problem
    with harness_internal(), torch.no_grad():
        got = actual.detach().cpu()
        if not expected.is_floating_point():
            bad = got != expected.detach().cpu()
            if not bad.any():
                return None
            flat = int(bad.flatten().nonzero()[0])
            index = _index(flat, got.shape)
            note_margin(None, "exact")
            return (f"{what}: {int(bad.sum())} of {got.numel()} elements differ; first at index "
                    f"{index}: got {got[index].item()}, expected {expected.cpu()[index].item()}")
        truth = (expected64 if expected64 is not None else expected).detach().cpu().double()
        got64 = got.double()
        rtol, atol = DTYPE_TOLERANCE.get(expected.dtype, DTYPE_TOLERANCE[torch.float32])
        if float64_floor is not None and expected.dtype == torch.float64:
            rtol, atol = float64_floor
        reference_error = 0.0
        if expected64 is not None and expected.dtype != torch.float64:
            gap = (expected.detach().cpu().double() - truth).abs()
            reference_error = float(gap[torch.isfinite(gap)].max()) if gap.numel() else 0.0
        allowed = torch.clamp(atol + rtol * truth.abs(), min=k * reference_error)
        error = (got64 - truth).abs()
        both_nan = torch.isnan(got64) & torch.isnan(truth)
        same_inf = torch.isinf(got64) & (got64 == truth)
        error = torch.where(both_nan | same_inf, torch.zeros_like(error), error)
        error = torch.nan_to_num(error, nan=float("inf"))
        bad = error > allowed
        if not bad.any():
            return None
        count = int(bad.sum())
        score = torch.where(bad, error / allowed, torch.zeros_like(error))
        worst = _index(int(score.flatten().argmax()), got.shape)
        note_margin(score[worst].item())
        shown_got, shown_expected = distinct_digits(got64[worst].item(), truth[worst].item(),
                                                    expected.dtype)
        lines = [
            f"{what}: {count} of {got.numel()} elements ({100 * count / got.numel():.1f}%) "
            f"are off; shape {_shape(got)}, dtype {expected.dtype}",
            f"  worst at index {worst}: got {shown_got}, expected {shown_expected} "
            f"(error {error[worst].item():.3g}, allowed {allowed[worst].item():.3g})",
        ]
        finite = torch.isfinite(got64)
        if finite.any():
            finite_error = (got64 - truth).abs()[finite & torch.isfinite(truth)]
            if finite_error.numel():
                max_abs = float(finite_error.max())
                denominator = truth.abs()[finite & torch.isfinite(truth)].clamp(min=1e-12)
                max_rel = float((finite_error / denominator).max())
                lines.append(f"  max abs error {max_abs:.3g}, max rel error {max_rel:.3g}")
        for label, mask in (("NaN", torch.isnan(got64) & ~torch.isnan(truth)),
                            ("Inf", torch.isinf(got64) & ~torch.isinf(truth))):
            if mask.any():
                first = _index(int(mask.flatten().nonzero()[0]), got.shape)
                lines.append(f"  {label} at {int(mask.sum())} positions where the expected "
                             f"value is finite, first at index {first}")
        return "\n".join(lines)


def assert_matches(
    actual: Any,
    reference_fn: Callable[..., Any],
    *args: Any,
    what: str = "output",
    mistakes: Sequence[Mistake] = (),
    k: float = 2.0,
    float64_floor: tuple[float, float] | None = None,
    **kwargs: Any,
) -> None:
    """Fail unless `actual` equals `reference_fn(*args, **kwargs)` under the error-ratio rule.

    `reference_fn` may be an nn.Module: its float64 run uses a float64 copy. `float64_floor`:
    see compare_tensors.
    """
    sandbox.verify()  # the judges' tools are as the grader left them
    # A module's float64 copy is taken before it runs: forward may update its buffers.
    reference64 = _to_float64(reference_fn) if isinstance(reference_fn, nn.Module) \
        else reference_fn
    with harness_internal():
        expected = reference_fn(*_clone(args), **_clone(kwargs))
    if not isinstance(expected, torch.Tensor):
        if isinstance(actual, torch.Tensor) or actual != expected:
            note_margin(None, "exact")
            raise AssertionError(f"{what}: got {actual!r}, expected {expected!r}"
                                 + _diagnose(actual, mistakes, args, kwargs))
        return
    expected64 = None
    if expected.is_floating_point() and expected.dtype != torch.float64:
        with harness_internal():
            expected64 = reference64(*_to_float64(args), **_to_float64(kwargs))
    problem = compare_tensors(actual, expected, expected64, what, k, float64_floor)
    if problem:
        raise AssertionError(problem + _diagnose(actual, mistakes, args, kwargs))


def _leaf(value: Any, dtype: torch.dtype | None = None) -> Any:
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        leaf = value.detach().clone()
        if dtype is not None:
            leaf = leaf.to(dtype)
        return leaf.requires_grad_(True)
    return value


def _upstream(like: torch.Tensor, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(like.shape, generator=generator, dtype=torch.float64).to(like)


def _grads(output: Any, leaves: list[torch.Tensor], upstream: torch.Tensor, what: str):
    if not isinstance(output, torch.Tensor):
        raise AssertionError(f"{what}: expected a tensor, got {type(output).__name__}")
    if not output.requires_grad:
        raise AssertionError(
            f"{what}: the output is cut off from the autograd graph, so no gradient reaches the "
            "inputs. Look for .detach(), .item(), .numpy(), torch.no_grad() or a new tensor built "
            "from values (torch.tensor(...)) in the middle of the computation."
        )
    return torch.autograd.grad(output, leaves, upstream.to(output.dtype), allow_unused=True)


def _compare_gradients(
    names: list[str],
    got: Sequence[torch.Tensor | None],
    expected: Sequence[torch.Tensor | None],
    expected64: Sequence[torch.Tensor | None],
    what: str,
    k: float,
) -> None:
    for name, g_got, g_expected, g_64 in zip(names, got, expected, expected64, strict=True):
        if g_expected is None:
            continue
        if g_got is None:
            raise AssertionError(
                f"gradient of {what}: no gradient reaches `{name}`; it should. Something between "
                f"`{name}` and the output is not differentiable or was detached."
            )
        truth = g_64 if g_expected.dtype != torch.float64 else None
        label = f"gradient of {what} w.r.t. `{name}`"
        problem = compare_tensors(g_got, g_expected, truth, label, k)
        if problem:
            raise AssertionError(problem)


def assert_grads_match(
    candidate_fn: Callable[..., Any],
    reference_fn: Callable[..., Any],
    *args: Any,
    what: str = "output",
    k: float = 3.0,
    seed: int = 0,
    **kwargs: Any,
) -> None:
    """Compare the gradients a random upstream gradient pulls back to every floating argument."""
    sandbox.verify()  # the judges' tools are as the grader left them
    try:
        names = list(inspect.signature(inspect.unwrap(reference_fn)).parameters)
    except (TypeError, ValueError):
        names = []
    labels = [names[i] if i < len(names) else f"argument {i}" for i in range(len(args))]
    chosen = [i for i, a in enumerate(args)
              if isinstance(a, torch.Tensor) and a.is_floating_point()]
    runs = []
    for fn, dtype in ((candidate_fn, None), (reference_fn, None), (reference_fn, torch.float64)):
        leaves = [_leaf(a, dtype) for a in args]
        call_kwargs = _to_float64(kwargs) if dtype is torch.float64 else _clone(kwargs)
        if fn is candidate_fn:
            output = fn(*leaves, **call_kwargs)
        else:
            with harness_internal():
                output = fn(*leaves, **call_kwargs)
        runs.append((leaves, output))
    (c_leaves, c_out), (r_leaves, r_out), (h_leaves, h_out) = runs
    problem = check_tensor_meta(c_out, r_out, what)
    if problem:
        raise AssertionError(problem)
    upstream = _upstream(r_out, seed)
    with harness_internal():
        r_grads = _grads(r_out, [r_leaves[i] for i in chosen], upstream, what)
        h_grads = _grads(h_out, [h_leaves[i] for i in chosen], upstream, what)
    c_grads = _grads(c_out, [c_leaves[i] for i in chosen], upstream, what)
    _compare_gradients([labels[i] for i in chosen], c_grads, r_grads, h_grads, what, k)


def assert_module_grads_match(
    candidate_module: nn.Module,
    reference_module: nn.Module,
    *inputs: Any,
    what: str = "output",
    k: float = 3.0,
    seed: int = 0,
) -> None:
    """Gradients of two modules holding the same weights: inputs, then parameters by name."""
    sandbox.verify()  # the judges' tools are as the grader left them
    reference_params = dict(reference_module.named_parameters())
    candidate_params = dict(candidate_module.named_parameters())
    missing = [name for name in reference_params if name not in candidate_params]
    if missing:
        raise AssertionError(
            f"{what}: your module has no parameter {', '.join(f'`{m}`' for m in missing)}; "
            f"it has {', '.join(f'`{n}`' for n in candidate_params) or 'none'}"
        )
    reference64 = copy.deepcopy(reference_module).double()
    reference64_params = dict(reference64.named_parameters())
    chosen = [i for i, a in enumerate(inputs)
              if isinstance(a, torch.Tensor) and a.is_floating_point()]
    names = [f"input {i}" for i in chosen] + [f"parameter {n}" for n in reference_params]

    def run(module: nn.Module, params: Mapping[str, torch.Tensor], dtype: torch.dtype | None):
        leaves = [_leaf(a, dtype) for a in inputs]
        output = module(*leaves)
        return output, [leaves[i] for i in chosen] + [params[n] for n in reference_params]

    c_out, c_wrt = run(candidate_module, candidate_params, None)
    with harness_internal():
        r_out, r_wrt = run(reference_module, reference_params, None)
        h_out, h_wrt = run(reference64, reference64_params, torch.float64)
    problem = check_tensor_meta(c_out, r_out, what)
    if problem:
        raise AssertionError(problem)
    upstream = _upstream(r_out, seed)
    with harness_internal():
        r_grads = _grads(r_out, r_wrt, upstream, what)
        h_grads = _grads(h_out, h_wrt, upstream, what)
    c_grads = _grads(c_out, c_wrt, upstream, what)
    _compare_gradients(names, c_grads, r_grads, h_grads, what, k)


def assert_float64_close(
    got: Any, truth: torch.Tensor, allowed: torch.Tensor | float, what: str,
    likely: Callable[[torch.Tensor, tuple[int, ...]], str | None] | None = None,
) -> None:
    """`got` is a float64 tensor within `allowed` of `truth` everywhere: a bound of what float64
    rounding explains, far below what float32 arithmetic loses (the usual float64 floor, 1e-7,
    lets float32 arithmetic inside a float64 task through). The message names the worst element
    with all its digits and, when `likely(got, worst_index)` returns a text, the likely mistake
    (the spec decides when it really is that mistake)."""
    last_margin.clear()
    if not (isinstance(got, torch.Tensor) and got.shape == truth.shape
            and got.dtype == torch.float64):
        kind = (f"{got.dtype} of shape {_shape(got)}" if isinstance(got, torch.Tensor)
                else type(got).__name__)
        raise AssertionError(f"{what}: got {kind}; expected a float64 tensor of shape "
                             f"{_shape(truth)}")
    got64, truth64 = got.detach().cpu(), truth.detach().cpu()
    bound = torch.as_tensor(allowed, dtype=torch.float64).cpu().expand_as(truth64)
    error = (got64 - truth64).abs().nan_to_num(nan=math.inf)
    if not bool((error > bound).any()):
        return
    index = _index(int((error / bound).flatten().argmax()), truth64.shape)
    note_margin((error[index] / bound[index]).item())
    shown_got, shown_expected = distinct_digits(got64[index].item(), truth64[index].item(),
                                                torch.float64)
    message = (
        f"{what}: {int((error > bound).sum())} of {error.numel()} elements are off by more than "
        f"float64 rounding explains.\n  worst at {index}: got {shown_got}, "
        f"expected {shown_expected} (error {error[index].item():.3g}, allowed "
        f"{bound[index].item():.3g})")
    diagnosis = likely(got64, index) if likely is not None else None
    if diagnosis:
        message += "\n  Likely mistake: " + diagnosis
    raise AssertionError(message)
