"""Spec for 05-training-loop: train_step, evaluate, lr_at, checkpoints and fit.

Run by `./kata check 05-training-loop`. Code is reached only through the `candidate` and
`reference` fixtures. Everything runs in float64 on tiny models (a 3-8-2 MLP, a linear layer), so
the whole rung checks in seconds. This rung is about behaviour more than values: what the
gradients are when optimizer.step() runs, which mode and grad mode the model is in when it is
called, what a checkpoint file holds, and whether a resumed run ends bit for bit where an
uninterrupted one does. Those are watched directly: optimizer step pre-hooks, a model that records
how it was called, the checkpoint file read back with torch.load.

The spec has its own oracles (a plain training step, the closed-form schedule, a plain loop), used
to name the classic mistakes when a check fails; the reference decides what is right.

Every check fails with a message written for the learner, so pytest's assertion rewriting, which
would append its own introspection, is off for this module: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from grader.harness import Mistake, assert_matches
from grader.strategies import randn, seeds, sizes

pytestmark = pytest.mark.rung("05-training-loop")

STEP = "train_step"
EVALUATE = "evaluate"
LR_AT = "lr_at"
SAVE = "save_checkpoint"
LOAD = "load_checkpoint"
FIT = "fit"

# Losses and learning rates are float64 numbers that correct code reaches by different routes
# (a sum of floats against a sum of tensors, (1 + cos) / 2 against 0.5 * (1 + cos)): only float64
# rounding may separate them.
CLOSE = {"rel_tol": 1e-9, "abs_tol": 1e-12}
# clip_grad_norm_ scales by max_norm / (norm + 1e-6), a hand-written clip by max_norm / norm:
# the clipped norm and gradients of the two differ by about 1e-6 / norm, relative, and so do the
# losses of a clipped run after its first step.
CLIP_SLACK = 1e-5

D_IN, HIDDEN, D_OUT = 3, 8, 2
TEACHER_SEED = 7  # the fixed function every target set comes from, so tasks are learnable


# clip_grad_norm_ scales by max_grad_norm / (norm + 1e-6); scaling by max_grad_norm / norm is
# as correct and differs by 1e-6 / norm, far above float64 rounding: parameters after a clipped
# step compare at assert_close's float64 tolerance, unclipped ones at the harness's (1e-10).
CLIPPED_FLOOR = (1e-7, 1e-7)


def floor_for(max_grad_norm: float | None) -> tuple[float, float] | None:
    """The float64 floor of a comparison of parameters after steps clipped at max_grad_norm."""
    return CLIPPED_FLOOR if max_grad_norm else None


def require(condition: bool, message: str) -> None:
    """Fail with `message` alone."""
    if not condition:
        raise AssertionError(message)


def kind(value: Any) -> str:
    """A value's type in words, with shape and dtype for a tensor."""
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)} ({value.dtype})"
    if value is None or isinstance(value, (bool, int, float, str)):
        return f"{type(value).__name__} {value!r}"[:200]
    return f"a {type(value).__name__}"


def failure(exc: BaseException) -> str:
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


def as_float(value: Any, what: str) -> float:
    """A returned number that must be a Python float (int and numpy floats are accepted)."""
    require(isinstance(value, (float, int)) and not isinstance(value, bool), (
        f"{what} returned {kind(value)}; return a Python float (for a one-element tensor: "
        ".item()). A tensor keeps its autograd graph, and every step's graph alive, when a "
        "caller collects losses in a list."))
    return float(value)


# --- models, data, optimizers -------------------------------------------------------------------


def build_mlp(seed: int, dropout: float = 0.0) -> nn.Sequential:
    """A float64 3-8-2 MLP (Linear, Tanh, [Dropout], Linear) with weights drawn from `seed`."""
    layers: list[nn.Module] = [nn.Linear(D_IN, HIDDEN), nn.Tanh()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(HIDDEN, D_OUT))
    model = nn.Sequential(*layers).double()
    with torch.no_grad():
        for i, param in enumerate(model.parameters()):
            param.copy_(randn(tuple(param.shape), seed + i, scale=0.5))
    return model


def make_data(n: int, seed: int, target_scale: float = 1.0) -> tuple[Tensor, Tensor]:
    """n examples (n, 3) -> (n, 2) of a fixed smooth function."""
    x = randn((n, D_IN), seed)  # (n, 3)
    teacher = randn((D_OUT, D_IN), TEACHER_SEED)  # (2, 3)
    return x, target_scale * torch.tanh(x @ teacher.T)  # (n, 2)


def make_loader(x: Tensor, y: Tensor, batch_size: int, seed: int | None = None) -> DataLoader:
    """Batches of (inputs, targets); shuffled by a private generator when a seed is given."""
    generator = torch.Generator().manual_seed(0 if seed is None else seed)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=seed is not None,
                      generator=generator)


OPTIMIZERS: dict[str, Callable[[Any], torch.optim.Optimizer]] = {
    "SGD(lr=0.1)": lambda params: torch.optim.SGD(params, lr=0.1),
    "SGD(lr=0.05, momentum=0.9)": lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9),
    "Adam(lr=0.01)": lambda params: torch.optim.Adam(params, lr=0.01),
}


def flat_params(model: nn.Module) -> Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def global_grad_norm(model: nn.Module) -> float:
    grads = [p.grad.detach().flatten() for p in model.parameters() if p.grad is not None]
    return float(torch.cat(grads).norm()) if grads else 0.0


def mse(outputs: Tensor, targets: Tensor) -> Tensor:
    return F.mse_loss(outputs, targets)


def leave_stale_gradients(model: nn.Module, seed: int) -> None:
    """A backward on another batch, as the previous step of a loop leaves in .grad."""
    x, y = make_data(5, seed + 1000)
    F.mse_loss(model(x), y).backward()


# --- train_step ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepCase:
    """One train_step call: a fresh MLP holding stale gradients, a batch and an optimizer."""

    B: int
    optimizer: str
    max_grad_norm: float | None
    seed: int
    target_scale: float = 1.0

    def setup(self) -> tuple[nn.Module, tuple[Tensor, Tensor], torch.optim.Optimizer]:
        model = build_mlp(self.seed)
        leave_stale_gradients(model, self.seed)
        batch = make_data(self.B, self.seed + 1, self.target_scale)
        return model, batch, OPTIMIZERS[self.optimizer](model.parameters())

    def describe(self) -> str:
        return (f"train_step(MLP 3-8-2 (float64), batch of inputs ({self.B}, 3) and targets "
                f"({self.B}, 2), {self.optimizer}, F.mse_loss, max_grad_norm="
                f"{self.max_grad_norm}), the model holding gradients from an earlier backward")


def plain_step(model: nn.Module, batch: tuple[Tensor, Tensor], optimizer: torch.optim.Optimizer,
               max_grad_norm: float | None, mistake: str = "") -> float:
    """The spec's own training step, or the step with one classic mistake."""
    inputs, targets = batch
    if mistake != "no zero_grad":
        optimizer.zero_grad()
    loss = F.mse_loss(model(inputs), targets)
    loss.backward()
    if mistake == "zero_grad after backward":
        optimizer.zero_grad()
    if max_grad_norm is not None and mistake != "no clipping":
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()


def params_after_step(case: StepCase, step: Callable[..., Any]) -> Tensor:
    model, batch, optimizer = case.setup()
    step(model, batch, optimizer, mse, case.max_grad_norm)
    return flat_params(model)


def mistaken_params(mistake: str) -> Callable[[StepCase], Tensor]:
    return lambda case: params_after_step(
        case, lambda m, b, o, _, clip: plain_step(m, b, o, clip, mistake))


def told_apart(mistake: str) -> Callable[[StepCase], Tensor]:
    """mistaken_params, where the mistake shows on this case: clipping scales the whole gradient,
    which Adam all but undoes (a scaled gradient gives nearly the same step), so with Adam a step
    clipped in any way looks unclipped. Naming "not clipped" there would name a mistake that a
    step clipped the wrong way does not make."""

    def compute(case: StepCase) -> Tensor:
        wrong, right = mistaken_params(mistake)(case), mistaken_params("")(case)
        if torch.allclose(wrong, right, rtol=1e-4, atol=1e-6):
            raise ValueError(f"{mistake!r} cannot be told apart on this case")
        return wrong

    return compute


def zero_bound_skipped(case: StepCase) -> Tensor:
    """What a step that tests `if max_grad_norm:` does with max_grad_norm=0.0: no clipping."""
    if case.max_grad_norm != 0:
        raise ValueError("only a bound of 0 is mistaken for None")
    return told_apart("no clipping")(case)


STEP_MISTAKES = (
    Mistake("max_grad_norm=0.0 clipped nothing, as if it were None: 0.0 is a bound too (every "
            "gradient scaled to 0); test `max_grad_norm is not None`, not `if max_grad_norm:`",
            zero_bound_skipped),
    Mistake("the gradients left in .grad by the previous backward were added to this step's: "
            "call optimizer.zero_grad() before loss.backward() (backward adds into .grad)",
            mistaken_params("no zero_grad")),
    Mistake("optimizer.step() saw no gradients: zero_grad() ran after loss.backward(), wiping "
            "them. The order is zero_grad, forward, backward, (clip), step",
            mistaken_params("zero_grad after backward")),
    Mistake("the gradients were not clipped when optimizer.step() used them: clip after "
            "backward and before step (clipping after step, or not at all, changes nothing)",
            told_apart("no clipping")),
)


@st.composite
def step_cases(draw: st.DrawFn) -> StepCase:
    return StepCase(B=draw(sizes(1, 6)), optimizer=draw(st.sampled_from(tuple(OPTIMIZERS))),
                    max_grad_norm=draw(st.sampled_from((None, 0.0, 0.05, 100.0))),
                    seed=draw(seeds()))


TYPICAL_STEP = StepCase(B=4, optimizer="SGD(lr=0.1)", max_grad_norm=None, seed=0)


@pytest.mark.task(STEP, category="shape")
def test_train_step_returns_the_loss_as_a_python_float(candidate):
    """The return value is a Python float, not a tensor."""
    case = TYPICAL_STEP
    model, batch, optimizer = case.setup()
    as_float(candidate.train_step(model, batch, optimizer, mse), case.describe())


@pytest.mark.task(STEP, category="values")
@given(case=step_cases())
# first: clipped plain SGD, where a step clipped wrongly or not at all shows as what it is (Adam
# all but undoes a scaled gradient; the unclipped case below comes second)
@example(case=StepCase(B=4, optimizer="SGD(lr=0.1)", max_grad_norm=0.05, seed=6))
@example(case=StepCase(B=4, optimizer="SGD(lr=0.1)", max_grad_norm=None, seed=1))
@example(case=StepCase(B=3, optimizer="Adam(lr=0.01)", max_grad_norm=0.05, seed=2))
@example(case=StepCase(B=5, optimizer="SGD(lr=0.05, momentum=0.9)", max_grad_norm=0.05, seed=3))
@example(case=StepCase(B=4, optimizer="SGD(lr=0.1)", max_grad_norm=0.0, seed=5))
def test_train_step_updates_the_parameters_as_the_reference_does(candidate, reference, case):
    """After one step the parameters equal the reference's, and the returned loss is the batch's
    loss with the parameters from before the step."""
    model, batch, optimizer = case.setup()
    with torch.no_grad():
        loss_before = F.mse_loss(model(batch[0]), batch[1]).item()
    got = as_float(candidate.train_step(model, batch, optimizer, mse, case.max_grad_norm),
                   case.describe())
    assert_matches(flat_params(model), lambda c: params_after_step(c, reference.train_step),
                   case, what=f"{case.describe()}: the parameters after the step, flattened",
                   mistakes=STEP_MISTAKES, float64_floor=floor_for(case.max_grad_norm))
    if not math.isclose(got, loss_before, **CLOSE):
        with torch.no_grad():
            loss_after = F.mse_loss(model(batch[0]), batch[1]).item()
        hint = (" That is the loss after the step: compute it once, before backward, and "
                "return it" if math.isclose(got, loss_after, **CLOSE) else "")
        raise AssertionError(
            f"{case.describe()} returned {got!r}; the batch's loss with the parameters before "
            f"the step is {loss_before!r}.{hint}")


@pytest.mark.task(STEP, category="properties")
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_train_step_leaves_the_mode_alone(candidate, mode):
    """train_step neither switches a model to train mode nor to eval mode: fit decides that."""
    case = TYPICAL_STEP
    model, batch, optimizer = case.setup()
    model.train(mode == "train")
    candidate.train_step(model, batch, optimizer, mse)
    now = "train" if model.training else "eval"
    require(now == mode, (
        f"{case.describe()}, the model in {mode} mode: afterwards it is in {now} mode. "
        "train_step leaves the mode as it found it (fit puts the model in train mode once, "
        "evaluate switches to eval mode and back)"))


@pytest.mark.task(STEP, category="properties")
def test_train_step_calls_loss_fn_with_the_outputs_first(candidate):
    """loss_fn(model(inputs), targets), in that order: most losses are not symmetric
    (F.cross_entropy takes logits first and class indices second)."""
    case = TYPICAL_STEP
    model, batch, optimizer = case.setup()
    calls: list[tuple[bool, bool]] = []

    def recording_mse(first: Tensor, second: Tensor) -> Tensor:
        calls.append((first.requires_grad, second is batch[1]))
        return F.mse_loss(first, second)

    candidate.train_step(model, batch, optimizer, recording_mse)
    require(len(calls) == 1, (
        f"{case.describe()}: loss_fn was called {len(calls)} times; one step computes the loss "
        "once"))
    output_first, targets_second = calls[0]
    require(output_first and targets_second, (
        f"{case.describe()}: loss_fn was called with "
        f"{'the targets' if not output_first else 'something other than the targets'} as its "
        f"{'first' if not output_first else 'second'} argument. Call it as "
        "loss_fn(model(inputs), targets): outputs first, then targets, as F.mse_loss and "
        "F.cross_entropy expect (a swapped mse_loss gives the same number, a swapped "
        "cross_entropy does not)."))


@pytest.mark.task(STEP, category="properties")
def test_train_step_leaves_the_global_rng_alone(candidate):
    """A model without randomness trains without touching torch's global RNG: the caller owns
    it (no torch.manual_seed inside)."""
    case = TYPICAL_STEP
    model, batch, optimizer = case.setup()
    torch.manual_seed(1234)
    torch.rand(3)  # a state no seed call gives back
    before = torch.get_rng_state()
    candidate.train_step(model, batch, optimizer, mse, 0.5)
    require(torch.equal(torch.get_rng_state(), before), (
        f"{case.describe()}: torch's global RNG state changed during the call, though the model "
        "has no dropout and SGD draws no random numbers. Don't reseed the RNG "
        "(torch.manual_seed) inside train_step: the caller owns it, and a reseed makes every "
        "later dropout mask and shuffle the same."))


def frozen_first_layer(case: StepCase) -> tuple[nn.Module, tuple[Tensor, Tensor],
                                                 torch.optim.Optimizer]:
    """case.setup() with the first Linear frozen and the optimizer over the trainable rest."""
    model, batch, _ = case.setup()
    for param in model[0].parameters():
        param.requires_grad_(False)
        param.grad = None
    trainable = [p for p in model.parameters() if p.requires_grad]
    return model, batch, OPTIMIZERS[case.optimizer](trainable)


def params_after_frozen_step(case: StepCase, step: Callable[..., Any]) -> Tensor:
    model, batch, optimizer = frozen_first_layer(case)
    step(model, batch, optimizer, mse, case.max_grad_norm)
    return flat_params(model)


FROZEN_STEP = StepCase(B=5, optimizer="SGD(lr=0.05, momentum=0.9)", max_grad_norm=0.05, seed=6)


@pytest.mark.task(STEP, category="values")
def test_train_step_with_frozen_parameters(candidate, reference):
    """Fine-tuning: the first layer is frozen (requires_grad False, .grad None), the optimizer
    holds the rest, and clipping covers the parameters that have gradients."""
    case = FROZEN_STEP
    what = (f"{case.describe()}, the first Linear frozen (requires_grad=False, .grad None) and "
            "the optimizer over the other parameters")
    model, batch, optimizer = frozen_first_layer(case)
    call_reporting(what, "A frozen parameter has no gradient (.grad is None): clip only the "
                   "gradients that exist (clip_grad_norm_ skips the others).",
                   lambda: candidate.train_step(model, batch, optimizer, mse, case.max_grad_norm))
    assert_matches(flat_params(model), lambda c: params_after_frozen_step(c, reference.train_step),
                   case, what=f"{what}: the parameters after the step, flattened",
                   float64_floor=floor_for(case.max_grad_norm))


@pytest.mark.task(STEP, category="structure")
def test_train_step_calls_optimizer_step_exactly_once(candidate):
    """One call, one optimizer step (counted with an optimizer step pre-hook)."""
    case = TYPICAL_STEP
    model, batch, optimizer = case.setup()
    calls: list[int] = []
    optimizer.register_step_pre_hook(lambda opt, args, kwargs: calls.append(1))
    candidate.train_step(model, batch, optimizer, mse)
    require(len(calls) == 1, (
        f"{case.describe()}: optimizer.step() ran {len(calls)} times; one train_step is one "
        "optimizer step"))


def norm_at_step(candidate: Any, case: StepCase) -> tuple[nn.Module, list[float], list[Tensor]]:
    """Run the learner's train_step, recording the gradients at the moment optimizer.step runs."""
    model, batch, optimizer = case.setup()
    norms: list[float] = []
    grads: list[Tensor] = []

    def record(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        norms.append(global_grad_norm(model))
        grads.append(torch.cat([p.grad.detach().flatten() if p.grad is not None
                                else torch.zeros_like(p).flatten() for p in model.parameters()]))

    optimizer.register_step_pre_hook(record)
    candidate.train_step(model, batch, optimizer, mse, case.max_grad_norm)
    require(len(norms) == 1, (
        f"{case.describe()}: optimizer.step() ran {len(norms)} times; one train_step is one "
        "optimizer step"))
    return model, norms, grads


def unclipped_gradient(case: StepCase) -> Tensor:
    model, (inputs, targets), _ = case.setup()
    model.zero_grad()
    F.mse_loss(model(inputs), targets).backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


CLIP_CASE = StepCase(B=6, optimizer="SGD(lr=0.1)", max_grad_norm=0.5, seed=4, target_scale=20.0)


@pytest.mark.task(STEP, category="training")
def test_gradients_are_clipped_before_the_optimizer_step(candidate):
    """When optimizer.step() runs, the global gradient norm is max_grad_norm (it was larger), and
    the gradient points where the unclipped one does: all parameters scaled by one factor."""
    case = CLIP_CASE
    full = unclipped_gradient(case)
    assert float(full.norm()) > 10 * case.max_grad_norm  # the case needs clipping
    stepped, norms, grads = norm_at_step(candidate, case)
    norm, seen = norms[0], grads[0]
    expected = full * (case.max_grad_norm / float(full.norm()))
    numels = [p.numel() for p in build_mlp(0).parameters()]
    per_parameter = torch.cat([g * min(1.0, case.max_grad_norm / float(g.norm()))
                               for g in torch.split(full, numels)])
    hint = ""
    if torch.allclose(seen, per_parameter, rtol=CLIP_SLACK, atol=1e-12):
        hint = ("\n  Likely mistake: you clipped each parameter's gradient on its own; clip the "
                "one global norm over all parameters together (clip_grad_norm_ on "
                "model.parameters()), so every gradient is scaled by the same factor.")
    elif torch.allclose(seen, full.clamp(-case.max_grad_norm, case.max_grad_norm), rtol=1e-12):
        hint = ("\n  Likely mistake: you clipped each value to [-max_grad_norm, max_grad_norm] "
                "(clip_grad_value_); clip the global norm instead (clip_grad_norm_).")
    elif math.isclose(norm, float(full.norm()), rel_tol=CLIP_SLACK) and math.isclose(
            global_grad_norm(stepped), case.max_grad_norm, rel_tol=CLIP_SLACK):
        # clipped after the step: .grad ends clipped (never clipping leaves it unclipped)
        hint = ("\n  Likely mistake: the gradients were not clipped before the step (clipping "
                "after optimizer.step() changes gradients nobody uses any more).")
    require(norm <= case.max_grad_norm * (1 + CLIP_SLACK), (
        f"{case.describe()}: when optimizer.step() ran, the global gradient norm was "
        f"{norm:.6g} (unclipped it is {float(full.norm()):.6g}), above max_grad_norm = "
        f"{case.max_grad_norm}. Clip after loss.backward() and before optimizer.step(): "
        f"torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm).{hint}"))
    require(torch.allclose(seen, expected, rtol=CLIP_SLACK, atol=CLIP_SLACK * 1e-3), (
        f"{case.describe()}: the gradients optimizer.step() saw are not the unclipped gradient "
        f"(norm {float(full.norm()):.6g}) scaled down to norm {case.max_grad_norm}; their "
        f"largest difference is {float((seen - expected).abs().max()):.3g}.{hint}"))


@pytest.mark.task(STEP, category="training")
def test_gradients_below_max_grad_norm_are_left_alone(candidate):
    """A gradient whose norm is already below max_grad_norm reaches optimizer.step() unchanged."""
    case = replace(CLIP_CASE, max_grad_norm=1e4)
    full = unclipped_gradient(case)
    _, _, grads = norm_at_step(candidate, case)
    require(torch.allclose(grads[0], full, rtol=CLIP_SLACK, atol=1e-12), (
        f"{case.describe()}: the gradient norm {float(full.norm()):.6g} is below max_grad_norm, "
        f"but optimizer.step() saw gradients of norm {float(grads[0].norm()):.6g}. Clipping "
        "only scales down: the factor is min(1, max_grad_norm / norm)."))


def tiny_regression(seed: int) -> tuple[nn.Module, Tensor, Tensor]:
    """A float64 Linear(3, 2) and 64 examples of a linear map it can fit exactly."""
    model = nn.Linear(D_IN, D_OUT).double()
    with torch.no_grad():
        model.weight.copy_(randn((D_OUT, D_IN), seed, scale=0.5))
        model.bias.zero_()
    x = randn((64, D_IN), seed + 1)  # (64, 3)
    y = x @ randn((D_OUT, D_IN), TEACHER_SEED).T  # (64, 2)
    return model, x, y


TINY_STEPS, TINY_BATCH, TINY_LR = 60, 16, 0.2
TINY_BOUND = 1e-4  # from about 6; the reference ends near 1e-9, a step without zero_grad near 2


@pytest.mark.task(STEP, category="training")
def test_repeated_train_steps_fit_a_tiny_task(candidate):
    """60 SGD steps of train_step on an exactly learnable linear task bring the loss on all 64
    examples below 1e-4 (it starts near 6)."""
    model, x, y = tiny_regression(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=TINY_LR)
    with torch.no_grad():
        start = F.mse_loss(model(x), y).item()
    for step in range(TINY_STEPS):
        lo = (step * TINY_BATCH) % len(x)
        candidate.train_step(model, (x[lo:lo + TINY_BATCH], y[lo:lo + TINY_BATCH]), optimizer, mse)
    with torch.no_grad():
        end = F.mse_loss(model(x), y).item()
    require(end < TINY_BOUND, (
        f"{TINY_STEPS} calls of train_step(Linear(3, 2) (float64), batches of ({TINY_BATCH}, 3) "
        f"-> ({TINY_BATCH}, 2), SGD(lr={TINY_LR}), F.mse_loss) on an exactly learnable linear "
        f"task: the loss on all 64 examples went from {start:.4g} to {end:.4g}, not below "
        f"{TINY_BOUND:g}. A step that doesn't clear the old gradients (zero_grad) adds every "
        "earlier gradient into the update and overshoots; one that steps before backward, or "
        "clears after backward, doesn't learn."))


# --- evaluate -----------------------------------------------------------------------------------


class Recorder(nn.Module):
    """An MLP with dropout that records (training, grad enabled) at every forward."""

    def __init__(self, seed: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.body = build_mlp(seed, dropout)
        self.calls: list[tuple[bool, bool]] = []

    def forward(self, x: Tensor) -> Tensor:
        self.calls.append((self.training, torch.is_grad_enabled()))
        return self.body(x)


@dataclass(frozen=True)
class EvalCase:
    """evaluate over n examples in batches of B (the last one shorter when B does not divide n,
    or left out with drop_last)."""

    n: int
    B: int
    seed: int
    drop_last: bool = False

    def loader(self) -> DataLoader:
        x, y = make_data(self.n, self.seed)
        if self.drop_last:
            return DataLoader(TensorDataset(x, y), batch_size=self.B, drop_last=True)
        return make_loader(x, y, self.B)

    def describe(self, mode: str = "train") -> str:
        last = self.n % self.B
        full = self.n // self.B
        if full == 0:
            batches = f"one batch of {self.n} (batch_size={self.B})"
        else:
            batches = (f"{full} batch{'es' * (full != 1)} of {self.B}"
                       + (f" and one of {last}" if last and not self.drop_last else ""))
        dropped = (f", drop_last=True (the last {last} left out, {self.n - last} seen)"
                   if self.drop_last and last else "")
        return (f"evaluate(MLP 3-8-2 with Dropout(0.5) in {mode} mode, a loader of {self.n} "
                f"examples (inputs (B, 3), targets (B, 2)) in {batches}{dropped}, F.mse_loss)")


def batch_losses(case: EvalCase) -> list[tuple[float, int]]:
    """(mean loss, batch size) of each batch, in eval mode."""
    model = build_mlp(case.seed + 1, dropout=0.5).eval()
    with torch.no_grad():
        return [(F.mse_loss(model(x), y).item(), len(y)) for x, y in case.loader()]


EVAL_MISTAKES: tuple[tuple[str, Callable[[list[tuple[float, int]]], float]], ...] = (
    ("you took the plain mean of the batch losses; weight each by its batch size B (the last "
     "batch is shorter): sum(loss_b * B_b) / sum(B_b)",
     lambda parts: sum(loss for loss, _ in parts) / len(parts)),
    ("you summed the batch losses; return the mean loss per example: sum(loss_b * B_b) / "
     "sum(B_b)", lambda parts: sum(loss for loss, _ in parts)),
    ("you divided by the number of batches instead of the number of examples",
     lambda parts: sum(loss * b for loss, b in parts) / len(parts)),
)


@st.composite
def eval_cases(draw: st.DrawFn) -> EvalCase:
    return EvalCase(n=draw(sizes(1, 12)), B=draw(sizes(1, 5)), seed=draw(seeds()))


@pytest.mark.task(EVALUATE, category="shape")
def test_evaluate_returns_a_python_float(candidate):
    """The mean validation loss comes back as a Python float."""
    case = EvalCase(n=6, B=4, seed=0)
    as_float(candidate.evaluate(build_mlp(1, dropout=0.5), case.loader(), mse), case.describe())


@pytest.mark.task(EVALUATE, category="values")
@given(case=eval_cases())
@example(case=EvalCase(n=7, B=3, seed=0))
@example(case=EvalCase(n=10, B=4, seed=1))
@example(case=EvalCase(n=7, B=3, seed=5, drop_last=True))
def test_evaluate_is_the_mean_loss_per_example(candidate, reference, case):
    """The loss per example over the whole loader, each batch weighted by its size, with dropout
    off, equal to the reference's."""
    model = build_mlp(case.seed + 1, dropout=0.5)
    got = as_float(candidate.evaluate(model, case.loader(), mse), case.describe())
    expected = reference.evaluate(build_mlp(case.seed + 1, dropout=0.5), case.loader(), mse)
    if math.isclose(got, expected, **CLOSE):
        return
    message = f"{case.describe()} returned {got!r}, expected {expected!r}."
    parts = batch_losses(case)
    for description, mistake in EVAL_MISTAKES:
        if math.isclose(got, mistake(parts), **CLOSE):
            return_message = f"{message}\n  Likely mistake: {description}."
            raise AssertionError(return_message)
    if case.drop_last and math.isclose(got, sum(loss * b for loss, b in parts) / case.n, **CLOSE):
        raise AssertionError(
            f"{message}\n  Likely mistake: you divided by the size of the dataset "
            f"(len(loader.dataset) = {case.n}); divide by the number of examples the loader "
            "yielded: one that drops its last batch yields fewer, and a loader need not have a "
            ".dataset at all.")
    raise AssertionError(message + " Is the model in eval mode (dropout off) for every batch?")


@pytest.mark.task(EVALUATE, category="training")
def test_evaluate_runs_the_model_in_eval_mode_under_no_grad(candidate):
    """Every forward evaluate makes sees model.training False and grad mode off."""
    case = EvalCase(n=7, B=3, seed=2)
    model = Recorder(case.seed + 1)
    candidate.evaluate(model, case.loader(), mse)
    require(model.calls, f"{case.describe()} never called the model")
    in_train = sum(training for training, _ in model.calls)
    with_grad = sum(grad for _, grad in model.calls)
    require(not in_train, (
        f"{case.describe()}: {in_train} of {len(model.calls)} forwards ran with the model in "
        "training mode, so dropout was still on and the loss is noisy. Evaluate in eval mode: "
        "model.eval() before the loop (and put the previous mode back afterwards)."))
    require(not with_grad, (
        f"{case.describe()}: {with_grad} of {len(model.calls)} forwards ran with gradients "
        "enabled, building an autograd graph nobody uses (memory, time). Run the loop under "
        "torch.no_grad()."))


@pytest.mark.task(EVALUATE, category="properties")
def test_evaluate_calls_loss_fn_with_the_outputs_first(candidate):
    """loss_fn(model(inputs), targets), in that order, for every batch: most losses are not
    symmetric (F.cross_entropy takes logits first and class indices second)."""
    case = EvalCase(n=7, B=3, seed=6)
    batches = list(case.loader())  # a list is a loader too: its targets can be told by identity
    calls: list[bool] = []

    def recording_mse(first: Tensor, second: Tensor) -> Tensor:
        calls.append(any(second is targets for _, targets in batches)
                     and not any(first is targets for _, targets in batches))
        return F.mse_loss(first, second)

    candidate.evaluate(build_mlp(case.seed + 1, dropout=0.5), batches, recording_mse)
    require(len(calls) == len(batches), (
        f"{case.describe()}: loss_fn was called {len(calls)} times for {len(batches)} batches; "
        "once per batch"))
    swapped = [i for i, right in enumerate(calls) if not right]
    require(not swapped, (
        f"{case.describe()}: for batch {swapped[0] if swapped else 0} (of {len(batches)}) "
        "loss_fn did not get the model's outputs first and the batch's targets second. Call it "
        "as loss_fn(model(inputs), targets), as in train_step: a swapped mse_loss gives the same "
        "number, a swapped cross_entropy does not."))


@pytest.mark.task(EVALUATE, category="properties")
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_evaluate_puts_the_previous_mode_back(candidate, mode):
    """A model that came in train mode leaves in train mode; one in eval mode stays in eval."""
    case = EvalCase(n=5, B=2, seed=3)
    model = build_mlp(case.seed, dropout=0.5).train(mode == "train")
    candidate.evaluate(model, case.loader(), mse)
    modes = {"train" if m.training else "eval" for m in model.modules()}
    require(modes == {mode}, (
        f"{case.describe(mode)}: afterwards the model is in {' and '.join(sorted(modes))} mode, "
        f"not in its previous mode, {mode}. Remember model.training before model.eval() and "
        "restore it with model.train(was_training) at the end (not always model.train(), not "
        "never)."))


@pytest.mark.task(EVALUATE, category="properties")
def test_evaluate_changes_no_parameter_and_no_gradient(candidate):
    """The parameters and their .grad are exactly as before: evaluating learns nothing."""
    case = EvalCase(n=6, B=4, seed=4)
    model = build_mlp(case.seed)
    leave_stale_gradients(model, case.seed)
    params = [p.detach().clone() for p in model.parameters()]
    grads = [p.grad.clone() for p in model.parameters()]
    candidate.evaluate(model, case.loader(), mse)
    require(all(torch.equal(p, q) for p, q in zip(model.parameters(), params, strict=True)), (
        f"{case.describe()} changed the parameters; evaluate only measures: no backward, no "
        "optimizer step"))
    require(all(p.grad is not None and torch.equal(p.grad, g)
                for p, g in zip(model.parameters(), grads, strict=True)), (
        f"{case.describe()} changed the parameters' .grad; evaluate runs no backward and does "
        "not zero the gradients"))


# --- lr_at --------------------------------------------------------------------------------------


def closed_form(step: int, max_lr: float, warmup_steps: int, total_steps: int, min_lr: float,
                mistake: str = "") -> float:
    """The schedule from the lesson, or the schedule with one classic mistake."""
    if step < warmup_steps:
        done = step if mistake == "warmup off by one" else step + 1
        return max_lr * done / warmup_steps
    if step >= total_steps and mistake != "no floor":
        return 0.0 if mistake == "decays to zero" else min_lr
    if mistake == "decay over total_steps":
        progress = step / total_steps
    else:
        progress = (step - warmup_steps) / (total_steps - warmup_steps)
    low = 0.0 if mistake == "decays to zero" else min_lr
    if mistake == "linear decay":
        return max_lr - (max_lr - low) * progress
    if mistake == "no half":
        return low + (max_lr - low) * (1 + math.cos(math.pi * progress))
    return low + 0.5 * (max_lr - low) * (1 + math.cos(math.pi * progress))


LR_MISTAKES = {
    "warmup off by one": "warmup is one step late: step s gets max_lr * (s + 1) / warmup_steps, "
    "so step 0 already learns and step warmup_steps - 1 reaches max_lr (s / warmup_steps gives "
    "step 0 a learning rate of 0, a wasted step)",
    "decays to zero": "the decay ends at 0; it ends at min_lr: min_lr + 0.5 * (max_lr - min_lr) "
    "* (1 + cos(pi * p))",
    "decay over total_steps": "the cosine's progress counts from step 0 over total_steps; it "
    "counts from the end of warmup: p = (step - warmup_steps) / (total_steps - warmup_steps)",
    "linear decay": "the decay is linear; it follows a half cosine, 0.5 * (1 + cos(pi * p))",
    "no half": "the cosine factor is missing its 0.5: (1 + cos(pi * p)) runs from 2 to 0",
    "no floor": "after total_steps the cosine goes up again; from step total_steps on, return "
    "min_lr",
}


def lr_call(step: int, config: tuple[float, int, int, float]) -> str:
    max_lr, warmup, total, min_lr = config
    return (f"lr_at(step={step}, max_lr={max_lr}, warmup_steps={warmup}, total_steps={total}, "
            f"min_lr={min_lr})")


def check_schedule(candidate: Any, reference: Any, config: tuple[float, int, int, float],
                   steps: list[int]) -> None:
    """Compare lr_at with the reference at `steps`; name the mistake that explains the misses."""
    got: dict[int, float] = {}
    wrong: list[int] = []
    for step in steps:
        call = lr_call(step, config)
        value = as_float(call_reporting(call, "lr_at is defined for every step >= 0.",
                                        lambda s=step: candidate.lr_at(s, *config)), call)
        got[step] = value
        if not math.isclose(value, reference.lr_at(step, *config), **CLOSE):
            wrong.append(step)
    if not wrong:
        return
    first = wrong[0]
    lines = [f"{lr_call(first, config)} returned {got[first]!r}, expected "
             f"{reference.lr_at(first, *config)!r} ({len(wrong)} of the {len(steps)} steps "
             f"checked are off: {wrong[:8]}{' ...' if len(wrong) > 8 else ''})."]
    for name, description in LR_MISTAKES.items():
        try:
            explains = all(math.isclose(got[s], closed_form(s, *config, mistake=name), **CLOSE)
                           for s in steps)
        except ZeroDivisionError:
            continue
        if explains:
            lines.append(f"  Likely mistake: {description}.")
            break
    raise AssertionError("\n".join(lines))


@pytest.mark.task(LR_AT, category="shape")
def test_lr_at_returns_a_python_float(candidate):
    """The learning rate is a Python float (optimizers keep lr as a number)."""
    config = (3e-4, 10, 100, 3e-5)
    for step in (0, 50, 200):
        as_float(candidate.lr_at(step, *config), lr_call(step, config))


def reference_lr(step: int, config: tuple[float, int, int, float]) -> float:
    """The lesson's schedule, without mistakes."""
    return closed_form(step, *config)


@pytest.mark.task(LR_AT, category="values")
def test_lr_at_matches_the_closed_form_at_warmup_end_midpoint_and_end(candidate):
    """Warmup starts at max_lr / warmup_steps and ends at max_lr; the decay passes the mean of
    max_lr and min_lr halfway and reaches min_lr at total_steps."""
    max_lr, warmup, total, min_lr = config = (3.0, 10, 110, 0.5)
    landmarks = {
        0: (max_lr / warmup, "the first warmup step, max_lr / warmup_steps"),
        warmup - 1: (max_lr, "the last warmup step, max_lr"),
        warmup: (max_lr, "the start of the decay, max_lr"),
        (warmup + total) // 2: ((max_lr + min_lr) / 2, "halfway through the decay, "
                                "(max_lr + min_lr) / 2"),
        total: (min_lr, "the end, min_lr"),
    }
    # the quarter points too: one wrong value can match a mistake by coincidence (progress
    # computed with // gives max_lr halfway, as a cosine without its 0.5 does)
    probes = [*landmarks, warmup + (total - warmup) // 4, warmup + 3 * (total - warmup) // 4]
    got_at = {step: as_float(candidate.lr_at(step, *config), lr_call(step, config))
              for step in probes}
    wrong = [s for s in probes
             if not math.isclose(got_at[s], reference_lr(s, config), **CLOSE)]
    for step, (expected, what) in landmarks.items():
        got = got_at[step]
        if math.isclose(got, expected, **CLOSE):
            continue
        explained = ""
        for name, description in LR_MISTAKES.items():
            # named only when it explains every wrong value, not one of them
            if all(math.isclose(got_at[s], closed_form(s, *config, mistake=name), **CLOSE)
                   for s in wrong):
                explained = f"\n  Likely mistake: {description}."
                break
        raise AssertionError(f"{lr_call(step, config)} returned {got!r}; at {what}, it is "
                             f"{expected!r}.{explained}")


@st.composite
def schedules(draw: st.DrawFn) -> tuple[float, int, int, float]:
    warmup = draw(sizes(0, 8))
    total = warmup + draw(sizes(0, 20))
    max_lr = draw(st.sampled_from((1.0, 6e-4, 0.1)))
    min_lr = max_lr * draw(st.sampled_from((0.0, 0.1, 0.5)))
    return (max_lr, warmup, total, min_lr)


@pytest.mark.task(LR_AT, category="values")
@given(config=schedules())
@example(config=(1.0, 4, 12, 0.1))
@example(config=(6e-4, 3, 20, 6e-5))
def test_lr_at_matches_the_reference_at_every_step(candidate, reference, config):
    """Every step from 0 to a few past total_steps, on drawn warmup lengths, decay lengths and
    learning rates (warmup_steps = 0 and warmup_steps = total_steps included)."""
    _, _, total, _ = config
    check_schedule(candidate, reference, config, list(range(total + 4)))


@pytest.mark.task(LR_AT, category="properties")
@pytest.mark.parametrize("config", [(1.0, 0, 10, 0.1), (1.0, 5, 5, 0.1), (0.5, 0, 0, 0.05)],
                         ids=["no warmup", "warmup is the whole run", "no steps at all"])
def test_lr_at_handles_the_edge_schedules(candidate, reference, config):
    """warmup_steps=0 (the decay starts at step 0 with max_lr), warmup_steps == total_steps (no
    decay, then min_lr) and total_steps=0 are valid schedules: no ZeroDivisionError."""
    steps = list(range(config[2] + 3))
    for step in steps:
        call = lr_call(step, config)
        call_reporting(call, "warmup_steps=0 means no warmup, and warmup_steps == total_steps "
                       "means no decay: test step < warmup_steps and step >= total_steps before "
                       "dividing by warmup_steps or by total_steps - warmup_steps.",
                       lambda s=step: candidate.lr_at(s, *config))
    check_schedule(candidate, reference, config, steps)


@pytest.mark.task(LR_AT, category="properties")
def test_lr_at_stays_at_min_lr_after_total_steps(candidate):
    """Past total_steps the learning rate is min_lr, however far past: the cosine must not come
    back up."""
    config = (1.0, 2, 10, 0.1)
    for step in (10, 11, 15, 18, 25, 1000):
        got = as_float(candidate.lr_at(step, *config), lr_call(step, config))
        require(math.isclose(got, 0.1, **CLOSE), (
            f"{lr_call(step, config)} returned {got!r}; from total_steps on the learning rate "
            "is min_lr = 0.1. The cosine formula rises again past p = 1: return min_lr for "
            "step >= total_steps."))


# --- save_checkpoint and load_checkpoint --------------------------------------------------------


def trained(seed: int, optimizer: str, steps: int = 3
            ) -> tuple[nn.Module, torch.optim.Optimizer, tuple[Tensor, Tensor]]:
    """An MLP and its optimizer after a few steps, so the optimizer holds running state."""
    model = build_mlp(seed)
    opt = OPTIMIZERS[optimizer](model.parameters())
    batch = make_data(6, seed + 1)
    for _ in range(steps):
        plain_step(model, batch, opt, None)
    return model, opt, batch


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where two nested state dicts differ, as a path, or None when they are equal exactly."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
            return f"{path}: {kind(a)} against {kind(b)}"
        if a.shape != b.shape or a.dtype != b.dtype or not torch.equal(a, b):
            return f"{path}: the tensors differ"
        return None
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{path}: keys {sorted(map(str, a))} against {sorted(map(str, b))}"
        for key in a:
            found = first_difference(a[key], b[key], f"{path}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return f"{path}: lengths {len(a)} against {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {a!r} against {b!r}"


def read_checkpoint(path: Path, what: str) -> dict[str, Any]:
    require(path.exists(), f"{what} wrote no file at the path it was given")
    try:
        data = torch.load(path, weights_only=True)
    except Exception as exc:
        raise AssertionError(
            f"{what}: torch.load(path, weights_only=True) cannot read the file ({failure(exc)}). "
            "Save state_dicts (tensors, numbers, strings in dicts and lists), not the model or "
            "optimizer objects: weights_only loading refuses to unpickle arbitrary objects, and "
            "a file that needs weights_only=False can run any code when loaded.") from None
    require(isinstance(data, dict), (
        f"{what}: the file holds {kind(data)}; save one dict "
        '{"model": ..., "optimizer": ..., "step": ...}'))
    return data


SAVE_CALL = ("save_checkpoint(path, MLP 3-8-2 (float64), {optimizer} after 3 steps, step=7)")


@pytest.mark.task(SAVE, category="shape")
def test_save_checkpoint_writes_one_dict_that_loads_weights_only(candidate, tmp_path):
    """The file is a dict with "model", "optimizer" and "step" (an int), and loads with
    torch.load(path, weights_only=True)."""
    model, optimizer, _ = trained(0, "Adam(lr=0.01)")
    what = SAVE_CALL.format(optimizer="Adam(lr=0.01)")
    candidate.save_checkpoint(tmp_path / "ckpt.pt", model, optimizer, 7)
    data = read_checkpoint(tmp_path / "ckpt.pt", what)
    missing = [key for key in ("model", "optimizer", "step") if key not in data]
    require(not missing, (
        f"{what}: the saved dict has the keys {sorted(map(str, data))}, and lacks {missing}. A "
        "run resumes exactly only from the model's state, the optimizer's state and the step."
        + (" The optimizer state holds Adam's running averages (SGD's momentum): without it the "
           "first steps after a resume are different steps." if "optimizer" in missing else "")))
    step = data["step"]
    require(isinstance(step, int) and not isinstance(step, bool) and step == 7, (
        f"{what}: the saved step is {kind(step)}; save the int 7"))


@pytest.mark.task(SAVE, category="values")
@pytest.mark.parametrize("optimizer", ["SGD(lr=0.05, momentum=0.9)", "Adam(lr=0.01)"])
def test_save_checkpoint_holds_the_model_state_exactly(candidate, tmp_path, optimizer):
    """data["model"] equals model.state_dict(): the same keys, the same tensors bit for bit."""
    model, opt, _ = trained(1, optimizer)
    what = SAVE_CALL.format(optimizer=optimizer)
    candidate.save_checkpoint(tmp_path / "ckpt.pt", model, opt, 7)
    data = read_checkpoint(tmp_path / "ckpt.pt", what)
    require("model" in data, f'{what}: the saved dict has no "model" entry')
    difference = first_difference(data["model"], model.state_dict(), 'data["model"]')
    require(difference is None, (
        f"{what}: the saved model state is not model.state_dict(): {difference}. Save "
        "model.state_dict() as it is (no copy converted to another dtype, no subset)."))


def build_batchnorm_mlp(seed: int) -> nn.Sequential:
    """A float64 3-8-2 MLP with a BatchNorm1d: buffers (running statistics) besides parameters."""
    model = nn.Sequential(nn.Linear(D_IN, HIDDEN), nn.BatchNorm1d(HIDDEN), nn.Tanh(),
                          nn.Linear(HIDDEN, D_OUT)).double()
    with torch.no_grad():
        for i, param in enumerate(model.parameters()):
            param.copy_(randn(tuple(param.shape), seed + i, scale=0.5))
    return model


@pytest.mark.task(SAVE, category="values")
def test_save_checkpoint_holds_the_buffers_too(candidate, tmp_path):
    """A model's state is more than its parameters: batch norm's running mean, variance and
    batch count are buffers, and data["model"] holds them as model.state_dict() does."""
    model = build_batchnorm_mlp(5)
    opt = OPTIMIZERS["SGD(lr=0.05, momentum=0.9)"](model.parameters())
    batch = make_data(6, 6)
    for _ in range(3):  # the running statistics move away from their initial 0 and 1
        plain_step(model, batch, opt, None)
    what = ("save_checkpoint(path, MLP 3-8-2 with a BatchNorm1d(8) (float64), SGD(lr=0.05, "
            "momentum=0.9) after 3 steps, step=3)")
    candidate.save_checkpoint(tmp_path / "ckpt.pt", model, opt, 3)
    data = read_checkpoint(tmp_path / "ckpt.pt", what)
    require("model" in data, f'{what}: the saved dict has no "model" entry')
    saved = data["model"]
    missing = sorted(set(model.state_dict()) - set(saved)) if isinstance(saved, dict) else []
    require(not missing, (
        f"{what}: the saved model state lacks {missing}. Those are buffers (batch norm's "
        "running statistics), not parameters: save model.state_dict(), which holds both, not "
        "named_parameters() or parameters()."))
    difference = first_difference(saved, model.state_dict(), 'data["model"]')
    require(difference is None, (
        f"{what}: the saved model state is not model.state_dict(): {difference}"))


@pytest.mark.task(SAVE, category="properties")
@pytest.mark.parametrize("optimizer", ["SGD(lr=0.05, momentum=0.9)", "Adam(lr=0.01)"])
def test_save_checkpoint_holds_the_optimizer_state(candidate, tmp_path, optimizer):
    """data["optimizer"] equals optimizer.state_dict(): momentum buffers or Adam's two running
    averages and its step count, plus the param groups."""
    model, opt, _ = trained(2, optimizer)
    what = SAVE_CALL.format(optimizer=optimizer)
    candidate.save_checkpoint(tmp_path / "ckpt.pt", model, opt, 7)
    data = read_checkpoint(tmp_path / "ckpt.pt", what)
    require("optimizer" in data, (
        f"{what}: the checkpoint has no optimizer state (no \"optimizer\" entry). Save "
        "optimizer.state_dict() too: it holds Adam's running averages (SGD's momentum), and a "
        "run resumed without them takes different steps from the one that never stopped."))
    difference = first_difference(data["optimizer"], opt.state_dict(), 'data["optimizer"]')
    require(difference is None, (
        f"{what}: the saved optimizer state is not optimizer.state_dict(): {difference}"))


def reference_checkpoint(reference: Any, path: Path, optimizer: str, seed: int = 3
                         ) -> tuple[nn.Module, torch.optim.Optimizer, tuple[Tensor, Tensor]]:
    model, opt, batch = trained(seed, optimizer)
    reference.save_checkpoint(path, model, opt, 11)
    return model, opt, batch


LOAD_CALL = ("load_checkpoint(path, a fresh MLP 3-8-2, a fresh {optimizer}) on a checkpoint of "
             "the same model after 3 steps, step 11")


def fresh(optimizer: str, seed: int = 99) -> tuple[nn.Module, torch.optim.Optimizer]:
    model = build_mlp(seed)
    return model, OPTIMIZERS[optimizer](model.parameters())


@pytest.mark.task(LOAD, category="shape")
def test_load_checkpoint_returns_the_step_as_an_int(candidate, reference, tmp_path):
    """The return value is the saved step, an int."""
    reference_checkpoint(reference, tmp_path / "ckpt.pt", "Adam(lr=0.01)")
    model, opt = fresh("Adam(lr=0.01)")
    step = candidate.load_checkpoint(tmp_path / "ckpt.pt", model, opt)
    what = LOAD_CALL.format(optimizer="Adam(lr=0.01)")
    require(isinstance(step, int) and not isinstance(step, bool) and step == 11, (
        f"{what} returned {kind(step)}; return the saved step as an int, 11"))


@pytest.mark.task(LOAD, category="values")
@pytest.mark.parametrize("optimizer", ["SGD(lr=0.05, momentum=0.9)", "Adam(lr=0.01)"])
def test_load_checkpoint_restores_the_parameters_exactly(candidate, reference, tmp_path,
                                                         optimizer):
    """Afterwards the fresh model's state_dict equals the saved model's, bit for bit."""
    saved, _, _ = reference_checkpoint(reference, tmp_path / "ckpt.pt", optimizer)
    model, opt = fresh(optimizer)
    candidate.load_checkpoint(tmp_path / "ckpt.pt", model, opt)
    difference = first_difference(model.state_dict(), saved.state_dict(), "model.state_dict()")
    require(difference is None, (
        f"{LOAD_CALL.format(optimizer=optimizer)}: the model does not hold the saved weights: "
        f"{difference}. model.load_state_dict(checkpoint[\"model\"])"))


@pytest.mark.task(LOAD, category="properties")
@pytest.mark.parametrize("optimizer", ["SGD(lr=0.05, momentum=0.9)", "Adam(lr=0.01)"])
def test_load_checkpoint_restores_the_optimizer_state(candidate, reference, tmp_path, optimizer):
    """Afterwards the fresh optimizer's state_dict equals the saved one, so the next step is the
    step the saved run would have taken, bit for bit."""
    saved, saved_opt, batch = reference_checkpoint(reference, tmp_path / "ckpt.pt", optimizer)
    model, opt = fresh(optimizer)
    candidate.load_checkpoint(tmp_path / "ckpt.pt", model, opt)
    what = LOAD_CALL.format(optimizer=optimizer)
    difference = first_difference(opt.state_dict(), saved_opt.state_dict(), "optimizer")
    require(difference is None, (
        f"{what}: the optimizer state was not restored ({difference}). "
        "optimizer.load_state_dict(checkpoint[\"optimizer\"]): without Adam's running averages "
        "(SGD's momentum) the next steps differ from the ones the saved run would take."))
    plain_step(saved, batch, saved_opt, None)
    plain_step(model, batch, opt, None)
    require(torch.equal(flat_params(model), flat_params(saved)), (
        f"{what}: one more step from the loaded state gives other parameters than one more step "
        "of the saved run. Load both state_dicts, the model's and the optimizer's, as saved."))


@pytest.mark.task(LOAD, category="properties")
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_load_checkpoint_leaves_the_mode_alone(candidate, reference, tmp_path, mode):
    """Loading restores weights and optimizer state, nothing else: a model in train mode stays
    in train mode (fit resumes training right after loading), one in eval mode stays in eval."""
    reference_checkpoint(reference, tmp_path / "ckpt.pt", "Adam(lr=0.01)")
    model, opt = fresh("Adam(lr=0.01)")
    model.train(mode == "train")
    candidate.load_checkpoint(tmp_path / "ckpt.pt", model, opt)
    modes = {"train" if m.training else "eval" for m in model.modules()}
    require(modes == {mode}, (
        f"{LOAD_CALL.format(optimizer='Adam(lr=0.01)')}, the model in {mode} mode: afterwards "
        f"it is in {' and '.join(sorted(modes))} mode. load_checkpoint loads the two "
        "state_dicts and returns the step; it does not call model.eval() or model.train() (the "
        "caller decides: fit trains on right after a resume)."))


class _Tripwire:
    """An object whose unpickling creates a directory: proof that loading ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.makedirs, (str(self.marker),))


@pytest.mark.task(LOAD, category="properties")
def test_load_checkpoint_runs_no_code_from_the_file(candidate, reference, tmp_path):
    """The file is read with weights_only=True: a checkpoint that smuggles in a pickled object
    is refused, and the object's code never runs."""
    model, opt, _ = trained(4, "Adam(lr=0.01)")
    marker = tmp_path / "code-from-the-checkpoint-ran"
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": 2,
                "note": _Tripwire(marker)}, tmp_path / "ckpt.pt")
    fresh_model, fresh_opt = fresh("Adam(lr=0.01)")
    try:
        candidate.load_checkpoint(tmp_path / "ckpt.pt", fresh_model, fresh_opt)
    except (NotImplementedError, AssertionError):
        raise
    except Exception:
        pass  # refusing the file is right
    require(not marker.exists(), (
        "load_checkpoint(path, model, optimizer) on a file that holds, besides the state, a "
        "pickled object whose loading calls os.makedirs: the call ran, so loading a checkpoint "
        "from someone else could run any code. Load with torch.load(path, weights_only=True), "
        "which only rebuilds tensors and plain containers."))


# --- fit ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitCase:
    """A fit run: an MLP, Adam, a shuffled train loader whose last batch is short, a val loader,
    a warmup-cosine schedule and clipping."""

    total_steps: int = 12
    n_train: int = 10
    batch_size: int = 4
    eval_every: int | None = 4
    max_grad_norm: float | None = 0.5
    seed: int = 0
    lr: float = 0.05

    def schedule(self) -> Callable[[int], float]:
        return lambda step: closed_form(step, self.lr, 3, self.total_steps, self.lr / 10)

    def loaders(self) -> tuple[DataLoader, DataLoader]:
        x, y = make_data(self.n_train, self.seed + 1, target_scale=3.0)
        val_x, val_y = make_data(7, self.seed + 2, target_scale=3.0)
        return (make_loader(x, y, self.batch_size, seed=self.seed + 3),
                make_loader(val_x, val_y, 3))

    def parts(self, model_seed: int | None = None) -> tuple[nn.Module, torch.optim.Optimizer,
                                                            DataLoader, DataLoader]:
        model = build_mlp(self.seed if model_seed is None else model_seed)
        train, val = self.loaders()
        return model, torch.optim.Adam(model.parameters(), lr=self.lr), train, val

    def kwargs(self) -> dict[str, Any]:
        return {"max_grad_norm": self.max_grad_norm, "lr_schedule": self.schedule(),
                "eval_every": self.eval_every}

    def describe(self, total_steps: int | None = None, extra: str = "") -> str:
        total = self.total_steps if total_steps is None else total_steps
        return (f"fit(MLP 3-8-2 (float64), a shuffled train loader of {self.n_train} examples "
                f"in batches of {self.batch_size} (inputs (B, 3), targets (B, 2)), a val loader "
                f"of 7, Adam(lr={self.lr}), F.mse_loss, total_steps={total}, "
                f"max_grad_norm={self.max_grad_norm}, lr_schedule=warmup 3 then cosine, "
                f"eval_every={self.eval_every}{extra})")


def run_fit(impl: Any, case: FitCase, model_seed: int | None = None, **kwargs: Any
            ) -> tuple[nn.Module, dict[str, Any]]:
    model, opt, train, val = case.parts(model_seed)
    history = impl.fit(model, train, val, opt, mse, kwargs.pop("total_steps", case.total_steps),
                       **{**case.kwargs(), **kwargs})
    return model, history


def plain_fit(case: FitCase, mistake: str = "") -> Tensor:
    """The spec's own loop, or the loop with one classic mistake; the final parameters."""
    model, opt, train, _ = case.parts()
    schedule = case.schedule()
    batches = (batch for _ in range(case.total_steps) for batch in train)
    model.train()
    for step in range(case.total_steps):
        if mistake != "no schedule":
            for group in opt.param_groups:
                group["lr"] = schedule(step + 1 if mistake == "schedule one ahead" else step)
        plain_step(model, next(batches), opt, case.max_grad_norm,
                   "no clipping" if mistake == "no clipping" else "")
    return flat_params(model)


FIT_MISTAKES = (
    Mistake("the learning rate of step s was lr_schedule(s + 1); set lr = lr_schedule(s) before "
            "step s (the first step is step 0)",
            lambda case: plain_fit(case, "schedule one ahead")),
    Mistake("lr_schedule was never applied: set group[\"lr\"] = lr_schedule(s) in every "
            "optimizer.param_groups entry before step s", lambda case: plain_fit(case,
                                                                               "no schedule")),
    Mistake("max_grad_norm never reached train_step", lambda case: plain_fit(case, "no clipping")),
)


def fit_mistakes(candidate: Any) -> tuple[Mistake, ...]:
    """FIT_MISTAKES, less "never reached train_step" when train_step does not clip on its own:
    then the mistake is train_step's, and its own checks name it."""
    try:
        _, norms, _ = norm_at_step(candidate, CLIP_CASE)
        clips = norms[0] <= CLIP_CASE.max_grad_norm * (1 + CLIP_SLACK)
    except Exception:  # train_step's own checks report it
        clips = False
    return FIT_MISTAKES if clips else FIT_MISTAKES[:-1]


def history_of(history: Any, what: str) -> dict[str, list[Any]]:
    require(isinstance(history, dict), (
        f"{what} returned {kind(history)}; return the history dict "
        '{"train_loss": [...], "val_loss": [...], "val_step": [...]}'))
    missing = [key for key in ("train_loss", "val_loss", "val_step")
               if not isinstance(history.get(key), list)]
    require(not missing, (
        f"{what}: the history has no list under {missing}; it is "
        '{"train_loss": [...], "val_loss": [...], "val_step": [...]}'))
    return history


@pytest.mark.task(FIT, category="shape")
@pytest.mark.parametrize("total_steps,eval_every,val_steps", [
    (12, 4, [4, 8, 12]), (10, 4, [4, 8, 10]), (5, None, [5])])
def test_fit_returns_the_history_of_every_step_and_validation(candidate, total_steps, eval_every,
                                                               val_steps):
    """One train loss per step; one validation after every eval_every steps and after the last
    step, with val_step the number of steps done at each."""
    case = replace(FitCase(), total_steps=total_steps, eval_every=eval_every)
    what = case.describe()
    _, history = run_fit(candidate, case)
    history = history_of(history, what)
    losses = history["train_loss"]
    require(len(losses) == total_steps and all(isinstance(x, float) for x in losses), (
        f"{what}: history[\"train_loss\"] holds {len(losses)} entries "
        f"({', '.join(sorted({type(x).__name__ for x in losses})) or 'none'}); expected "
        f"{total_steps} Python floats, the value train_step returned at each step"))
    require(history["val_step"] == val_steps and len(history["val_loss"]) == len(val_steps), (
        f"{what}: validations ran after steps {history['val_step']} "
        f"({len(history['val_loss'])} val losses); expected after {val_steps}: every "
        "eval_every steps (s + 1 a multiple of eval_every) and after the last step, never "
        "twice for the same step"))


@pytest.mark.task(FIT, category="values")
@pytest.mark.parametrize("case", [FitCase(), replace(FitCase(), max_grad_norm=None, seed=5,
                                                     eval_every=None, total_steps=9)],
                         ids=["clipped", "unclipped"])
def test_fit_trains_as_the_reference_does(candidate, reference, case):
    """The final parameters and the losses in the history equal the reference's."""
    model, history = run_fit(candidate, case)
    history = history_of(history, case.describe())
    assert_matches(flat_params(model), lambda c: flat_params(run_fit(reference, c)[0]), case,
                   what=f"{case.describe()}: the final parameters, flattened",
                   mistakes=fit_mistakes(candidate), float64_floor=floor_for(case.max_grad_norm))
    _, expected = run_fit(reference, case)
    for key in ("train_loss", "val_loss"):
        got, want = history[key], expected[key]
        require(len(got) == len(want), (
            f"{case.describe()}: history[{key!r}] holds {len(got)} losses, expected {len(want)}"))
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            # clipping's epsilon moves the parameters, and so the losses, by ~CLIP_SLACK
            require(math.isclose(a, b, rel_tol=CLIP_SLACK, abs_tol=CLOSE["abs_tol"]), (
                f"{case.describe()}: history[{key!r}][{i}] is {a!r}, expected {b!r} (the whole "
                f"list: {[round(x, 6) for x in got]}, expected {[round(x, 6) for x in want]})"))


@pytest.mark.task(FIT, category="training")
def test_fit_brings_the_validation_loss_down(candidate):
    """60 steps of fit on the tiny linear task bring the validation loss below 1e-4."""
    model, x, y = tiny_regression(1)
    val_x = randn((16, D_IN), 50)
    val_y = val_x @ randn((D_OUT, D_IN), TEACHER_SEED).T
    optimizer = torch.optim.SGD(model.parameters(), lr=TINY_LR)
    what = (f"fit(Linear(3, 2) (float64), a loader of 64 examples in batches of {TINY_BATCH}, a "
            f"val loader of 16, SGD(lr={TINY_LR}), F.mse_loss, total_steps={TINY_STEPS})")
    history = history_of(candidate.fit(model, make_loader(x, y, TINY_BATCH, seed=0),
                                       make_loader(val_x, val_y, 8), optimizer, mse, TINY_STEPS),
                         what)
    require(len(history["val_loss"]) >= 1, f"{what}: no validation ran; one runs after the last "
            "step")
    final = history["val_loss"][-1]
    require(final < TINY_BOUND, (
        f"{what} on an exactly learnable linear task: the final validation loss is {final:.4g}, "
        f"not below {TINY_BOUND:g} (the first train loss was "
        f"{history['train_loss'][0] if history['train_loss'] else float('nan'):.4g})."))


@pytest.mark.task(FIT, category="training")
def test_fit_trains_in_train_mode_and_validates_in_eval_mode(candidate):
    """Given a model in eval mode, fit still trains it in train mode (dropout on, gradients on);
    validation runs in eval mode under no_grad."""
    case = FitCase(total_steps=6, eval_every=3)
    model = Recorder(0, dropout=0.3).eval()
    _, _, train, val = case.parts()
    candidate.fit(model, train, val, torch.optim.Adam(model.parameters(), lr=0.01), mse, 6,
                  eval_every=3)
    what = ("fit(an MLP with Dropout(0.3) handed over in eval mode, train and val loaders, Adam, "
            "F.mse_loss, total_steps=6, eval_every=3)")
    with_grad = [training for training, grad in model.calls if grad]
    require(len(with_grad) == 6, (
        f"{what}: {len(with_grad)} forwards ran with gradients enabled; expected 6, one per "
        "training step (validation runs under no_grad)"))
    require(all(with_grad), (
        f"{what}: {with_grad.count(False)} of the 6 training steps ran with the model in eval "
        "mode (dropout off). Call model.train() before the first step: the model may come in "
        "eval mode, and evaluate only restores the mode it found."))
    require(not any(training for training, grad in model.calls if not grad), (
        f"{what}: a validation forward ran in train mode"))


def resumed_run(candidate: Any, case: FitCase, stop_at: int, path: Path
                ) -> tuple[nn.Module, dict[str, Any], dict[str, Any]]:
    """Run to stop_at, then resume in fresh objects (other initial weights) to total_steps."""
    _, first = run_fit(candidate, case, total_steps=stop_at, checkpoint_path=path)
    model, second = run_fit(candidate, case, model_seed=case.seed + 77, checkpoint_path=path,
                            resume=True)
    return model, first, second


def explain_resume(case: FitCase, stop_at: int, whole: dict[str, Any], first: Any, second: Any
                   ) -> str:
    """Why a resumed run went elsewhere, read off its history."""
    if not isinstance(second, dict) or not isinstance(second.get("train_loss"), list):
        return ""
    losses, expected = second["train_loss"], whole["train_loss"][stop_at:]
    if len(losses) != len(expected):
        return (f" The resumed call ran {len(losses)} steps, not {len(expected)}: start at the "
                "step load_checkpoint returns (the checkpoint stores the number of steps done, "
                "s + 1), and stop at total_steps.")
    if losses and losses[0] != expected[0]:
        return (f" Its first step, step {stop_at}, already had a different loss "
                f"({losses[0]!r}, against {expected[0]!r}): it saw a different batch or started "
                f"from other weights. Load the checkpoint, then draw and discard the first "
                f"{stop_at} batches of the stream (epochs included) before training.")
    for offset, (a, b) in enumerate(zip(losses, expected, strict=True)):
        if a != b:
            return (f" The losses agree up to step {stop_at + offset}, then drift apart: is the "
                    "optimizer state restored, is the learning rate set from lr_schedule(s) for "
                    "the step s being run, and does every step clear the gradients the one "
                    "before left (a checkpoint does not keep .grad)?")
    return ""


@pytest.mark.task(FIT, category="training")
@pytest.mark.parametrize("stop_at", [5, 7])
def test_a_resumed_run_ends_with_the_parameters_of_an_uninterrupted_one(candidate, tmp_path,
                                                                          stop_at):
    """Stopped after stop_at steps and resumed from its checkpoint in fresh objects, a run ends
    with exactly (bit for bit) the parameters of a run that never stopped; so does its history."""
    case = FitCase()
    whole_model, whole = run_fit(candidate, case, checkpoint_path=tmp_path / "whole.pt")
    history_of(whole, case.describe())
    model, first, second = resumed_run(candidate, case, stop_at, tmp_path / "ckpt.pt")
    if torch.equal(flat_params(model), flat_params(whole_model)):
        return
    difference = float((flat_params(model) - flat_params(whole_model)).abs().max())
    raise AssertionError(
        f"{case.describe(stop_at, ', checkpoint_path=path')} followed by the same call with "
        f"total_steps={case.total_steps} and resume=True, on a fresh model (other initial "
        f"weights), a fresh Adam and fresh loaders with the same seeds: the final parameters "
        f"differ from an uninterrupted run's by up to {difference:.3g}; they must be equal bit "
        "for bit." + explain_resume(case, stop_at, whole, first, second))


class Crash(Exception):
    """The stand-in for a killed process."""


@pytest.mark.task(FIT, category="training")
def test_a_crashed_run_resumes_from_its_last_periodic_checkpoint(candidate, tmp_path):
    """With checkpoint_every=4, a run that dies during step 9 left a checkpoint of step 8; resumed
    from it, the run ends exactly where an uninterrupted one does."""
    case = FitCase()
    path = tmp_path / "ckpt.pt"
    whole_model, whole = run_fit(candidate, case)
    history_of(whole, case.describe())
    calls = 0

    def crashing_loss(outputs: Tensor, targets: Tensor) -> Tensor:
        nonlocal calls
        if torch.is_grad_enabled():
            calls += 1
            if calls == 10:  # step 9 (0-based)
                raise Crash("the process died here")
        return mse(outputs, targets)

    model, opt, train, val = case.parts()
    what = case.describe(extra=", checkpoint_path=path, checkpoint_every=4")
    try:
        candidate.fit(model, train, val, opt, crashing_loss, case.total_steps,
                      checkpoint_path=path, checkpoint_every=4, **case.kwargs())
    except Crash:
        pass
    else:
        raise AssertionError(f"{what}: the loss function raised during step 9, but fit "
                             "returned normally; let exceptions through")
    require(path.exists(), (
        f"{what} died during step 9 (0-based) and left no checkpoint on disk. With "
        "checkpoint_every=4 one is due after steps 3 and 7: save after step s when s + 1 is a "
        "multiple of checkpoint_every (and after the last step)."))
    data = read_checkpoint(path, f"{what}, which died during step 9,")
    require(data.get("step") == 8, (
        f"{what} died during step 9 (0-based): the checkpoint on disk holds step "
        f"{data.get('step')!r}, expected 8, written after step 7 (8 steps done) since 8 is a "
        "multiple of checkpoint_every. Save after step s when s + 1 is a multiple of "
        "checkpoint_every, with step = s + 1."))
    model, second = run_fit(candidate, case, model_seed=case.seed + 77, checkpoint_path=path,
                            checkpoint_every=4, resume=True)
    require(torch.equal(flat_params(model), flat_params(whole_model)), (
        f"{what} died during step 9 and was resumed with resume=True: the final parameters "
        "differ from an uninterrupted run's; they must be equal bit for bit."
        + explain_resume(case, 8, whole, None, second)))


@pytest.mark.task(FIT, category="properties")
def test_resume_without_a_checkpoint_starts_a_new_run(candidate, tmp_path):
    """resume=True with no file at checkpoint_path yet trains from step 0, exactly as resume=False
    would, and leaves a checkpoint of the last step."""
    case = replace(FitCase(), total_steps=6)
    path = tmp_path / "not-yet.pt"
    what = case.describe(extra=", checkpoint_path=<no file yet>, resume=True")
    model, history = call_reporting(
        what, "With resume=True and no file at checkpoint_path, start a new run at step 0: the "
        "same command then both starts a run and continues it.",
        lambda: run_fit(candidate, case, checkpoint_path=path, resume=True))
    expected, _ = run_fit(candidate, case)
    require(torch.equal(flat_params(model), flat_params(expected)), (
        f"{what}: the final parameters differ from the same run with resume=False"))
    data = read_checkpoint(path, what)
    require(data.get("step") == 6, (
        f"{what}: the checkpoint written after the last step holds step {data.get('step')!r}, "
        "expected 6 (the number of steps done)"))


@pytest.mark.task(FIT, category="properties")
def test_without_resume_an_old_checkpoint_is_not_loaded(candidate, tmp_path):
    """resume defaults to False: with a file from an earlier run at checkpoint_path and resume
    left out, fit starts a new run at step 0 (and overwrites the file as it goes)."""
    case = replace(FitCase(), total_steps=6)
    path = tmp_path / "earlier.pt"
    reference_run, _ = run_fit(candidate, case, checkpoint_path=path)  # leaves step 6 in path
    what = case.describe(extra=", checkpoint_path=<a file of an earlier run's step 6>, resume "
                         "left out")
    model, history = call_reporting(
        what, "Without resume=True, start a new run at step 0 and overwrite the file.",
        lambda: run_fit(candidate, case, model_seed=case.seed + 50, checkpoint_path=path))
    history = history_of(history, what)
    fresh, _ = run_fit(candidate, case, model_seed=case.seed + 50)
    ran = len(history["train_loss"])
    if ran == case.total_steps and torch.equal(flat_params(model), flat_params(fresh)):
        return
    message = (f"{what}: ran {ran} steps, expected {case.total_steps}, and the final parameters "
               "differ from the same run without checkpoint_path")
    if ran == 0 and torch.equal(flat_params(model), flat_params(reference_run)):
        message += ("\n  Likely mistake: fit loaded the checkpoint although resume was left out; "
                    "resume defaults to False, and only resume=True loads the file")
    raise AssertionError(message)


@pytest.mark.task(FIT, category="values")
def test_fit_schedules_every_param_group(candidate, reference):
    """An optimizer with two param groups (weights and biases apart, as for weight decay): the
    scheduled learning rate goes into every group, and training equals the reference's."""
    case = replace(FitCase(), max_grad_norm=None, total_steps=8)

    def run(impl: Any) -> tuple[nn.Module, list[float]]:
        model, _, train, val = case.parts()
        groups = [{"params": [p for n, p in model.named_parameters() if n.endswith("weight")]},
                  {"params": [p for n, p in model.named_parameters() if n.endswith("bias")]}]
        optimizer = torch.optim.Adam(groups, lr=case.lr)
        impl.fit(model, train, val, optimizer, mse, case.total_steps, **case.kwargs())
        return model, [group["lr"] for group in optimizer.param_groups]

    what = (f"{case.describe()}, but Adam over two param groups (the weights, the biases)")
    model, lrs = run(candidate)
    expected_model, expected_lrs = run(reference)
    hint = ""
    if lrs[0] == expected_lrs[0] and lrs[1] != expected_lrs[1]:
        hint = (f" After the run the first group's lr is {lrs[0]!r} and the second's "
                f"{lrs[1]!r} (expected {expected_lrs[1]!r}): set the lr in every entry of "
                "optimizer.param_groups, not only in param_groups[0].")
    require(torch.allclose(flat_params(model), flat_params(expected_model), rtol=1e-9,
                           atol=1e-12), (
        f"{what}: the final parameters differ from the reference's by up to "
        f"{float((flat_params(model) - flat_params(expected_model)).abs().max()):.3g}.{hint}"))


@pytest.mark.task(FIT, category="properties")
@pytest.mark.parametrize("option", ["eval_every", "checkpoint_every"])
def test_fit_ignores_a_period_without_its_target(candidate, reference, option):
    """eval_every without a val_loader, or checkpoint_every without a checkpoint_path, does
    nothing: there is nothing to validate on, nowhere to save."""
    # unclipped, so that every correct loop (clip_grad_norm_ or by hand) ends bit for bit alike
    case = replace(FitCase(), total_steps=6, max_grad_norm=None,
                   eval_every=2 if option == "eval_every" else None)
    extra = {} if option == "eval_every" else {"checkpoint_every": 2}
    target = "val_loader=None" if option == "eval_every" else "checkpoint_path=None"
    if option == "eval_every":
        what = case.describe().replace("a val loader of 7", "val_loader=None")
    else:
        what = case.describe(extra=", checkpoint_path=None, checkpoint_every=2")

    def run(impl: Any) -> tuple[nn.Module, Any]:
        model, opt, train, val = case.parts()
        return model, impl.fit(model, train, None if option == "eval_every" else val, opt, mse,
                               case.total_steps, **{**case.kwargs(), **extra})

    model, history = call_reporting(
        what, f"With {target} there is nothing to do every {option} steps: check that "
        f"{'val_loader' if option == 'eval_every' else 'checkpoint_path'} is not None before "
        f"{'evaluating' if option == 'eval_every' else 'saving'}.", lambda: run(candidate))
    history = history_of(history, what)
    expected_model, expected = run(reference)
    if option == "eval_every":
        require(history["val_loss"] == [] and history["val_step"] == [], (
            f"{what}: the history holds validations at steps {history['val_step']}; with no "
            "val_loader there are none"))
    require(torch.equal(flat_params(model), flat_params(expected_model)), (
        f"{what}: the final parameters differ from the reference's"))


@pytest.mark.task(FIT, category="properties")
def test_fit_leaves_the_global_rng_alone(candidate):
    """A model without randomness, loaders shuffled by their own generators: a whole run with
    validation and checkpoints leaves torch's global RNG as it found it."""
    case = replace(FitCase(), total_steps=6)
    model, opt, train, val = case.parts()
    torch.manual_seed(4321)
    torch.rand(3)  # a state no seed call gives back
    before = torch.get_rng_state()
    candidate.fit(model, train, val, opt, mse, case.total_steps, **case.kwargs())
    require(torch.equal(torch.get_rng_state(), before), (
        f"{case.describe()}: torch's global RNG state changed during the run, though nothing in "
        "it draws from the global RNG (no dropout, loaders with their own generators). Don't "
        "reseed it (torch.manual_seed) inside fit: the caller owns it, and a resumed run that "
        "reseeds does not continue the random stream of the run it resumes."))


@pytest.mark.task(FIT, category="properties")
def test_fit_refuses_a_train_loader_without_batches(candidate):
    """An empty train_loader raises ValueError; restarting it epoch after epoch would loop
    forever without one step."""
    model, opt, _, val = FitCase().parts()
    what = "fit(an MLP, a train_loader of 0 batches (an empty list), a val loader, Adam, 4 steps)"
    try:
        candidate.fit(model, [], val, opt, mse, 4)
    except ValueError:
        return
    except (StopIteration, RuntimeError) as exc:  # a generator turns StopIteration into this
        if not isinstance(exc, StopIteration) and "StopIteration" not in str(exc):
            raise
        raise AssertionError(
            f"{what} raised {type(exc).__name__} ({exc or 'StopIteration'}): next() on a loader "
            "that has no batch to give. Check that an epoch gave at least one batch, and raise "
            "ValueError when it gave none") from None
    raise AssertionError(f"{what} returned; it must raise ValueError: there is nothing to train "
                         "on, and a loop that restarts the loader would never end")

