"""Spec for 02-autograd: gradients by hand and by torch.

Run by `./kata check 02-autograd`. Code is reached only through the `candidate` and `reference`
fixtures. Values go through the harness's error-ratio rule; the side effects this rung is about
(what lands in .grad, which flags change, whether a graph survives) are checked as properties,
each on inputs built so that the classic mistake shows.

Every check fails with a message written for the learner (the few bare asserts only guard the
spec's own oracles), so pytest's assertion rewriting, which would append its own introspection,
is off for this module: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from grader.harness import (
    Mistake,
    assert_float64_close,
    assert_matches,
    assert_no_banned_ops,
    assert_op_count_constant,
    distinct_digits,
    record_ops,
)
from grader.strategies import randn, seeds, sizes, small_shapes

pytestmark = pytest.mark.rung("02-autograd")

GRAD_OF = "grad_of"
LINEAR = "linear_backward"
SIGMOID = "Sigmoid"
ACCUMULATED = "accumulated_grad"
LEAVES = "leaves_without_grad"

# Float64 results that two correct computations reach by different routes (one backward of the
# summed losses against one backward per batch, say) differ only by float64 rounding.
FLOAT64_ROUNDING = {"rtol": 1e-9, "atol": 1e-12}


def require(condition: bool, message: str) -> None:
    """Fail with `message` alone."""
    if not condition:
        raise AssertionError(message)


def assert_float64_precision(got: Any, expected: Tensor, what: str,
                         tolerance: dict[str, float] = FLOAT64_ROUNDING) -> None:
    """`got` equals the float64 `expected` up to float64 rounding (correct float64 formulations
    differ by ~1e-15); blames float32 arithmetic only when the error is of its size."""
    truth = expected.detach().cpu()

    def likely(got64: Tensor, index: tuple[int, ...]) -> str | None:
        error = abs(got64[index].item() - truth[index].item())
        relative = error / max(abs(truth[index].item()), 1e-300)
        if 1e-9 < relative < 1e-5:
            return ("float32 arithmetic inside a float64 computation (a .float() copy, a float32 "
                    "tensor or constant): the error is float32's rounding, about 1e-7 of the "
                    "value. Compute in the inputs' dtype.")
        return None

    assert_float64_close(got, truth, tolerance["atol"] + tolerance["rtol"] * truth.abs(), what,
                         likely)


def float_dtypes() -> st.SearchStrategy[torch.dtype]:
    return st.sampled_from((torch.float32, torch.float64))


def shape_of(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)} ({value.dtype})"
    return f"{type(value).__name__} {value!r}"[:200]


def failure(exc: Exception) -> str:
    """An exception from learner code, as one line."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"


def call_reporting(what: str, advice: str, call: Callable[[], Any]) -> Any:
    """Run learner code; an exception becomes a failure that says what was being asked and why."""
    try:
        return call()
    except (NotImplementedError, AssertionError):
        raise
    except Exception as exc:
        raise AssertionError(f"{what} raised {failure(exc)}. {advice}") from None


# --- grad_of ------------------------------------------------------------------------------------


def scalar_functions(seed: int) -> dict[str, Callable[[Tensor], Tensor]]:
    """One-element functions of a tensor of any shape, named as a message shows them."""

    def mixed(t: Tensor) -> Tensor:
        A = randn((3, t.numel()), seed, t.dtype)  # a fixed matrix, the same in every dtype
        return torch.tanh(A @ t.flatten()).mean()  # (3, n) @ (n,) -> (3,) -> ()

    return {
        "(x ** 2).sum()": lambda t: (t**2).sum(),
        "(sin(x) * x).sum()": lambda t: (t.sin() * t).sum(),
        "logsumexp(x.flatten(), 0)": lambda t: torch.logsumexp(t.flatten(), dim=0),
        "tanh(A @ x.flatten()).mean(), A a fixed matrix": mixed,
        "x.flatten()[0] * 3": lambda t: t.flatten()[0] * 3,
        "(x ** 3).sum().reshape(1), a (1,) tensor": lambda t: (t**3).sum().reshape(1),
    }


FUNCTION_NAMES = tuple(scalar_functions(0))


def true_grad(f: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """df/dx by autograd, on a fresh leaf."""
    leaf = x.detach().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(f(leaf), leaf)
    return grad


GRAD_OF_MISTAKES = (
    Mistake("you returned f(x), the function's value, instead of its gradient with respect to x",
            lambda f, x: f(x)),
    Mistake("the gradient is doubled, as if backward ran twice into the same .grad (backward "
            "adds into .grad, it does not overwrite it)", lambda f, x: 2 * true_grad(f, x)),
)


@pytest.mark.task(GRAD_OF, category="shape")
@pytest.mark.parametrize("shape", [(), (5,), (2, 3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_grad_of_has_the_shape_and_dtype_of_x(candidate, shape, dtype):
    """df/dx has one entry per entry of x: the shape and dtype of x, a 0-d x included."""
    x = randn(shape, 0, dtype)
    got = candidate.grad_of(lambda t: (t**2).sum(), x)
    require(isinstance(got, Tensor), (
        f"grad_of(f = (x ** 2).sum(), x of shape {shape}) returned {shape_of(got)}; return the "
        "gradient as a tensor"))
    require(tuple(got.shape) == shape and got.dtype == dtype, (
        f"grad_of(f = (x ** 2).sum(), x of shape {shape}, {dtype}) returned {shape_of(got)}; "
        f"df/dx has one entry per entry of x: shape {shape}, dtype {dtype}"))


@pytest.mark.task(GRAD_OF, category="values")
@given(name=st.sampled_from(FUNCTION_NAMES), shape=small_shapes(0, 3, max_side=4), seed=seeds(),
       dtype=float_dtypes())
@example(name="(sin(x) * x).sum()", shape=(), seed=0, dtype=torch.float64)  # f(x) has x's shape
@example(name="tanh(A @ x.flatten()).mean(), A a fixed matrix", shape=(2, 3), seed=1,
         dtype=torch.float64)
def test_grad_of_matches_the_reference(candidate, reference, name, shape, seed, dtype):
    """df/dx of several one-element functions, on Hypothesis-drawn shapes, float32 and float64."""
    f = scalar_functions(seed)[name]
    x = randn(shape, seed + 1, dtype)
    assert_matches(candidate.grad_of(f, x), reference.grad_of, f, x,
                   what=f"grad_of(f = {name}, x of shape {shape}, {dtype})",
                   mistakes=GRAD_OF_MISTAKES)


@pytest.mark.task(GRAD_OF, category="values")
@pytest.mark.parametrize("name", ["(sin(x) * x).sum()",
                                  "tanh(A @ x.flatten()).mean(), A a fixed matrix"])
def test_grad_of_keeps_float64_precision(candidate, name):
    """For a float64 x the gradient is float64-accurate, not float32 arithmetic cast back."""
    f = scalar_functions(3)[name]
    x = randn((3, 4), 11)
    assert_float64_precision(candidate.grad_of(f, x), true_grad(f, x),
                         f"grad_of(f = {name}, x of shape (3, 4), torch.float64)")


def grad_snapshot(tensors: dict[str, Tensor]) -> dict[str, Tensor | None]:
    return {name: None if t.grad is None else t.grad.detach().clone() for name, t in
            tensors.items()}


def changed_grads(tensors: dict[str, Tensor], before: dict[str, Tensor | None]) -> list[str]:
    """Sentences for every tensor whose .grad differs from `before`."""
    changes = []
    for name, tensor in tensors.items():
        old, new = before[name], tensor.grad
        if old is None and new is not None:
            changes.append(f"{name}.grad was None and is now a tensor")
        elif old is not None and new is None:
            changes.append(f"{name}.grad was a tensor and is now None")
        elif old is not None and new is not None and not (
                old.shape == new.shape and torch.equal(old, new.detach())):
            changes.append(f"{name}.grad changed its values")
    return changes


@pytest.mark.task(GRAD_OF, category="properties")
@given(shape=small_shapes(1, 2, max_side=4), seed=seeds())
@example(shape=(3,), seed=0)
def test_grad_of_leaves_every_grad_as_it_was(candidate, shape, seed):
    """x.grad and the .grad of the weights f uses are exactly as before; x still requires grad.

    x is a leaf that requires grad and already holds a .grad (left by an earlier backward); f
    closes over two weights, one with a .grad and one without.
    """
    x = randn(shape, seed).requires_grad_(True)
    w_fresh = nn.Parameter(randn(shape, seed + 1))
    w_used = nn.Parameter(randn(shape, seed + 2))
    x.grad, w_used.grad = randn(shape, seed + 3), randn(shape, seed + 4)
    tensors = {"x": x, "w_fresh": w_fresh, "w_used": w_used}
    before = grad_snapshot(tensors)

    def f(t: Tensor) -> Tensor:
        return (w_fresh * t).sin().sum() + (w_used * t**2).sum()

    got = candidate.grad_of(f, x)
    changes = changed_grads(tensors, before)
    require(not changes, (
        f"grad_of(f, x of shape {shape}), where x already holds a .grad and f uses two weights "
        f"w_fresh (no .grad yet) and w_used (with a .grad): {'; '.join(changes)}. backward() "
        "adds gradients into the .grad of every leaf the graph reaches; "
        "torch.autograd.grad(out, leaf) returns them instead and writes nothing. Call it on a "
        "fresh leaf made from x: x.detach().requires_grad_()."))
    require(x.requires_grad, "grad_of switched off x.requires_grad; leave the caller's x as it is")
    assert_matches(got, true_grad, f, x.detach(),
                   what=f"grad_of(f, x of shape {shape}) where x already holds a .grad")


@pytest.mark.task(GRAD_OF, category="properties")
@pytest.mark.parametrize("shape", [(), (1,)])
def test_grad_of_an_f_that_returns_x_itself(candidate, shape):
    """f(x) = x for a one-element x: the output is the fresh leaf itself, and df/dx is 1."""
    x = randn(shape, 0)
    what = f"grad_of(f = lambda t: t, x of shape {shape})"
    got = candidate.grad_of(lambda t: t, x)
    require(isinstance(got, Tensor) and tuple(got.shape) == shape, (
        f"{what} returned {shape_of(got)}; df/dx has the shape of x, {shape}"))
    if bool((got == 1).all()):
        return
    message = (f"{what} returned {got.tolist()}; f(x) is x itself, so df/dx = 1. Here f's output "
               "is the leaf you made: it requires grad but has no grad_fn (a leaf never has "
               "one).")
    if bool((got == 0).all()):
        message += ("\n  Likely mistake: you took `out.grad_fn is None` to mean that f built no "
                    "graph from x; test out.requires_grad instead.")
    raise AssertionError(message)


@pytest.mark.task(GRAD_OF, category="properties")
@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
def test_grad_of_does_not_mark_x_as_requiring_grad(candidate, shape):
    """A plain x stays plain: requires_grad False, .grad None, still a leaf, after the call."""
    x = randn(shape, 0)
    candidate.grad_of(lambda t: (t.exp() * t).sum(), x)
    problems = [text for bad, text in (
        (x.requires_grad, "x.requires_grad is now True"),
        (x.grad is not None, "x.grad is now set"),
        (not x.is_leaf, "x is no longer a leaf"),
    ) if bad]
    require(not problems, (
        f"grad_of(f, x of shape {shape}) on an x that does not require grad changed the "
        f"caller's tensor: {', '.join(problems)}. Don't call x.requires_grad_() on the "
        "argument; make a fresh leaf that shares its values, x.detach().requires_grad_(), and "
        "differentiate with respect to that."))


@pytest.mark.task(GRAD_OF, category="properties")
def test_grad_of_returns_a_gradient_with_no_graph_attached(candidate):
    """The result does not require grad, even when f uses a weight that does."""
    x, w = randn((3,), 0), nn.Parameter(randn((3,), 1))
    got = candidate.grad_of(lambda t: (w * t).sum(), x)  # df/dx = w, which requires grad
    require(isinstance(got, Tensor) and not got.requires_grad, (
        f"grad_of(f = (w * x).sum(), x of shape (3,)), with w a parameter, returned "
        f"{shape_of(got)} that requires grad (it carries a graph back to w). Return a plain "
        "gradient: torch.autograd.grad without create_graph=True gives one (or .detach() it)."))


@pytest.mark.task(GRAD_OF, category="properties")
@pytest.mark.parametrize("shape", [(3,), (2, 2)])
def test_grad_of_works_inside_no_grad(candidate, shape):
    """Called inside torch.no_grad() it still returns the true gradient."""
    x = randn(shape, 0)

    def f(t: Tensor) -> Tensor:
        return (t.sin() * t).sum()

    with torch.no_grad():
        got = call_reporting(
            f"grad_of(f, x of shape {shape}) called inside torch.no_grad()",
            "Under no_grad f(x) builds no graph, so there is nothing to differentiate: call f "
            "(and anything you do to its output before torch.autograd.grad) inside a "
            "`with torch.enable_grad():` block.",
            lambda: candidate.grad_of(f, x))
        grad_mode_after = torch.is_grad_enabled()
    require(not grad_mode_after, (
        f"grad_of(f, x of shape {shape}) called inside torch.no_grad() returned with grad mode "
        "switched on, so the caller's next operations inside its no_grad block build graphs. "
        "torch.set_grad_enabled(True) as a plain call changes the mode for the caller too; "
        "`with torch.enable_grad():` switches it on for the block and restores it on exit."))
    mistakes = (Mistake("you returned zeros: under torch.no_grad() f(x) builds no graph, so it "
                        "looks constant. Call f inside `with torch.enable_grad():`",
                        lambda f, x: torch.zeros_like(x)),)
    assert_matches(got, true_grad, f, x,
                   what=f"grad_of(f, x of shape {shape}) called inside torch.no_grad()",
                   mistakes=mistakes)


def _unrelated_weight() -> nn.Parameter:
    return nn.Parameter(randn((2,), 5))


UNRELATED = _unrelated_weight()
INDEPENDENT_FUNCTIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "a constant, torch.tensor(3.0)": lambda t: torch.tensor(3.0, dtype=t.dtype),
    "(x.detach() ** 2).sum()": lambda t: (t.detach() ** 2).sum(),
    "(w ** 2).sum() for a weight w, ignoring x": lambda t: (UNRELATED.to(t.dtype) ** 2).sum(),
}


@pytest.mark.task(GRAD_OF, category="properties")
@pytest.mark.parametrize("name", list(INDEPENDENT_FUNCTIONS))
def test_grad_of_is_zero_when_f_ignores_x(candidate, name):
    """When f(x) does not depend on x, df/dx is zeros of x's shape: no error, no None."""
    x = randn((2, 3), 0)
    what = f"grad_of(f = {name}, x of shape (2, 3))"
    got = call_reporting(
        what, "f(x) does not depend on x here, so df/dx is zeros. torch.autograd.grad refuses "
        "an output that requires no grad and, without allow_unused=True, an input the graph "
        "does not reach: check out.requires_grad, pass allow_unused=True and turn a None "
        "gradient into torch.zeros_like(x).", lambda: candidate.grad_of(INDEPENDENT_FUNCTIONS[name],
                                                                         x))
    require(isinstance(got, Tensor), (
        f"{what} returned {shape_of(got)}; f does not depend on x, so return zeros of x's "
        "shape (torch.zeros_like(x)), not None"))
    require(tuple(got.shape) == (2, 3) and bool((got == 0).all()), (
        f"{what} returned {shape_of(got)} with nonzero entries; f does not depend on x, so "
        "df/dx is zeros of shape (2, 3)"))
    require(got.dtype == x.dtype and got.device == x.device, (
        f"{what} returned zeros of dtype {got.dtype} on {got.device}; the gradient has x's "
        f"dtype and device ({x.dtype}, {x.device}). torch.zeros(x.shape) is float32 whatever x "
        "is; torch.zeros_like(x) copies both."))


NOT_ONE_NUMBER: dict[str, Callable[[Tensor], Tensor]] = {
    "x * 2, shape (2, 3)": lambda t: t * 2,
    "x.sum(dim=0), shape (3,)": lambda t: t.sum(dim=0),
    "x[:0].sum(dim=0), three zeros": lambda t: t[:0].sum(dim=0),
    "x.flatten()[:0], no elements": lambda t: t.flatten()[:0],
    "x.detach() * 2, shape (2, 3) and no graph": lambda t: t.detach() * 2,
    "torch.zeros(3), a constant of shape (3,)": lambda t: torch.zeros(3, dtype=t.dtype),
}


@pytest.mark.task(GRAD_OF, category="properties")
@pytest.mark.parametrize("name", list(NOT_ONE_NUMBER))
def test_grad_of_refuses_outputs_that_are_not_one_number(candidate, name):
    """f(x) with more than one element, or none, raises ValueError."""
    x, f = randn((2, 3), 0), NOT_ONE_NUMBER[name]
    what = f"grad_of(f = {name}, x of shape (2, 3))"
    try:
        got = candidate.grad_of(f, x)
    except ValueError:
        return
    except NotImplementedError:
        raise
    except Exception as exc:
        raise AssertionError(
            f"{what} should raise ValueError (a gradient needs f(x) to be one number), but it "
            f"raised {failure(exc)}. Check out.numel() == 1 yourself and raise ValueError."
        ) from None
    raise AssertionError(
        f"{what} should raise ValueError (a gradient needs f(x) to be one number), but it "
        f"returned {shape_of(got)}. Check out.numel() == 1 and raise ValueError otherwise.")


# --- linear_backward ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearCase:
    """x (N, in), W (out, in), b (out,) and grad_out (N, out) from one seed."""

    N: int
    d_in: int
    d_out: int
    seed: int

    def tensors(self, dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return (randn((self.N, self.d_in), self.seed, dtype),
                randn((self.d_out, self.d_in), self.seed + 1, dtype),
                randn((self.d_out,), self.seed + 2, dtype),
                randn((self.N, self.d_out), self.seed + 3, dtype))

    def describe(self) -> str:
        return (f"x ({self.N}, {self.d_in}), W ({self.d_out}, {self.d_in}), b ({self.d_out},), "
                f"grad_out ({self.N}, {self.d_out})")


@st.composite
def linear_cases(draw: st.DrawFn) -> LinearCase:
    return LinearCase(draw(sizes(1, 5)), draw(sizes(1, 5)), draw(sizes(1, 5)), draw(seeds()))


# N, in and out all differ, so every transposition shows as a wrong shape.
TYPICAL_LINEAR = LinearCase(N=3, d_in=4, d_out=2, seed=0)
GRADIENT_NAMES = ("grad_x", "grad_W", "grad_b")


def linear_gradients(candidate: Any, case: LinearCase, args: tuple[Tensor, ...]) -> tuple:
    """The learner's three gradients, after checking that there are three tensors."""
    got = candidate.linear_backward(*args)
    require(isinstance(got, (tuple, list)) and len(got) == 3, (
        f"linear_backward({case.describe()}) returned {shape_of(got)}; return a tuple of three "
        "tensors (grad_x, grad_W, grad_b)"))
    return tuple(got)


def by_autograd(x: Tensor, W: Tensor, b: Tensor, grad_out: Tensor) -> tuple[Tensor, ...]:
    """What autograd says the three gradients of x @ W.T + b are."""
    leaves = [t.detach().requires_grad_(True) for t in (x, W, b)]
    with torch.enable_grad():
        y = leaves[0] @ leaves[1].T + leaves[2]
        return torch.autograd.grad(y, leaves, grad_out)


def one_of(fn: Callable[..., tuple], index: int) -> Callable[..., Tensor]:
    return lambda *args: fn(*args)[index]


LINEAR_MISTAKES: dict[str, tuple[Mistake, ...]] = {
    "grad_x": (
        Mistake("grad_x used W.T; y = x @ W.T, so dL/dx = grad_out @ W: (N, out) @ (out, in)",
                lambda x, W, b, g: g @ W.T),
    ),
    "grad_W": (
        Mistake("grad_W is transposed: it must have W's shape (out, in), which is "
                "grad_out.T @ x, not x.T @ grad_out", lambda x, W, b, g: x.T @ g),
        Mistake("grad_W was averaged over the batch; W is shared by all N rows, so their "
                "contributions add up: grad_out.T @ x, with no division by N (a mean in the "
                "loss is already inside grad_out)", lambda x, W, b, g: g.T @ x / x.shape[0]),
    ),
    "grad_b": (
        Mistake("grad_b was averaged over the batch; b is added to every row, so the rows' "
                "gradients add up: grad_out.sum(dim=0)", lambda x, W, b, g: g.mean(dim=0)),
        Mistake("grad_b was summed over the wrong axis; sum over the batch, dim=0, to get b's "
                "shape (out,)", lambda x, W, b, g: g.sum(dim=1)),
        Mistake("grad_b is grad_out itself; b is one vector added to every row, so sum "
                "grad_out over the batch (dim=0) to get b's shape (out,)",
                lambda x, W, b, g: g),
    ),
}


@pytest.mark.task(LINEAR, category="shape")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("case", [TYPICAL_LINEAR, LinearCase(N=2, d_in=1, d_out=1, seed=3)],
                         ids=lambda case: f"N{case.N}-in{case.d_in}-out{case.d_out}")
def test_linear_backward_gives_each_gradient_the_shape_of_its_input(candidate, dtype, case):
    """grad_x is (N, in) like x, grad_W is (out, in) like W, grad_b is (out,) like b, and a
    dimension of size 1 (one input feature, one output) stays."""
    args = case.tensors(dtype)
    got = linear_gradients(candidate, case, args)
    for name, grad, wrt, mistakes in zip(GRADIENT_NAMES, got, args,
                                         (LINEAR_MISTAKES[n] for n in GRADIENT_NAMES),
                                         strict=False):
        require(isinstance(grad, Tensor), f"linear_backward: {name} is {shape_of(grad)}")
        message = (f"linear_backward({case.describe()}): {name} has shape {tuple(grad.shape)} "
                   f"but must have the shape of what it differentiates, {tuple(wrt.shape)}")
        for mistake in mistakes:
            try:
                wrong = mistake.compute(*args)
            except RuntimeError:
                continue
            if tuple(wrong.shape) == tuple(grad.shape):
                message += f". Likely mistake: {mistake.description}"
                break
        require(tuple(grad.shape) == tuple(wrt.shape), message)
        require(grad.dtype == dtype, f"linear_backward: {name} is {grad.dtype}, not {dtype}")


@pytest.mark.task(LINEAR, category="values")
@given(case=linear_cases(), dtype=float_dtypes())
@example(case=LinearCase(N=4, d_in=3, d_out=3, seed=5), dtype=torch.float64)  # W.T fits too
@example(case=TYPICAL_LINEAR, dtype=torch.float64)
@example(case=LinearCase(N=3, d_in=2, d_out=2, seed=4), dtype=torch.float64)
def test_linear_backward_matches_the_reference(candidate, reference, case, dtype):
    """Each of the three gradients equals the reference's, float32 and float64."""
    args = case.tensors(dtype)
    got = linear_gradients(candidate, case, args)
    for index, name in enumerate(GRADIENT_NAMES):
        assert_matches(got[index], one_of(reference.linear_backward, index), *args,
                       what=f"{name} from linear_backward({case.describe()}, {dtype})",
                       mistakes=LINEAR_MISTAKES[name])


@pytest.mark.task(LINEAR, category="grad")
@given(case=linear_cases())
@example(case=TYPICAL_LINEAR)
def test_linear_backward_agrees_with_autograd(candidate, case):
    """The hand-derived gradients equal what autograd computes for x @ W.T + b (float64)."""
    args = case.tensors()
    got = linear_gradients(candidate, case, args)
    for index, name in enumerate(GRADIENT_NAMES):
        assert_matches(got[index], one_of(by_autograd, index), *args,
                       what=f"{name} from linear_backward({case.describe()}) against autograd",
                       mistakes=LINEAR_MISTAKES[name])


@pytest.mark.task(LINEAR, category="values")
@pytest.mark.parametrize("case", [TYPICAL_LINEAR, LinearCase(N=6, d_in=5, d_out=3, seed=2)],
                         ids=lambda case: f"N{case.N}-in{case.d_in}-out{case.d_out}")
def test_linear_backward_keeps_float64_precision(candidate, case):
    """In float64 each gradient equals autograd's up to float64 rounding."""
    args = case.tensors()
    got = linear_gradients(candidate, case, args)
    for name, grad, expected in zip(GRADIENT_NAMES, got, by_autograd(*args), strict=True):
        assert_float64_precision(grad, expected,
                             f"{name} from linear_backward({case.describe()}, torch.float64)")


def tensors_in(value: Any) -> Iterator[Tensor]:
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from tensors_in(item)


class AutogradWatch(TorchFunctionMode):
    """Notes, during one call, every autograd entry point and every tensor that joins a graph.

    Inputs that do not require grad build no graph, so a tensor that requires grad can only come
    from code preparing to ask autograd (requires_grad_, nn.Parameter, requires_grad=True); the
    entry points (torch.autograd.grad, Tensor.backward, and torch.func, which calls grad) are
    seen by name however they were imported.
    """

    ENTRY_POINTS = frozenset({"grad", "backward", "_run_backward", "vjp", "jacobian", "hessian"})

    def __init__(self) -> None:
        super().__init__()
        self.called: list[str] = []
        self.graph_ops: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        name = getattr(func, "__name__", str(func))
        if name in self.ENTRY_POINTS:
            self.called.append(name)
        result = func(*args, **(kwargs or {}))
        if name != "__get__" and any(t.requires_grad for t in tensors_in(result)):
            self.graph_ops.append(name)
        return result

    def verdict(self) -> str | None:
        """What gave autograd away, in words; None when nothing did."""
        if self.called:
            name = self.called[0]
            return f"it called `{name}`" + (" (torch.autograd.grad)" if name == "grad" else "")
        if self.graph_ops:
            return (f"it built an autograd graph (`{self.graph_ops[0]}` returned a tensor that "
                    "requires grad, from inputs that do not)")
        return None


@pytest.mark.task(LINEAR, category="structure")
def test_linear_backward_does_not_ask_autograd(candidate):
    """Called on tensors that do not require grad, it builds no graph and runs no backward."""
    case = TYPICAL_LINEAR
    args = case.tensors()
    with AutogradWatch() as watch:
        got = candidate.linear_backward(*args)
    verdict = watch.verdict()
    if verdict is None and any(t.requires_grad for t in tensors_in(got)):
        verdict = "what it returned requires grad"
    require(verdict is None, (
        f"linear_backward({case.describe()}) used autograd: {verdict}. This task is the "
        "backward pass itself, derived by hand: compute grad_x, grad_W and grad_b from x, W and "
        "grad_out with matrix products and a sum, without torch.autograd.grad, .backward(), "
        "torch.func or requires_grad_."))


@pytest.mark.task(LINEAR, category="structure")
def test_linear_backward_has_no_loop_over_the_batch(candidate):
    """The number of tensor ops is the same for a batch of 3 rows as for 7."""

    def make_call(n: int) -> Callable[[], Any]:
        args = LinearCase(N=n, d_in=4, d_out=2, seed=n).tensors()
        return lambda: candidate.linear_backward(*args)

    assert_op_count_constant(make_call, sizes=(3, 7, 28), dim="batch size (N)")


@pytest.mark.task(LINEAR, category="structure")
@pytest.mark.parametrize("dim", ["in_features", "out_features"])
def test_linear_backward_has_no_loop_over_the_features(candidate, dim):
    """The number of tensor ops is the same for 3 input (or output) features as for 28."""

    def make_call(n: int) -> Callable[[], Any]:
        d_in, d_out = (n, 2) if dim == "in_features" else (4, n)
        args = LinearCase(N=3, d_in=d_in, d_out=d_out, seed=n).tensors()
        return lambda: candidate.linear_backward(*args)

    assert_op_count_constant(
        make_call, sizes=(3, 7, 28), dim=f"number of {dim} ({dim[:-9]})",
        advice="Each gradient is one tensor expression over whole matrices: grad_out @ W, "
               "grad_out.T @ x and grad_out.sum(dim=0), with no loop over rows or columns.")


# --- Sigmoid ------------------------------------------------------------------------------------


def sigmoid_apply(module: Any) -> Callable[[Tensor], Tensor]:
    """Sigmoid.apply, after checking that Sigmoid is an autograd Function."""
    cls = module.Sigmoid
    require(isinstance(cls, type) and issubclass(cls, torch.autograd.Function), (
        f"Sigmoid is {cls!r}; it must be a class that subclasses torch.autograd.Function, with "
        "static methods forward(ctx, x) and backward(ctx, grad_output)"))
    return cls.apply


def sigmoid_grad_with(apply: Callable[[Tensor], Tensor]) -> Callable[[Tensor, Tensor], Tensor]:
    """x, upstream -> the gradient that `apply`'s backward pulls back to x."""

    def compute(x: Tensor, upstream: Tensor) -> Tensor:
        leaf = x.detach().requires_grad_(True)
        with torch.enable_grad():
            out = apply(leaf)
        require(isinstance(out, Tensor) and out.requires_grad, (
            f"Sigmoid.apply(x) returned {shape_of(out)} with no graph attached for an x that "
            "requires grad; return a tensor computed from x in forward"))
        (grad,) = torch.autograd.grad(out, leaf, upstream)
        return grad

    return compute


# 1 / (1 + exp(x)) and exp(-x) / (1 + exp(-x)) are one function, σ(-x) = 1 - σ(x): one
# diagnosis names both (two would always name the first).
SIGMOID_VALUE_MISTAKES = (
    Mistake("you computed σ(-x) = 1 - σ(x), which 1 / (1 + exp(x)) and exp(-x) / (1 + exp(-x)) "
            "both are; σ(x) = 1 / (1 + exp(-x))", lambda x: 1 / (1 + torch.exp(x))),
)


def _s(x: Tensor) -> Tensor:
    return torch.sigmoid(x)


SIGMOID_GRAD_MISTAKES = (
    Mistake("backward used the input x where the formula needs the output s = σ(x): "
            "dσ/dx = s (1 - s), not x (1 - x). Save s in forward with ctx.save_for_backward(s) "
            "and read it back from ctx.saved_tensors", lambda x, g: g * x * (1 - x)),
    Mistake("backward ignored grad_output; by the chain rule it returns grad_output times the "
            "local derivative: grad_output * s * (1 - s)", lambda x, g: _s(x) * (1 - _s(x))),
    Mistake("the (1 - s) factor is missing: dσ/dx = s (1 - s)", lambda x, g: g * _s(x)),
    Mistake("the s factor is missing: dσ/dx = s (1 - s)", lambda x, g: g * (1 - _s(x))),
    Mistake("the sign is flipped: dσ/dx = s (1 - s) is positive",
            lambda x, g: -g * _s(x) * (1 - _s(x))),
)


@pytest.mark.task(SIGMOID, category="shape")
@pytest.mark.parametrize("shape", [(), (5,), (2, 3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_sigmoid_keeps_the_shape_and_dtype(candidate, shape, dtype):
    """Sigmoid.apply(x) is elementwise: the shape and dtype of x."""
    apply = sigmoid_apply(candidate)
    out = apply(randn(shape, 0, dtype))
    require(isinstance(out, Tensor) and tuple(out.shape) == shape and out.dtype == dtype, (
        f"Sigmoid.apply(x of shape {shape}, {dtype}) returned {shape_of(out)}; σ is "
        f"elementwise, so return shape {shape} and dtype {dtype}"))


@pytest.mark.task(SIGMOID, category="values")
@given(shape=small_shapes(1, 3, max_side=5), seed=seeds(), dtype=float_dtypes(),
       scale=st.sampled_from((1.0, 6.0)))
def test_sigmoid_matches_the_reference(candidate, reference, shape, seed, dtype, scale):
    """σ(x) = 1 / (1 + exp(-x)) elementwise, float32 and float64."""
    x = randn(shape, seed, dtype, scale=scale)
    assert_matches(sigmoid_apply(candidate)(x.clone()), sigmoid_apply(reference), x,
                   what=f"Sigmoid.apply(x of shape {shape}, {dtype}, values of size ~{scale:g})",
                   mistakes=SIGMOID_VALUE_MISTAKES)


@pytest.mark.task(SIGMOID, category="values")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_sigmoid_stays_finite_for_large_inputs(candidate, reference, dtype):
    """For |x| up to 1000, σ(x) is finite, within [0, 1], and saturates at 0 and 1."""
    x = torch.tensor([-1000.0, -100.0, -30.0, -5.0, 0.0, 5.0, 30.0, 100.0, 1000.0], dtype=dtype)
    out = sigmoid_apply(candidate)(x.clone())
    require(isinstance(out, Tensor) and out.shape == x.shape, (
        f"Sigmoid.apply(x of shape (9,)) returned {shape_of(out)}"))
    bad = ~torch.isfinite(out)
    if bad.any():
        where = x[bad].tolist()
        raise AssertionError(
            f"Sigmoid.apply returned {out[bad][0].item()} for x = {where[0]:g} ({dtype}); "
            f"non-finite at x in {where}. exp(x) / (1 + exp(x)) overflows to inf / inf = nan "
            "for large x: use 1 / (1 + exp(-x)), whose exp(-x) overflows only where 1 / inf = 0 "
            "is the right answer.")
    require(bool(((out >= 0) & (out <= 1)).all()), (
        f"Sigmoid.apply returned values outside [0, 1] for x = {x.tolist()}: {out.tolist()}"))
    assert_matches(out, sigmoid_apply(reference), x,
                   what=f"Sigmoid.apply(x = {[int(v) for v in x.tolist()]}, {dtype})",
                   mistakes=SIGMOID_VALUE_MISTAKES)


@pytest.mark.task(SIGMOID, category="grad")
@given(shape=small_shapes(1, 3, max_side=5), seed=seeds(), dtype=float_dtypes(),
       scale=st.sampled_from((1.0, 4.0)))
def test_sigmoid_backward_is_grad_output_times_s_times_one_minus_s(
    candidate, reference, shape, seed, dtype, scale
):
    """backward(grad_output) = grad_output * s * (1 - s), for a random grad_output."""
    x = randn(shape, seed, dtype, scale=scale)
    upstream = randn(shape, seed + 1, dtype)
    got = sigmoid_grad_with(sigmoid_apply(candidate))(x.clone(), upstream.clone())
    assert_matches(got, sigmoid_grad_with(sigmoid_apply(reference)), x, upstream,
                   what=f"the gradient Sigmoid's backward pulls back to x of shape {shape} "
                        f"({dtype}) for a random grad_output",
                   mistakes=SIGMOID_GRAD_MISTAKES)


# Where σ saturates: far enough out that float64 σ is 0 or 1 (±1000), or nearly (±30).
SATURATED = (-1000.0, -100.0, -30.0, -5.0, 0.0, 5.0, 30.0, 100.0, 1000.0)


@pytest.mark.task(SIGMOID, category="values")
def test_sigmoid_in_float64_is_accurate_in_the_tails(candidate):
    """For float64 x beyond ±20, σ(x) is float64-accurate: σ(30) = 1 - 9.4e-14, not 1 - 2e-9."""
    x = torch.tensor([-700.0, -50.0, -30.0, -25.0, -21.0, 0.5, 21.0, 25.0, 30.0, 50.0, 700.0],
                     dtype=torch.float64)
    got = sigmoid_apply(candidate)(x.clone())
    what = f"Sigmoid.apply(x = {[float(v) for v in x.tolist()]}, torch.float64)"
    try:
        assert_float64_precision(got, torch.sigmoid(x), what, {"rtol": 1e-12, "atol": 1e-13})
    except AssertionError as error:
        plateau = isinstance(got, Tensor) and got.shape == x.shape and bool(
            got[7] == got[9] and got[3] == got[1] and got[9] != 1.0)
        if plateau:
            raise AssertionError(
                f"{error}\n  Likely mistake: x was clamped before the exp (σ(25) and σ(50) come "
                "out equal); 1 / (1 + exp(-x)) needs no clamp: exp(-x) = inf gives 1 / inf = 0, "
                "the right limit") from None
        raise


@pytest.mark.task(SIGMOID, category="grad")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_sigmoid_backward_stays_finite_for_large_inputs(candidate, reference, dtype):
    """Where σ saturates, backward gives the derivative s (1 - s), 0 or nearly: never NaN/inf."""
    x = torch.tensor(SATURATED, dtype=dtype)
    upstream = randn((len(SATURATED),), 3, dtype)
    got = sigmoid_grad_with(sigmoid_apply(candidate))(x.clone(), upstream.clone())
    bad = ~torch.isfinite(got)
    if bad.any():
        first = int(bad.nonzero()[0])
        raise AssertionError(
            f"the gradient Sigmoid's backward pulls back to x = {list(SATURATED)} ({dtype}) is "
            f"{got[first].item()} at x = {SATURATED[first]:g} (non-finite at x in "
            f"{x[bad].tolist()}), where σ saturates and the derivative s (1 - s) is 0 or nearly. "
            "A division by s or by (1 - s), as in s² (1/s - 1), is inf there and 0 * inf = NaN: "
            "multiply instead, grad_output * s * (1 - s).")
    assert_matches(got, sigmoid_grad_with(sigmoid_apply(reference)), x, upstream,
                   what=f"the gradient Sigmoid's backward pulls back to x = {list(SATURATED)} "
                        f"({dtype})", mistakes=SIGMOID_GRAD_MISTAKES)


@pytest.mark.task(SIGMOID, category="grad")
def test_sigmoid_keeps_each_calls_output_apart(candidate):
    """Two applications alive at once (y1, y2) and one applied to the other's output: each
    backward uses its own call's s."""
    apply = sigmoid_apply(candidate)
    x1, x2 = randn((5,), 0).requires_grad_(True), randn((5,), 1, scale=3.0).requires_grad_(True)
    u1 = randn((5,), 2)
    y1 = apply(x1)
    y2 = apply(x2)  # alive while y1's graph is
    require(isinstance(y1, Tensor) and y1.requires_grad and isinstance(y2, Tensor), (
        f"Sigmoid.apply(x) returned {shape_of(y1)} with no graph for an x that requires grad"))
    (got,) = torch.autograd.grad(y1, x1, u1)
    s1, s2 = torch.sigmoid(x1.detach()), torch.sigmoid(x2.detach())
    assert_matches(got, lambda: u1 * s1 * (1 - s1),
                   what="the gradient of y1 = Sigmoid.apply(x1) w.r.t. x1, taken after "
                        "y2 = Sigmoid.apply(x2) ran: two calls alive at once",
                   mistakes=(Mistake("backward read the other call's output: s is kept where "
                                     "every call shares it (on the class or in a global). Keep "
                                     "each call's own s in ctx: ctx.save_for_backward(s)",
                                     lambda: u1 * s2 * (1 - s2)),))
    x = randn((4,), 4).requires_grad_(True)
    (nested,) = torch.autograd.grad(apply(apply(x)), x, u1[:4])
    inner = torch.sigmoid(x.detach())
    outer = torch.sigmoid(inner)
    assert_matches(nested, lambda: u1[:4] * outer * (1 - outer) * inner * (1 - inner),
                   what="the gradient of Sigmoid.apply(Sigmoid.apply(x)) w.r.t. x of shape (4,): "
                        "two calls alive at once, the second on the first's output")


@pytest.mark.task(SIGMOID, category="properties")
def test_sigmoid_leaves_x_and_grad_output_unchanged(candidate):
    """forward leaves its input as it was, and backward the upstream gradient it is handed."""
    apply = sigmoid_apply(candidate)
    x = randn((4, 3), 0)
    kept = x.clone()
    apply(x)
    require(torch.equal(x, kept), (
        "Sigmoid.apply(x of shape (4, 3)) changed its input x in place (x now holds "
        f"{x.flatten()[:3].tolist()}..., it held {kept.flatten()[:3].tolist()}...). The caller's "
        "tensor must stay as it was: write -x and torch.exp(-x), not x.neg_() or x.exp_()."))
    leaf = randn((4, 3), 1).requires_grad_(True)
    upstream = randn((4, 3), 2)
    kept_upstream = upstream.clone()
    torch.autograd.grad(apply(leaf), leaf, upstream)
    require(torch.equal(upstream, kept_upstream), (
        "Sigmoid's backward changed grad_output in place: the upstream gradient the caller "
        "passed to torch.autograd.grad(out, x, upstream) now holds other values. autograd hands "
        "backward the caller's own tensor; return a new one: grad_output * s * (1 - s), not "
        "grad_output.mul_(...)."))


@pytest.mark.task(SIGMOID, category="grad")
@given(shape=small_shapes(1, 2, max_side=4), seed=seeds())
@example(shape=(6,), seed=0)
def test_sigmoid_passes_gradcheck_in_float64(candidate, shape, seed):
    """torch.autograd.gradcheck: backward agrees with finite differences of forward (float64).

    gradcheck's own tolerances (eps=1e-6, atol=1e-5, rtol=1e-3): central differences in float64
    are good to about 1e-10 here, so only a wrong backward or float32 arithmetic inside fails.
    """
    apply = sigmoid_apply(candidate)
    x = randn(shape, seed, scale=3.0).requires_grad_(True)
    if torch.autograd.gradcheck(apply, (x,), raise_exception=False):
        return
    analytic = sigmoid_grad_with(apply)(x, torch.ones_like(x))
    step = 1e-6
    with torch.no_grad():
        numeric = (apply(x + step) - apply(x - step)) / (2 * step)
    gap = (analytic - numeric).abs()
    worst = int(gap.flatten().argmax())
    shown = distinct_digits(analytic.flatten()[worst].item(), numeric.flatten()[worst].item(),
                            torch.float64)
    message = (
        f"torch.autograd.gradcheck(Sigmoid.apply, (x,)) fails for a float64 x of shape {shape}: "
        f"the derivative your backward gives and the finite difference of your forward "
        f"disagree. Worst at x = {x.flatten()[worst].item():.4g}: backward says "
        f"{shown[0]}, (σ(x + h) - σ(x - h)) / 2h says {shown[1]}. Compute in x's dtype (no "
        "float32 inside) and "
        "return grad_output * s * (1 - s) from the saved output s.")
    # The finite differences are of the candidate's forward: a backward mistake is named only
    # when that forward is σ (else a right backward for a wrong forward would be blamed).
    true_slope = torch.sigmoid(x.detach()) * (1 - torch.sigmoid(x.detach()))
    forward_is_sigmoid = torch.allclose(numeric, true_slope, rtol=1e-5, atol=1e-8)
    for mistake in SIGMOID_GRAD_MISTAKES if forward_is_sigmoid else ():
        wrong = mistake.compute(x.detach(), torch.ones_like(x))
        if torch.allclose(analytic, wrong, rtol=1e-6, atol=1e-9):
            message += f"\n  Likely mistake: {mistake.description}."
            break
    raise AssertionError(message)


# Ops that compute σ or an exponential: backward gets s from ctx and needs none of them.
RECOMPUTING_OPS = frozenset({"aten.exp", "aten.exp2", "aten.expm1", "aten.tanh", "aten.sigmoid",
                             "aten.log_sigmoid_forward", "aten.softplus"})


@pytest.mark.task(SIGMOID, category="structure")
def test_sigmoid_does_not_call_the_builtin(candidate):
    """Neither forward nor backward calls torch.sigmoid, F.sigmoid, torch.special.expit, ..."""
    apply = sigmoid_apply(candidate)
    x, upstream = randn((4, 3), 0), randn((4, 3), 1)

    def forward_and_backward() -> None:
        leaf = x.detach().requires_grad_(True)
        torch.autograd.grad(apply(leaf), leaf, upstream)

    advice = ("Compute σ(x) = 1 / (1 + exp(-x)) yourself in forward, and its derivative "
              "s * (1 - s) in backward.")
    assert_no_banned_ops(forward_and_backward, banned={"sigmoid": advice, "expit": advice})


@pytest.mark.task(SIGMOID, category="structure")
def test_sigmoid_backward_reuses_the_saved_output(candidate):
    """backward computes no exp (or tanh, or σ): s = σ(x) was saved in forward."""
    apply = sigmoid_apply(candidate)
    x, upstream = randn((4, 3), 0).requires_grad_(True), randn((4, 3), 1)
    out = apply(x)
    log = record_ops(torch.autograd.grad, out, x, upstream)
    recomputed = sorted({op for op in log.aten if op in RECOMPUTING_OPS})
    require(not recomputed, (
        f"Sigmoid's backward ran {', '.join(recomputed)}: it computes σ(x) again from the input. "
        "forward already has s = σ(x): save it with ctx.save_for_backward(s) and return "
        "grad_output * s * (1 - s) in backward, with no second exp."))


# --- accumulated_grad ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AccumulationCase:
    """A small float64 MLP with seeded weights, and batches of (inputs, targets)."""

    d_in: int
    hidden: int
    d_out: int
    batch_sizes: tuple[int, ...]
    seed: int

    def model(self) -> nn.Module:
        model = nn.Sequential(nn.Linear(self.d_in, self.hidden), nn.Tanh(),
                              nn.Linear(self.hidden, self.d_out)).double()
        with torch.no_grad():
            for i, param in enumerate(model.parameters()):
                param.copy_(randn(tuple(param.shape), self.seed + i, scale=0.5))
        return model

    def batches(self) -> list[tuple[Tensor, Tensor]]:
        return [(randn((n, self.d_in), self.seed + 100 + i),
                 randn((n, self.d_out), self.seed + 200 + i))
                for i, n in enumerate(self.batch_sizes)]

    def describe(self) -> str:
        sizes_text = ", ".join(str(n) for n in self.batch_sizes)
        return (f"a {self.d_in}→{self.hidden}→{self.d_out} MLP (Linear, Tanh, Linear) and "
                f"{len(self.batch_sizes)} batches of sizes ({sizes_text})")


@st.composite
def accumulation_cases(draw: st.DrawFn) -> AccumulationCase:
    batch_sizes = tuple(draw(st.lists(sizes(1, 4), min_size=1, max_size=4)))
    return AccumulationCase(draw(sizes(1, 4)), draw(sizes(1, 4)), draw(sizes(1, 3)), batch_sizes,
                            draw(seeds()))


TYPICAL_ACCUMULATION = AccumulationCase(3, 4, 2, (2, 3, 1), seed=0)


def trainable(model: nn.Module) -> dict[str, Tensor]:
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def per_batch_grads(model: nn.Module, batches: list[tuple[Tensor, Tensor]]
                    ) -> list[dict[str, Tensor]]:
    """Each batch's own gradient, by autograd.grad on a copy: nothing written to .grad."""
    model = copy.deepcopy(model)
    params = trainable(model)
    result = []
    for inputs, targets in batches:
        loss = F.mse_loss(model(inputs), targets)
        grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
        result.append({name: torch.zeros_like(p) if g is None else g
                       for (name, p), g in zip(params.items(), grads, strict=True)})
    return result


def summed(grads: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    return {name: sum((g[name] for g in grads[1:]), grads[0][name]) for name in grads[0]}


def gradient_dict(got: Any, model: nn.Module, what: str) -> dict[str, Tensor]:
    """The learner's dict, after checking its keys against the trainable parameters."""
    require(isinstance(got, dict), (
        f"{what} returned {shape_of(got)}; return a dict from parameter name to gradient, "
        "e.g. {name: p.grad.clone() for name, p in model.named_parameters() if p.requires_grad}"))
    names = list(trainable(model))
    missing = [n for n in names if n not in got]
    extra = [n for n in got if n not in names]
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    require(not missing, (
        f"{what}: the result has no entry for {', '.join(f'`{n}`' for n in missing)}; it needs "
        f"one for every parameter with requires_grad=True: {names}"))
    require(not extra, (
        f"{what}: the result has entries for {', '.join(f'`{n}`' for n in extra)}, which "
        + ("are frozen (requires_grad=False) and must be left out" if set(extra) <= set(frozen)
           else f"are not trainable parameters of the model; the keys are {names}")))
    for name in names:
        require(isinstance(got[name], Tensor) and got[name].shape == model.get_parameter(
            name).shape, (f"{what}: the gradient of `{name}` is {shape_of(got[name])}; it must "
                          f"have the parameter's shape {tuple(model.get_parameter(name).shape)}"))
    return got


def accumulation_mistakes(per_batch: list[dict[str, Tensor]], name: str) -> tuple[Mistake, ...]:
    total = summed(per_batch)[name]
    return (
        Mistake("this is the last batch's gradient alone: the gradients were cleared inside the "
                "loop. Call zero_grad once, before the loop, and let backward add up",
                lambda: per_batch[-1][name]),
        Mistake("this is the first batch's gradient alone: backward must run on every batch",
                lambda: per_batch[0][name]),
        Mistake("this is the average over the batches; accumulation sums them (backward adds "
                "into .grad), so don't divide by the number of batches",
                lambda: total / len(per_batch)),
    )


@pytest.mark.task(ACCUMULATED, category="shape")
def test_accumulated_grad_has_one_entry_per_trainable_parameter(candidate):
    """Keys: the trainable parameters in named_parameters() order; frozen ones left out."""
    case = TYPICAL_ACCUMULATION
    model = case.model()
    model[0].bias.requires_grad_(False)
    what = f"accumulated_grad({case.describe()}, the first layer's bias frozen)"
    names = list(trainable(model))
    got = candidate.accumulated_grad(model, case.batches())
    unfrozen = [name for name, p in model.named_parameters() if p.requires_grad
                and name not in names]
    require(not unfrozen, (
        f"{what} turned requires_grad back on for {unfrozen}: the caller froze them. Leave "
        "every requires_grad flag as it is (no model.requires_grad_(True)); a frozen parameter "
        "simply gets no entry."))
    got = gradient_dict(got, model, what)
    require(list(got) == names, (
        f"{what}: keys in the order {list(got)}; use named_parameters() order: {names}"))


@pytest.mark.task(ACCUMULATED, category="values")
@given(case=accumulation_cases())
@example(case=TYPICAL_ACCUMULATION)
def test_accumulated_grad_matches_the_reference(candidate, reference, case):
    """Each parameter's result is the sum over batches of its gradient of that batch's MSE loss."""
    batches = case.batches()
    model = case.model()
    what = f"accumulated_grad({case.describe()})"
    got = gradient_dict(candidate.accumulated_grad(model, batches), model, what)
    expected = reference.accumulated_grad(case.model(), batches)
    per_batch = per_batch_grads(case.model(), batches)
    for name, grad in expected.items():
        assert_matches(got[name], lambda grad=grad: grad, what=f"{what}: the gradient of `{name}`",
                       mistakes=accumulation_mistakes(per_batch, name))


@pytest.mark.task(ACCUMULATED, category="properties")
@given(case=accumulation_cases())
@example(case=TYPICAL_ACCUMULATION)
def test_accumulated_grad_is_the_gradient_of_the_summed_losses(candidate, case):
    """One backward per batch adds up to one backward of the summed losses, parameter by one."""
    batches = case.batches()
    model = case.model()
    got = gradient_dict(candidate.accumulated_grad(model, batches), model,
                        f"accumulated_grad({case.describe()})")
    twin = case.model()
    total_loss = sum(F.mse_loss(twin(inputs), targets) for inputs, targets in batches)
    assert isinstance(total_loss, Tensor)
    total_loss.backward()
    for name, param in trainable(twin).items():
        assert param.grad is not None
        if not torch.allclose(got[name], param.grad, **FLOAT64_ROUNDING):
            gap = float((got[name] - param.grad).abs().max())
            raise AssertionError(
                f"accumulated_grad({case.describe()}): the gradient of `{name}` differs by up to "
                f"{gap:.3g} from the gradient of the sum of the batches' losses (one backward of "
                "mse(batch 1) + mse(batch 2) + ...). backward once per batch, with no zero_grad "
                "in between, must add up to exactly that.")


@pytest.mark.task(ACCUMULATED, category="properties")
def test_accumulated_grad_ignores_gradients_left_from_before(candidate):
    """Gradients already in .grad (an earlier backward) do not leak into the result."""
    case = TYPICAL_ACCUMULATION
    batches = case.batches()
    model = case.model()
    stale = {}
    for i, (name, param) in enumerate(model.named_parameters()):
        param.grad = randn(tuple(param.shape), 50 + i)
        stale[name] = param.grad.clone()
    what = (f"accumulated_grad({case.describe()}) on a model whose .grad fields still hold an "
            "earlier backward's gradients")
    got = gradient_dict(candidate.accumulated_grad(model, batches), model, what)
    expected = summed(per_batch_grads(case.model(), batches))
    for name, grad in expected.items():
        if torch.allclose(got[name], grad, **FLOAT64_ROUNDING):
            continue
        if torch.allclose(got[name], grad + stale[name], **FLOAT64_ROUNDING):
            raise AssertionError(
                f"{what}: the gradient of `{name}` includes the stale gradient that was in .grad "
                "before the call. backward adds to whatever .grad holds: call model.zero_grad() "
                "once before the first backward.")
        gap = float((got[name] - grad).abs().max())
        raise AssertionError(f"{what}: the gradient of `{name}` is off by up to {gap:.3g}")
    for name, param in model.named_parameters():
        require(param.grad is not None and torch.allclose(param.grad, got[name],
                                                          **FLOAT64_ROUNDING), (
            f"{what}: afterwards `{name}`.grad is "
            f"{'None' if param.grad is None else 'not the accumulated gradient returned'}. "
            "The stale gradients are to be cleared, not put back: on return .grad holds exactly "
            "the sum of this call's per-batch gradients."))


@pytest.mark.task(ACCUMULATED, category="properties")
def test_accumulated_grad_leaves_the_sum_in_grad_and_the_weights_alone(candidate):
    """Afterwards .grad holds the returned gradients, and the parameters have not moved."""
    case = TYPICAL_ACCUMULATION
    model = case.model()
    weights = {name: p.detach().clone() for name, p in model.named_parameters()}
    what = f"accumulated_grad({case.describe()})"
    got = gradient_dict(candidate.accumulated_grad(model, case.batches()), model, what)
    for name, param in model.named_parameters():
        require(torch.equal(param.detach(), weights[name]), (
            f"{what} changed the parameter `{name}`; it only computes gradients (no optimizer "
            "step, no in-place update of the weights)"))
        require(param.grad is not None and torch.allclose(param.grad, got[name],
                                                          **FLOAT64_ROUNDING), (
            f"{what}: afterwards `{name}`.grad is "
            f"{'None' if param.grad is None else 'not what was returned'}; the accumulated "
            "gradient should stay in .grad, where backward put it"))


@pytest.mark.task(ACCUMULATED, category="properties")
def test_accumulated_grad_returns_copies(candidate):
    """The returned tensors are not .grad itself: a later zero_grad or backward leaves them be."""
    case = TYPICAL_ACCUMULATION
    model = case.model()
    batches = case.batches()
    what = f"accumulated_grad({case.describe()})"
    got = gradient_dict(candidate.accumulated_grad(model, batches), model, what)
    kept = {name: grad.detach().clone() for name, grad in got.items()}
    model.zero_grad(set_to_none=False)  # zeroes every .grad in place, as optimizers may
    inputs, targets = batches[0]
    F.mse_loss(model(inputs), targets).backward()  # adds in place into .grad
    changed = [name for name in got if not torch.equal(got[name], kept[name])]
    require(not changed, (
        f"{what}: the returned gradients of {', '.join(f'`{n}`' for n in changed)} changed when "
        "the caller later ran zero_grad(set_to_none=False) and another backward: you returned "
        "param.grad itself, which backward and zero_grad update in place. Return a copy: "
        "param.grad.clone()."))


class WithSpareWeight(nn.Module):
    """A model with a trainable parameter that its forward never uses."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.spare = nn.Parameter(torch.ones(2, dtype=torch.float64))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


@pytest.mark.task(ACCUMULATED, category="properties")
def test_accumulated_grad_drops_the_old_grad_tensors(candidate):
    """The .grad tensors from before the call are dropped, not zeroed in place and added into: a
    caller still holding one sees it unchanged (also the one of a parameter no loss reaches)."""
    case = TYPICAL_ACCUMULATION
    model = WithSpareWeight(case.model())
    batches = case.batches()
    expected = summed(per_batch_grads(model, batches))
    held: dict[str, Tensor] = {}
    kept: dict[str, Tensor] = {}
    for i, (name, param) in enumerate(model.named_parameters()):
        param.grad = randn(tuple(param.shape), 70 + i, offset=2.0)  # well away from 0
        held[name] = param.grad
        kept[name] = param.grad.clone()
    what = (f"accumulated_grad({case.describe()}, plus a parameter `spare` the forward never "
            "uses; every .grad holding an earlier gradient that the caller keeps a reference to)")
    call_reporting(what, "Clear the old gradients once with model.zero_grad(), then run backward "
                   "once per batch.", lambda: candidate.accumulated_grad(model, batches))
    for name, old in held.items():
        if torch.equal(old, kept[name]):
            continue
        gap = (old - kept[name]).abs()
        index = tuple(int(i) for i in torch.unravel_index(gap.argmax(), gap.shape))
        message = (f"{what}: the old .grad tensor of `{name}` (shape {tuple(old.shape)}), which "
                   f"the caller still holds, was changed: at {list(index)} it held "
                   f"{kept[name][index].item():.6g} and now holds {old[index].item():.6g}.")
        # Cleared in place: the old tensor lost what it held and now holds this call's sum (an
        # old tensor never cleared holds the old gradient plus the sum: another mistake).
        if model.get_parameter(name).grad is old and torch.allclose(old, expected[name],
                                                                    **FLOAT64_ROUNDING):
            message += ("\n  Likely mistake: the gradients were cleared in place "
                        "(model.zero_grad(set_to_none=False), or p.grad.zero_()), so the old "
                        "tensors stayed in .grad and backward added into them. Clear with "
                        "model.zero_grad(): it sets every .grad to None, and backward makes new "
                        "tensors.")
        raise AssertionError(message)


@pytest.mark.task(ACCUMULATED, category="properties")
def test_accumulated_grad_gives_zeros_to_a_parameter_no_loss_reaches(candidate):
    """A trainable parameter the forward never uses gets zeros (its .grad stays None)."""
    case = TYPICAL_ACCUMULATION
    model = WithSpareWeight(case.model())
    what = (f"accumulated_grad({case.describe()}, plus a trainable parameter `spare` that the "
            "forward never uses)")
    advice = ("backward never reaches `spare`, so its .grad stays None; its accumulated gradient "
              "is zeros: return torch.zeros_like(param) for it.")
    got = call_reporting(what, advice, lambda: candidate.accumulated_grad(model, case.batches()))
    require(isinstance(got, dict) and "spare" in got, (
        f"{what}: the result has no entry for `spare`. {advice}"))
    spare = got["spare"]
    require(isinstance(spare, Tensor) and spare.shape == (2,) and bool((spare == 0).all()), (
        f"{what}: the gradient of `spare` is {shape_of(spare)}; expected zeros of shape (2,). "
        f"{advice}"))
    require(spare.dtype == model.spare.dtype, (
        f"{what}: the zeros for `spare` are {spare.dtype}, the parameter is "
        f"{model.spare.dtype}: a gradient has its parameter's dtype and device. "
        "torch.zeros(param.shape) is float32 whatever the model is; torch.zeros_like(param) "
        "copies both."))


@pytest.mark.task(ACCUMULATED, category="properties")
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_accumulated_grad_keeps_the_models_mode(candidate, mode):
    """A model the caller put in eval mode (dropout off) stays in it, and its gradients are
    those of the eval-mode losses; a model in training mode stays in training mode."""
    case = TYPICAL_ACCUMULATION
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Tanh(), nn.Linear(4, 2)).double()
    with torch.no_grad():
        for i, param in enumerate(model.parameters()):
            param.copy_(randn(tuple(param.shape), i, scale=0.5))
    model.train(mode == "train")
    twin = copy.deepcopy(model)
    batches = case.batches()
    what = (f"accumulated_grad(a 3→4→2 MLP with nn.Dropout(0.5), in {mode} mode, and "
            f"{len(batches)} batches)")
    got = gradient_dict(candidate.accumulated_grad(model, batches), model, what)
    switched = [name or "the model" for name, m in model.named_modules()
                if m.training != (mode == "train")]
    require(not switched, (
        f"{what} left {', '.join(switched)} in {'eval' if mode == 'train' else 'training'} "
        f"mode; the caller had put the model in {mode} mode. Leave the mode as it is (no "
        "model.train() or model.eval()): the losses are those of the model as it was given."))
    if mode == "eval":
        expected = summed(per_batch_grads(twin, batches))
        for name, grad in expected.items():
            assert_matches(got[name], lambda grad=grad: grad,
                           what=f"{what}: the gradient of `{name}`")


@pytest.mark.task(ACCUMULATED, category="structure")
def test_accumulated_grad_runs_one_backward_per_batch(candidate):
    """Each parameter receives a gradient once per batch: backward per batch, not on the sum."""
    case = TYPICAL_ACCUMULATION
    model = case.model()
    arrivals = {name: 0 for name in trainable(model)}

    def count(name: str) -> Callable[[Tensor], None]:
        def hook(grad: Tensor) -> None:
            arrivals[name] += 1
        return hook

    hooks = [p.register_hook(count(name)) for name, p in trainable(model).items()]
    try:
        candidate.accumulated_grad(model, case.batches())
    finally:
        for hook in hooks:
            hook.remove()
    wanted = len(case.batch_sizes)
    wrong = {name: n for name, n in arrivals.items() if n != wanted}
    require(not wrong, (
        f"accumulated_grad({case.describe()}): a gradient reached "
        + ", ".join(f"`{name}` {n} time{'s' * (n != 1)}" for name, n in wrong.items())
        + f", expected {wanted}, once per batch. Call backward on each batch's loss as you go "
        "(that is the accumulation: only one batch's graph is alive at a time), not once on "
        "the summed loss, and not twice on the same batch."))


# --- leaves_without_grad ------------------------------------------------------------------------

# How a parameter enters the loss, and whether loss.backward() gives it a .grad.
MODES: dict[str, tuple[str, bool]] = {
    "used": ("used normally", True),
    "times zero": ("multiplied by 0: its gradient is zeros, but it has one", True),
    "detached": ("used only through .detach()", False),
    "data": ("used only through .data", False),
    "no_grad": ("used only inside a torch.no_grad() block", False),
    "compared": ("used only through a comparison, (w > 0)", False),
    "frozen": ("requires_grad=False", False),
    "unused": ("not used by the loss", False),
}
NO_GRAPH_MODES = tuple(mode for mode, (_, reached) in MODES.items() if not reached)


def build_loss(modes: tuple[str, ...], seed: int) -> tuple[Tensor, dict[str, Tensor]]:
    """A scalar loss over leaves w0, w1, ..., each entering it the way its mode says."""
    loss = torch.zeros((), dtype=torch.float64)
    params: dict[str, Tensor] = {}
    for i, mode in enumerate(modes):
        w = randn((i + 2,), seed + i).requires_grad_(mode != "frozen")
        c = randn((i + 2,), seed + 50 + i)
        params[f"w{i}"] = w
        if mode in ("used", "frozen"):
            loss = loss + (w * c).tanh().sum()
        elif mode == "times zero":
            loss = loss + (0 * w * c).sum()
        elif mode == "detached":
            loss = loss + (w.detach() * c).sum()
        elif mode == "data":
            loss = loss + (w.data * c).sum()
        elif mode == "no_grad":
            with torch.no_grad():
                term = (w * c).sum()
            loss = loss + term
        elif mode == "compared":
            loss = loss + ((w > 0).to(w.dtype) * c).sum()
    return loss, params


def describe_modes(modes: tuple[str, ...]) -> str:
    return "; ".join(f"w{i} {MODES[mode][0]}" for i, mode in enumerate(modes))


def left_at_none_by_backward(modes: tuple[str, ...], seed: int) -> list[str]:
    """The oracle: build the same loss, run loss.backward(), and see which .grad stay None."""
    loss, params = build_loss(modes, seed)
    if loss.requires_grad:
        loss.backward()
    return [name for name, w in params.items() if w.grad is None]


def name_list(got: Any, what: str) -> list[str]:
    require(isinstance(got, list) and all(isinstance(n, str) for n in got), (
        f"{what} returned {shape_of(got)}; return a list of parameter names (str), in the "
        "order of params"))
    return got


@pytest.mark.task(LEAVES, category="shape")
def test_leaves_without_grad_returns_a_list_of_names(candidate):
    """The answer is a list of the names (str) from params, in params' order."""
    modes = ("detached", "used", "unused")
    loss, params = build_loss(modes, 0)
    what = f"leaves_without_grad(loss, params) with {describe_modes(modes)}"
    got = name_list(candidate.leaves_without_grad(loss, params), what)
    require(got == ["w0", "w2"], (
        f"{what} returned {got}, expected ['w0', 'w2']: the names without a gradient, in the "
        "order of params"))


@st.composite
def mode_lists(draw: st.DrawFn) -> tuple[str, ...]:
    return tuple(draw(st.lists(st.sampled_from(tuple(MODES)), min_size=1, max_size=5)))


@pytest.mark.task(LEAVES, category="values")
@given(modes=mode_lists(), seed=seeds())
@example(modes=tuple(MODES), seed=0)
@example(modes=("used", "times zero"), seed=1)
@example(modes=NO_GRAPH_MODES, seed=2)
def test_leaves_without_grad_names_what_backward_leaves_at_none(candidate, modes, seed):
    """Exactly the parameters whose .grad loss.backward() would leave at None, in params' order."""
    expected = left_at_none_by_backward(modes, seed)
    assert expected == [f"w{i}" for i, mode in enumerate(modes) if not MODES[mode][1]]
    loss, params = build_loss(modes, seed)
    what = f"leaves_without_grad(loss, params) with {describe_modes(modes)}"
    got = name_list(candidate.leaves_without_grad(loss, params), what)
    if got == expected:
        return
    wrong = []
    for i, mode in enumerate(modes):
        name = f"w{i}"
        if (name in got) != (name in expected):
            verdict = "gets no gradient" if name in expected else "does get a gradient"
            wrong.append(f"{name} ({MODES[mode][0]}) {verdict}")
    lines = [f"{what}: returned {got}, expected {expected}."]
    if wrong:
        lines.append("  Misjudged: " + "; ".join(wrong) + ".")
    else:
        lines.append("  Same names, wrong order: keep the order of params.")
    if any(modes[int(w[1:])] == "times zero" for w in got if w not in expected):
        lines.append("  A gradient of zeros is still a gradient: only None means 'not reached' "
                     "(don't pass materialize_grads=True, and don't test the values).")
    raise AssertionError("\n".join(lines))


@pytest.mark.task(LEAVES, category="properties")
def test_leaves_without_grad_writes_no_grad(candidate):
    """Every .grad is as before the call: None stays None, a held gradient is unchanged."""
    modes = tuple(MODES)
    loss, params = build_loss(modes, 3)
    for i, w in enumerate(params.values()):
        if i % 2 == 0 and w.requires_grad:
            w.grad = randn(tuple(w.shape), 90 + i)
    before = grad_snapshot(params)
    flags = {name: w.requires_grad for name, w in params.items()}
    candidate.leaves_without_grad(loss, params)
    flipped = [name for name, w in params.items() if w.requires_grad != flags[name]]
    require(not flipped, (
        f"leaves_without_grad(loss, params) with {describe_modes(modes)} changed requires_grad "
        f"on {flipped}: the caller's frozen parameters now train. Leave every flag as it is; a "
        "parameter with requires_grad=False gets no gradient, so name it without asking "
        "torch.autograd.grad about it."))
    changes = changed_grads(params, before)
    require(not changes, (
        f"leaves_without_grad(loss, params) with {describe_modes(modes)}, where w0, w2, ... "
        f"already held gradients: {'; '.join(changes)}. loss.backward() writes into .grad (and "
        "clearing it afterwards wipes gradients that were there before). Ask "
        "torch.autograd.grad(loss, tensors, allow_unused=True, retain_graph=True) instead: it "
        "returns the gradients, None for the unreached ones, and writes nothing."))


@pytest.mark.task(LEAVES, category="values")
def test_leaves_without_grad_keeps_the_order_of_params(candidate):
    """The names come in the order of params, which need not be alphabetical."""
    modes = ("unused", "used", "detached", "frozen", "times zero")
    loss, tensors = build_loss(modes, 6)
    names = ["head.weight", "embed.weight", "blocks.1.bias", "blocks.0.bias", "alpha"]
    params = dict(zip(names, tensors.values(), strict=True))
    expected = [name for name, mode in zip(names, modes, strict=True) if not MODES[mode][1]]
    what = ("leaves_without_grad(loss, params) with params named " + ", ".join(
        f"{name} ({MODES[mode][0]})" for name, mode in zip(names, modes, strict=True)))
    got = name_list(candidate.leaves_without_grad(loss, params), what)
    require(got == expected, (
        f"{what}: returned {got}, expected {expected}"
        + (": the right names, in the wrong order. Keep the order of params (a list "
           "comprehension over params), not sorted() or a set's" if sorted(got) == sorted(expected)
           else "")))


@pytest.mark.task(LEAVES, category="values")
@pytest.mark.parametrize("shape", [(), (1,)])
def test_a_loss_that_is_a_parameter_itself_reaches_it(candidate, shape):
    """loss = w, a one-element leaf that requires grad: loss.backward() gives w.grad = 1."""
    w = randn(shape, 0).requires_grad_(True)
    params = {"w": w, "v": randn((2,), 1).requires_grad_(True)}
    what = (f"leaves_without_grad(loss = w, params = {{'w': w, 'v': v}}), w of shape {shape} "
            "and the loss itself")
    got = name_list(call_reporting(
        what, "The loss here is the leaf w itself: it requires grad but has no grad_fn.",
        lambda: candidate.leaves_without_grad(w, params)), what)
    require(got == ["v"], (
        f"{what}: returned {got}, expected ['v']. loss.backward() on a loss that is the "
        "parameter w itself gives w.grad = 1: w is reached. A leaf has no grad_fn, so "
        "`loss.grad_fn is None` does not mean 'no graph'; loss.requires_grad does."))


@pytest.mark.task(LEAVES, category="properties")
@pytest.mark.parametrize("frozen_count", [2, 0])
def test_a_loss_with_a_graph_and_every_parameter_frozen(candidate, frozen_count):
    """The loss has a graph (through a tensor not in params) while every parameter in params is
    frozen, or params is empty: every name is returned, and nothing raises."""
    hidden = randn((3,), 7).requires_grad_(True)
    frozen_params = {f"w{i}": randn((3,), 8 + i) for i in range(frozen_count)}
    loss = (hidden * sum(frozen_params.values(), torch.ones(3, dtype=torch.float64))).sum()
    what = (f"leaves_without_grad(loss, params) where the loss requires grad through a tensor "
            f"not in params, and params holds {frozen_count} parameters, all frozen")
    got = call_reporting(
        what, "No parameter in params requires grad, so none is reached, whatever the loss: "
        "skip the frozen ones and don't ask torch.autograd.grad about an empty list, which "
        "refuses it.", lambda: candidate.leaves_without_grad(loss, frozen_params))
    require(name_list(got, what) == list(frozen_params), (
        f"{what}: returned {got}, expected {list(frozen_params)}"))


@pytest.mark.task(LEAVES, category="properties")
def test_leaves_without_grad_keeps_the_graph_for_backward(candidate):
    """After the call the caller can still run loss.backward() on the same loss."""
    modes = ("used", "detached", "times zero")
    loss, params = build_loss(modes, 4)
    candidate.leaves_without_grad(loss, params)
    try:
        loss.backward()
    except RuntimeError as exc:
        raise AssertionError(
            f"after leaves_without_grad(loss, params) with {describe_modes(modes)}, the caller's "
            f"own loss.backward() failed: {failure(exc)}. The first backward pass frees the "
            "graph; pass retain_graph=True to torch.autograd.grad so that it stays.") from None


@pytest.mark.task(LEAVES, category="properties")
@pytest.mark.parametrize("modes", [NO_GRAPH_MODES, ("frozen",), ("no_grad", "unused")],
                         ids=lambda modes: "+".join(modes))
def test_a_loss_without_a_graph_reaches_no_parameter(candidate, modes):
    """When the loss does not require grad at all, every parameter is named, and nothing raises."""
    loss, params = build_loss(modes, 5)
    what = f"leaves_without_grad(loss, params) with {describe_modes(modes)}"
    got = call_reporting(
        what, "This loss does not require grad at all (nothing in it has a graph), so no "
        "parameter is reached: check loss.requires_grad, and skip parameters with "
        "requires_grad=False, before asking torch.autograd.grad, which refuses both.",
        lambda: candidate.leaves_without_grad(loss, params))
    require(name_list(got, what) == list(params), (
        f"{what} returned {got}; no parameter gets a gradient from a loss without a graph, so "
        f"all of them are without one: {list(params)}"))
