"""Spec for 06-amp: autocast, mixed-precision steps, gradient accumulation and torch.compile.

Run by `./kata check 06-amp`. Code is reached only through the `candidate` and `reference`
fixtures. This rung is about what runs, not only what comes out: a float32 step is *more*
accurate than a bf16 one and would pass every value check, so the spec records the dtype every
matrix multiplication ran in, whether autocast was still on during backward, the dtype of every
parameter and gradient afterwards, how many times the optimizer stepped and in which order the
micro-batches' forward and backward passes ran. Values go through the harness's error-ratio
rule: a low-precision step may be as far from the float64 result as twice the reference's own
low-precision error, and no further.

Every check fails with a message written for the learner, so pytest's assertion rewriting, which
would append its own introspection, is off for this module: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pytest
import torch
import torch.fx  # RecordingBackend checks that what it is handed is a traced graph
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode

from grader.harness import Mistake, assert_matches, measure_speed_ratio, sandbox, skip_check
from grader.strategies import randn, seeds

pytestmark = pytest.mark.rung("06-amp")

FORWARD = "autocast_forward"
STEP = "amp_train_step"
ACCUMULATE = "accumulation_step"
COMPILED = "compiled"

LR = 0.5  # plain SGD: the update is -LR * gradient, so an update compares like a gradient
SMALL_SCALE = 2.0**8  # a loss scale no tiny model overflows in fp16: the step really happens
OVERFLOW_SCALE = 2.0**40  # loss * 2**40 has no fp16 representation: the step must be skipped
REQUIRED_SPEEDUP = 1.5  # the AMP step on CUDA against the float32 step

# The ops a matrix multiplication reaches the dispatcher as (nn.Linear, @, bmm, einsum, ...).
MATMULS = frozenset({"mm", "addmm", "bmm", "baddbmm", "addbmm", "matmul", "linear", "mv",
                     "addmv", "dot", "_addmm_activation"})
LOW = {torch.bfloat16: "bfloat16", torch.float16: "float16"}


def require(condition: bool, message: str) -> None:
    """Fail with `message` alone."""
    if not condition:
        raise AssertionError(message)


# --- what the learner's code ran ----------------------------------------------------------------


class MatmulDtypes(TorchDispatchMode):
    """Records (op, output dtype) for every matrix multiplication, forward and backward alike."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, torch.dtype]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        if name in MATMULS and isinstance(out, Tensor):
            self.seen.append((name, out.dtype))
        return out


def assert_matmuls_ran_in(log: MatmulDtypes, dtype: torch.dtype, what: str, advice: str) -> None:
    """Every recorded matmul produced `dtype`; the message counts the others by op and dtype."""
    require(bool(log.seen), (
        f"{what} ran no matrix multiplication the grader could see; the model is made of "
        "nn.Linear layers, so its forward pass must run some."))
    wrong = [(name, got) for name, got in log.seen if got != dtype]
    if wrong:
        kinds = sorted({f"aten.{name} in {got}" for name, got in wrong})
        raise AssertionError(
            f"{what}: {len(wrong)} of {len(log.seen)} matrix multiplications did not run in "
            f"{dtype} ({', '.join(kinds)}). {advice}")


def learner_call(what: str, call: Callable[[], Any]) -> Any:
    """Run learner code. torch's own asserts (GradScaler checks its call order with assert)
    become a failure that says what was being asked and what the assert means."""
    try:
        return call()
    except AssertionError as exc:
        text = " ".join(str(exc).split())[:300].rstrip(".") or "an assert failed"
        advice = ""
        if "No inf checks were recorded" in text:
            advice = (" GradScaler.update() ran without a scaler.step(optimizer) before it. With "
                      "a scaler the step is scaler.step(optimizer), not optimizer.step(): it "
                      "unscales the gradients first and skips the step when they hold inf or "
                      "NaN. Then call scaler.update().")
        elif "unscale_() has already been called" in text:
            advice = " scaler.unscale_(optimizer) may run at most once per step."
        raise AssertionError(f"{what} raised AssertionError: {text}.{advice}") from None


# --- problems -----------------------------------------------------------------------------------


class TwoLayer(nn.Module):
    """fc1 -> GELU -> fc2, a model class of the kind a learner writes (a plain nn.Sequential
    would do, but nn.Module.compile() does not compile torch's own containers in place)."""

    def __init__(self, d_in: int, hidden: int, classes: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d_in, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))  # (B, d_in) -> (B, hidden) -> (B, classes)


@dataclass(frozen=True)
class Problem:
    """A two-layer classifier, Linear(d_in, hidden) -> GELU -> Linear(hidden, classes), with
    weights, inputs (batch, d_in) and integer targets drawn from one seed."""

    batch: int
    d_in: int
    hidden: int
    classes: int
    seed: int

    def build(self, flat: Tensor) -> TwoLayer:
        """The model holding the parameters `flat`, in flat's dtype and on its device."""
        model = TwoLayer(self.d_in, self.hidden, self.classes)
        model = model.to(device=flat.device, dtype=flat.dtype)
        with torch.no_grad():
            start = 0
            for param in model.parameters():
                param.copy_(flat[start:start + param.numel()].view_as(param))
                start += param.numel()
        return model

    @property
    def size(self) -> int:
        return self.hidden * (self.d_in + 1) + self.classes * (self.hidden + 1)

    def flat(self, device: torch.device) -> Tensor:
        """Float32 initial parameters, large enough that bf16 rounding shows in the output."""
        return randn((self.size,), self.seed, torch.float32, device, scale=0.6)

    def data(self, device: torch.device, seed: int = 0) -> tuple[Tensor, Tensor]:
        """Float32 inputs (batch, d_in) and int64 targets (batch,)."""
        x = randn((self.batch, self.d_in), self.seed + 100 + seed, torch.float32, device)
        generator = torch.Generator().manual_seed(self.seed + 200 + seed)
        y = torch.randint(0, self.classes, (self.batch,), generator=generator).to(device)
        return x, y

    def describe(self) -> str:
        return (f"the model Linear({self.d_in}, {self.hidden}) -> GELU -> "
                f"Linear({self.hidden}, {self.classes}) on inputs of shape "
                f"({self.batch}, {self.d_in})")


@st.composite
def problems(draw: st.DrawFn, min_batch: int = 1) -> Problem:
    return Problem(batch=draw(st.integers(min_batch, 6)), d_in=draw(st.integers(1, 6)),
                   hidden=draw(st.integers(1, 8)), classes=draw(st.integers(2, 5)),
                   seed=draw(seeds()))


TYPICAL = Problem(batch=6, d_in=5, hidden=8, classes=4, seed=3)


def flatten(model: nn.Module) -> Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def dtype_problems(model: nn.Module) -> list[str]:
    """Parameters and gradients that are not float32, as phrases."""
    found = []
    for name, param in model.named_parameters():
        if param.dtype != torch.float32:
            found.append(f"parameter `{name}` is {param.dtype}")
        elif param.grad is not None and param.grad.dtype != torch.float32:
            found.append(f"`{name}.grad` is {param.grad.dtype}")
    return found


CAST_ADVICE = ("autocast casts copies of the weights for each op and leaves the model alone. "
               "Don't call model.half(), model.bfloat16() or model.to(dtype): the parameters, "
               "their gradients and the optimizer's updates must stay float32, or small updates "
               "round away.")


# --- autocast_forward ---------------------------------------------------------------------------


def forward_with(impl: Any, problem: Problem, device: torch.device,
                 dtype: torch.dtype) -> Callable[[Tensor, Tensor], Tensor]:
    """flat, x -> impl.autocast_forward(model holding flat, x): what assert_matches compares."""
    return lambda flat, x: impl.autocast_forward(problem.build(flat), x, device.type, dtype)


LOW_DTYPES = st.sampled_from((torch.bfloat16, torch.float16))


@pytest.mark.task(FORWARD, category="shape")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_autocast_forward_returns_the_low_precision_output(candidate, device, dtype):
    """The model's last op is nn.Linear, so under autocast its output comes back in `dtype`."""
    problem = TYPICAL
    x, _ = problem.data(device)
    out = candidate.autocast_forward(problem.build(problem.flat(device)), x, device.type, dtype)
    call = f"autocast_forward(model, x, {device.type!r}, {dtype}) on {problem.describe()}"
    require(isinstance(out, Tensor), f"{call} returned {type(out).__name__}, not a tensor")
    expected = (problem.batch, problem.classes)
    require(tuple(out.shape) == expected, (
        f"{call} returned shape {tuple(out.shape)}, expected {expected}"))
    require(out.dtype == dtype, (
        f"{call} returned {out.dtype}; a final nn.Linear under autocast gives {dtype}. "
        + ("The forward pass ran without autocast: return model(x) from inside "
           "`with torch.autocast(device_type=device_type, dtype=dtype):`."
           if out.dtype == torch.float32 else "Pass `dtype` on to torch.autocast.")))


@pytest.mark.task(FORWARD, category="values")
@given(problem=problems(), dtype=LOW_DTYPES)
@example(problem=TYPICAL, dtype=torch.bfloat16)
def test_autocast_forward_matches_the_reference(candidate, reference, device, problem, dtype):
    """The output is within twice the reference's own low-precision error of the float64 one."""
    flat = problem.flat(device)
    x, _ = problem.data(device)
    out = candidate.autocast_forward(problem.build(flat), x, device.type, dtype)
    assert_matches(out, forward_with(reference, problem, device, dtype), flat, x,
                   what=f"autocast_forward(model, x, {device.type!r}, {dtype}) on "
                        f"{problem.describe()}")


@pytest.mark.task(FORWARD, category="structure")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_autocast_forward_runs_every_matmul_in_the_requested_dtype(candidate, device, dtype):
    """Every matrix multiplication of the forward pass produces `dtype`."""
    problem = TYPICAL
    model = problem.build(problem.flat(device))
    x, _ = problem.data(device)
    with MatmulDtypes() as log:
        candidate.autocast_forward(model, x, device.type, dtype)
    assert_matmuls_ran_in(
        log, dtype, f"autocast_forward(model, x, {device.type!r}, {dtype})",
        "Run the forward pass inside torch.autocast(device_type=device_type, dtype=dtype), "
        "with the dtype you were given; casting only the output is not mixed precision.")


@pytest.mark.task(FORWARD, category="properties")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_autocast_forward_leaves_the_model_in_float32(candidate, device, dtype):
    """Afterwards every parameter is still float32 and autocast is off again."""
    problem = TYPICAL
    model = problem.build(problem.flat(device))
    x, _ = problem.data(device)
    candidate.autocast_forward(model, x, device.type, dtype)
    found = dtype_problems(model)
    require(not found, (
        f"after autocast_forward(model, x, {device.type!r}, {dtype}): {', '.join(found)}. "
        + CAST_ADVICE))
    still_on = torch.is_autocast_enabled(device.type)
    if still_on:  # leave the process as the next test expects it
        torch.set_autocast_enabled(device.type, False)
    require(not still_on, (
        f"autocast_forward(model, x, {device.type!r}, {dtype}) returned with autocast still "
        "on. Use it as a context manager (`with torch.autocast(...):`) so it is switched off "
        "when the block ends."))


@pytest.mark.task(FORWARD, category="properties")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_autocast_forward_leaves_the_autocast_settings_as_they_were(candidate, device, dtype):
    """The process-wide autocast settings (on or off, and the dtype a bare torch.autocast uses)
    are the same after the call as before it."""
    def settings() -> tuple[bool, torch.dtype]:
        return torch.is_autocast_enabled(device.type), torch.get_autocast_dtype(device.type)

    problem = TYPICAL
    x, _ = problem.data(device)
    before = settings()
    try:
        candidate.autocast_forward(problem.build(problem.flat(device)), x, device.type, dtype)
        after = settings()
    finally:  # leave the process as the next test expects it
        torch.set_autocast_enabled(device.type, before[0])
        torch.set_autocast_dtype(device.type, before[1])
    require(after[0] == before[0], (
        f"autocast_forward(model, x, {device.type!r}, {dtype}) returned with autocast "
        f"{'on' if after[0] else 'off'}; it was {'on' if before[0] else 'off'} before. Use "
        "torch.autocast as a context manager, so the block restores it."))
    require(after[1] == before[1], (
        f"autocast_forward(model, x, {device.type!r}, {dtype}) changed the process-wide "
        f"autocast dtype for {device.type!r} from {before[1]} to {after[1]} (torch."
        "set_autocast_dtype): every later torch.autocast without a dtype, in any code, now "
        "runs in it. Pass the dtype to the context instead: torch.autocast(device_type="
        "device_type, dtype=dtype)."))


@pytest.mark.task(FORWARD, category="properties")
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_autocast_forward_calls_the_model_on_x_as_it_is(candidate, device, mode):
    """The call goes through model(x), so the model's hooks run; the model gets x itself, still
    float32 (autocast casts inside each op); and the model stays in the mode it was in."""
    problem = TYPICAL
    model = problem.build(problem.flat(device)).train(mode == "train")
    x, _ = problem.data(device)
    received: list[Any] = []
    model.register_forward_pre_hook(lambda module, args: received.append(args))
    dtype = torch.bfloat16
    call = (f"autocast_forward(model, x, {device.type!r}, {dtype}) on {problem.describe()}, "
            f"model in {mode} mode")
    candidate.autocast_forward(model, x, device.type, dtype)
    require(bool(received), (
        f"{call}: the model's forward hooks never ran. Call the module, model(x), not "
        "model.forward(x): only the call runs the hooks that libraries and profilers attach."))
    got = received[0][0] if received[0] else None
    if isinstance(got, Tensor) and got.dtype != x.dtype:
        raise AssertionError(
            f"{call}: the model was handed a {got.dtype} tensor of shape {tuple(got.shape)}, "
            f"not x ({x.dtype}).\n  Likely mistake: x was cast to the low-precision dtype "
            "before the call (x.to(dtype), x.bfloat16()). Don't cast the inputs: autocast "
            "casts them inside each op that is safe in low precision and leaves the others, "
            "such as softmax and reductions, in float32.")
    require(isinstance(got, Tensor) and got.shape == x.shape and torch.equal(got, x), (
        f"{call}: the model was not called on x as given (it got "
        f"{type(got).__name__ if not isinstance(got, Tensor) else tuple(got.shape)})."))
    require(model.training == (mode == "train"), (
        f"{call}: afterwards the model is in {'train' if model.training else 'eval'} mode. "
        "autocast_forward must not change the model: leave .train()/.eval() to the caller "
        "(training calls autocast_forward too)."))


@pytest.mark.task(FORWARD, category="grad")
@given(problem=problems(), dtype=LOW_DTYPES)
@example(problem=TYPICAL, dtype=torch.bfloat16)
def test_autocast_forward_gives_float32_gradients_to_the_parameters(candidate, reference,
                                                                   device, problem, dtype):
    """A backward pass from the output (random upstream gradient) reaches every parameter, in
    float32, with the values the reference's gives."""
    flat = problem.flat(device)
    x, _ = problem.data(device)
    call = f"autocast_forward(model, x, {device.type!r}, {dtype}) on {problem.describe()}"

    def gradients(impl: Any, flat: Tensor, x: Tensor) -> Tensor:
        model = problem.build(flat)
        out = impl.autocast_forward(model, x, device.type, dtype)
        require(isinstance(out, Tensor) and out.requires_grad, (
            f"{call}: the output does not require grad, so no gradient can reach the "
            "parameters. Don't run the forward pass under torch.no_grad() or detach it: "
            "training calls autocast_forward too."))
        upstream = randn(tuple(out.shape), problem.seed + 7, out.dtype, device)
        grads = torch.autograd.grad(out, list(model.parameters()), upstream, allow_unused=True)
        for (name, param), grad in zip(model.named_parameters(), grads, strict=True):
            require(grad is not None, f"{call}: no gradient reaches `{name}`")
            require(grad.dtype == param.dtype, (
                f"{call}: the gradient of `{name}` is {grad.dtype}, but the parameter is "
                f"{param.dtype}. " + CAST_ADVICE))
        return torch.cat([g.reshape(-1) for g in grads])

    got = gradients(candidate, flat, x)
    assert_matches(got, lambda f, x: gradients(reference, f, x), flat, x,
                   what=f"parameter gradients after {call}", k=3.0)


# --- amp_train_step -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """How a step runs: bf16 without a scaler, or fp16 with a GradScaler of some initial scale."""

    name: str
    init_scale: float | None  # None: no scaler

    @property
    def dtype(self) -> torch.dtype:
        return torch.bfloat16 if self.init_scale is None else torch.float16

    def scaler(self, device: torch.device) -> torch.amp.GradScaler | None:
        if self.init_scale is None:
            return None
        return torch.amp.GradScaler(device.type, init_scale=self.init_scale)

    def describe(self, device: torch.device) -> str:
        if self.init_scale is None:
            return "scaler=None (bf16)"
        exponent = math.log2(self.init_scale)
        scale = f"2.0**{exponent:.0f}" if exponent.is_integer() else f"{self.init_scale:g}"
        return f"scaler=torch.amp.GradScaler({device.type!r}, init_scale={scale}) (fp16)"


BF16 = Recipe("bf16", None)
FP16 = Recipe("fp16", SMALL_SCALE)
RECIPES = [BF16, FP16]


@dataclass
class StepRun:
    """What one amp_train_step call left behind."""

    update: Tensor  # parameters after minus parameters before, flattened
    loss: Any
    model: nn.Module
    scaler: torch.amp.GradScaler | None


def run_step(impl: Any, problem: Problem, recipe: Recipe, device: torch.device, flat: Tensor,
             x: Tensor, y: Tensor, stale: Tensor | None = None,
             scaler: torch.amp.GradScaler | None = None) -> StepRun:
    """One impl.amp_train_step with SGD(lr=LR) on the model holding `flat`."""
    model = problem.build(flat)
    if stale is not None:  # gradients left over from an earlier backward
        start = 0
        for param in model.parameters():
            param.grad = stale[start:start + param.numel()].view_as(param).clone()
            start += param.numel()
    sgd = torch.optim.SGD(model.parameters(), lr=LR)
    scaler = scaler if scaler is not None else recipe.scaler(device)
    what = f"amp_train_step on {problem.describe()} with {recipe.describe(device)}"
    loss = learner_call(what, lambda: impl.amp_train_step(model, (x, y), sgd, scaler,
                                                          F.cross_entropy))
    return StepRun(flatten(model) - flat.to(flatten(model).dtype), loss, model, scaler)


def step_mistakes(reference: Any, problem: Problem, recipe: Recipe,
                  device: torch.device) -> tuple[Mistake, ...]:
    def update(flat: Tensor, x: Tensor, y: Tensor) -> Tensor:
        return run_step(reference, problem, recipe, device, flat, x, y).update

    mistakes = [Mistake("the parameters did not change: the optimizer never stepped"
                        + (" (with a scaler, call scaler.step(optimizer))" if recipe.init_scale
                           else ""), lambda flat, x, y: torch.zeros_like(flat))]
    if recipe.init_scale is not None:
        scale = recipe.init_scale
        mistakes.append(Mistake(
            f"the update is {scale:g}× too large, the loss scale: the optimizer stepped on "
            "gradients that were still scaled. Call scaler.step(optimizer), which unscales "
            "them first, instead of optimizer.step()",
            lambda flat, x, y: scale * update(flat, x, y)))
    return tuple(mistakes)


@pytest.mark.task(STEP, category="shape")
@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: r.name)
def test_amp_step_returns_the_loss_as_a_float(candidate, device, recipe):
    """The step returns loss.item(), a Python float, not a tensor that holds the graph."""
    problem = TYPICAL
    x, y = problem.data(device)
    run = run_step(candidate, problem, recipe, device, problem.flat(device), x, y)
    require(isinstance(run.loss, float), (
        f"amp_train_step with {recipe.describe(device)} returned "
        f"{type(run.loss).__name__}; return loss.item(), a Python float (a loss tensor keeps "
        "the whole step's graph and memory alive)."))


@pytest.mark.task(STEP, category="values")
@given(problem=problems(), recipe=st.sampled_from(RECIPES))
@example(problem=TYPICAL, recipe=BF16)
@example(problem=TYPICAL, recipe=FP16)
def test_amp_step_updates_the_parameters_like_the_reference(candidate, reference, device,
                                                            problem, recipe):
    """SGD's update (after minus before) is within twice the reference's low-precision error of
    the float64 update."""
    flat = problem.flat(device)
    x, y = problem.data(device)
    got = run_step(candidate, problem, recipe, device, flat, x, y).update
    assert_matches(got, lambda f, x, y: run_step(reference, problem, recipe, device, f, x,
                                                 y).update,
                   flat, x, y, mistakes=step_mistakes(reference, problem, recipe, device),
                   what=f"the parameter update of amp_train_step(lr={LR} SGD) on "
                        f"{problem.describe()} with {recipe.describe(device)}")


@pytest.mark.task(STEP, category="values")
@given(problem=problems(), recipe=st.sampled_from(RECIPES))
@example(problem=TYPICAL, recipe=BF16)
@example(problem=TYPICAL, recipe=FP16)
def test_amp_step_returns_the_loss_before_the_update(candidate, reference, device, problem,
                                                     recipe):
    """The returned float is the batch's loss as the forward pass computed it."""
    flat = problem.flat(device)
    x, y = problem.data(device)
    loss = run_step(candidate, problem, recipe, device, flat, x, y).loss
    require(isinstance(loss, (float, int, Tensor)), (
        f"amp_train_step returned {type(loss).__name__}; return loss.item()"))
    got = torch.as_tensor(loss).detach().to(device=device, dtype=torch.float32).reshape(())

    def expected(f: Tensor, x: Tensor, y: Tensor) -> Tensor:
        value = run_step(reference, problem, recipe, device, f, x, y).loss
        return torch.tensor(value, dtype=f.dtype, device=device)

    mistakes = () if recipe.init_scale is None else (Mistake(
        f"the loss is {recipe.init_scale:g}× too large, the loss scale: you returned "
        "scaler.scale(loss).item(). Backward on scaler.scale(loss), but return the loss "
        "itself, loss.item()",
        lambda f, x, y, scale=recipe.init_scale: scale * expected(f, x, y)),)
    assert_matches(got, expected, flat, x, y, mistakes=mistakes,
                   what=f"the loss amp_train_step returned on {problem.describe()} with "
                        f"{recipe.describe(device)}")


@pytest.mark.task(STEP, category="structure")
@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: r.name)
def test_amp_step_runs_its_matmuls_in_low_precision(candidate, device, recipe):
    """Forward and backward matmuls produce bf16 without a scaler and fp16 with one; a float32
    step would be closer to the truth, so only this check catches a forgotten autocast."""
    problem = TYPICAL
    x, y = problem.data(device)
    with MatmulDtypes() as log:
        run_step(candidate, problem, recipe, device, problem.flat(device), x, y)
    assert_matmuls_ran_in(
        log, recipe.dtype, f"amp_train_step with {recipe.describe(device)}",
        f"With {'no scaler' if recipe.init_scale is None else 'a GradScaler'} the forward "
        f"pass and the loss run under torch.autocast(device_type=inputs.device.type, "
        f"dtype=torch.{LOW[recipe.dtype]}); the backward ops then follow their forward ops' "
        "dtypes. scaler=None means bf16 (no scaler needed), a scaler means fp16.")


@pytest.mark.task(STEP, category="structure")
@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: r.name)
def test_amp_step_runs_backward_outside_autocast(candidate, device, recipe):
    """While gradients flow back into the parameters, autocast is off."""
    problem = TYPICAL
    flat = problem.flat(device)
    x, y = problem.data(device)
    model = problem.build(flat)
    during_backward: list[bool] = []
    for param in model.parameters():
        param.register_hook(lambda grad: during_backward.append(
            torch.is_autocast_enabled(device.type)))
    sgd = torch.optim.SGD(model.parameters(), lr=LR)
    learner_call(f"amp_train_step with {recipe.describe(device)}",
                 lambda: candidate.amp_train_step(model, (x, y), sgd, recipe.scaler(device),
                                                  F.cross_entropy))
    require(bool(during_backward), (
        f"amp_train_step with {recipe.describe(device)} ran no backward pass that reached the "
        "parameters"))
    require(not any(during_backward), (
        f"amp_train_step with {recipe.describe(device)}: autocast was still on while backward "
        "ran. Close the `with torch.autocast(...):` block after the loss and call backward "
        "outside it: each backward op already runs in the dtype its forward op used, and "
        "autocast around backward is not supported."))


@pytest.mark.task(STEP, category="properties")
@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: r.name)
def test_amp_step_keeps_parameters_and_gradients_in_float32(candidate, device, recipe):
    """After the step every parameter and every gradient is float32."""
    problem = TYPICAL
    x, y = problem.data(device)
    run = run_step(candidate, problem, recipe, device, problem.flat(device), x, y)
    found = dtype_problems(run.model)
    require(not found, (
        f"after amp_train_step with {recipe.describe(device)}: {', '.join(found)}. "
        + CAST_ADVICE))


@pytest.mark.task(STEP, category="properties")
@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: r.name)
def test_amp_step_clears_gradients_left_from_before(candidate, reference, device, recipe):
    """The model arrives with stale .grad values; the update is the clean step's all the same."""
    problem = TYPICAL
    flat = problem.flat(device)
    x, y = problem.data(device)
    stale = randn((problem.size,), 99, torch.float32, device, scale=3.0)
    got = run_step(candidate, problem, recipe, device, flat, x, y, stale=stale).update
    unscale = 1.0 if recipe.init_scale is None else recipe.init_scale

    def clean(f: Tensor, x: Tensor, y: Tensor) -> Tensor:
        return run_step(reference, problem, recipe, device, f, x, y).update

    forgot = Mistake("the gradients left in .grad from an earlier backward were added to this "
                     "step's: backward adds into .grad, so call optimizer.zero_grad() before it",
                     lambda f, x, y: clean(f, x, y) - LR * stale.to(f.dtype) / unscale)
    assert_matches(got, clean, flat, x, y, mistakes=(forgot,),
                   what=f"the update of amp_train_step with {recipe.describe(device)} on a model "
                        "whose .grad held values from an earlier backward")


WEIGHT_DECAY = 0.1  # SGD's weight decay moves a parameter whose .grad is zeros, not one with None


def check_an_unreached_parameter_stays(step: Callable[[nn.Module, torch.optim.Optimizer], Any],
                                       problem: Problem, device: torch.device, what: str) -> None:
    """The model gets a parameter `spare` that its loss never reaches, with a stale .grad from an
    earlier backward; SGD has weight decay. Cleared to None (zero_grad()'s default), `spare` gets
    no gradient and SGD skips it; zeroed in place, SGD steps it on zeros and the decay moves it."""
    model = problem.build(problem.flat(device))
    model.spare = nn.Parameter(torch.tensor([1.0, -2.0, 0.5], device=device))
    for param in model.parameters():
        param.grad = torch.ones_like(param)  # left over from an earlier backward
    before = model.spare.detach().clone()
    sgd = torch.optim.SGD(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    step(model, sgd)
    after = model.spare.detach()
    if torch.equal(after, before):
        return

    def shown(t: Tensor) -> str:
        return "[" + ", ".join(f"{v:.6g}" for v in t.tolist()) + "]"

    i = int((after - before).abs().argmax())
    likely = ""
    if torch.allclose(after, before * (1 - LR * WEIGHT_DECAY), rtol=1e-6, atol=0.0):
        likely = ("\n  Likely mistake: the gradients were zeroed in place "
                  "(zero_grad(set_to_none=False), or p.grad.zero_()) instead of cleared to None, "
                  "so SGD stepped `spare` on a zero gradient and its weight decay shrank it. "
                  "optimizer.zero_grad() (set_to_none=True, the default) leaves .grad None, and "
                  "optimizers skip a parameter whose .grad is None.")
    raise AssertionError(
        f"{what}, plus a parameter `spare` of shape (3,) that the loss does not use and whose "
        f".grad held a stale value, with SGD(lr={LR}, weight_decay={WEIGHT_DECAY}): `spare` "
        f"moved from {shown(before)} to {shown(after)} (worst element [{i}]: "
        f"{float(before[i]):.6g} -> "
        f"{float(after[i]):.6g}). No gradient reaches it this step, so the step must leave it "
        f"where it was.{likely}")


@pytest.mark.task(STEP, category="properties")
@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: r.name)
def test_amp_step_leaves_a_parameter_the_loss_does_not_reach(candidate, device, recipe):
    """A parameter with a stale .grad that this loss does not reach is not stepped."""
    problem = TYPICAL
    x, y = problem.data(device)
    what = f"amp_train_step with {recipe.describe(device)} on {problem.describe()}"

    def step(model: nn.Module, sgd: torch.optim.Optimizer) -> Any:
        scaler = recipe.scaler(device)
        return learner_call(what, lambda: candidate.amp_train_step(model, (x, y), sgd, scaler,
                                                                   F.cross_entropy))

    check_an_unreached_parameter_stays(step, problem, device, what)


@pytest.mark.task(STEP, category="properties")
def test_an_overflowing_fp16_step_is_skipped_and_the_scale_backs_off(candidate, device):
    """With a loss scale of 2**40 the fp16 gradients overflow: the parameters stay as they were
    and scaler.update() halves the scale."""
    problem = TYPICAL
    flat = problem.flat(device)
    x, y = problem.data(device)
    recipe = Recipe("overflow", OVERFLOW_SCALE)
    run = run_step(candidate, problem, recipe, device, flat, x, y)
    call = f"amp_train_step with {recipe.describe(device)}"
    require(bool(torch.isfinite(flatten(run.model)).all()), (
        f"{call} left inf or NaN in the parameters: the optimizer stepped on overflowed "
        "gradients. Step with scaler.step(optimizer): it skips the step when the unscaled "
        "gradients hold inf or NaN."))
    require(bool((run.update == 0).all()), (
        f"{call} changed the parameters although the fp16 gradients overflowed (loss × 2**40 "
        "does not fit in float16). With a scaler, backward on scaler.scale(loss) and step with "
        "scaler.step(optimizer), which skips the step after an overflow."))
    assert run.scaler is not None
    scale = run.scaler.get_scale()
    require(scale == OVERFLOW_SCALE / 2, (
        f"{call}: after an overflowing step the scale is {scale:g}, expected "
        f"{OVERFLOW_SCALE / 2:g} (halved). "
        + ("The scale never changed: call scaler.update() after scaler.step(optimizer), so "
           "the next step tries a smaller scale." if scale == OVERFLOW_SCALE else "")))


@pytest.mark.task(STEP, category="training")
@pytest.mark.parametrize("recipe", [BF16, Recipe("fp16-default-scale", 2.0**16)],
                         ids=lambda r: r.name)
def test_amp_steps_train_the_model(candidate, device, recipe):
    """40 steps on one batch bring its float32 loss below half its starting value."""
    problem = Problem(batch=16, d_in=8, hidden=32, classes=4, seed=21)
    flat = problem.flat(device) * 0.5
    x, y = problem.data(device)
    model = problem.build(flat)
    sgd = torch.optim.SGD(model.parameters(), lr=LR)
    scaler = recipe.scaler(device)
    with torch.no_grad():
        start = float(F.cross_entropy(model(x), y))
    what = f"amp_train_step with {recipe.describe(device)}"
    for _ in range(40):
        learner_call(what, lambda: candidate.amp_train_step(model, (x, y), sgd, scaler,
                                                            F.cross_entropy))
    with torch.no_grad():
        end = float(F.cross_entropy(model(x), y))
    require(end < start / 2, (
        f"40 calls of {what} on one batch of 16 (SGD, lr={LR}) took the float32 loss from "
        f"{start:.4f} to {end:.4f}; it should fall below half. "
        + ("The parameters never moved: does the step reach the optimizer?" if end == start
           else "")))


# --- accumulation_step --------------------------------------------------------------------------


@dataclass(frozen=True)
class AccumulationCase:
    """k micro-batches of m examples each: one big batch of k * m."""

    problem: Problem
    k: int

    @property
    def m(self) -> int:
        return self.problem.batch // self.k

    def split(self, x: Tensor, y: Tensor) -> list[tuple[Tensor, Tensor]]:
        m = self.m
        return [(x[i * m:(i + 1) * m], y[i * m:(i + 1) * m]) for i in range(self.k)]

    def describe(self) -> str:
        p = self.problem
        return (f"{self.k} micro-batches of {self.m} examples (inputs ({self.m}, {p.d_in})) "
                f"for Linear({p.d_in}, {p.hidden}) -> GELU -> Linear({p.hidden}, {p.classes})")


@st.composite
def accumulation_cases(draw: st.DrawFn, min_k: int = 1) -> AccumulationCase:
    k, m = draw(st.integers(min_k, 4)), draw(st.integers(1, 4))
    problem = draw(problems())
    return AccumulationCase(replace(problem, batch=k * m), k)


TYPICAL_ACCUMULATION = AccumulationCase(replace(TYPICAL, batch=6), k=3)


class RecordingSGD(torch.optim.SGD):
    """SGD that keeps a copy of every gradient it steps on (None where .grad is None)."""

    def __init__(self, params: Any, lr: float) -> None:
        super().__init__(params, lr=lr)
        self.seen: list[list[Tensor | None]] = []

    def step(self, closure: Any = None) -> Any:
        with torch.no_grad():
            self.seen.append([None if p.grad is None else p.grad.detach().clone()
                              for group in self.param_groups for p in group["params"]])
        return super().step(closure)


def run_accumulation(impl: Any, case: AccumulationCase, flat: Tensor, x: Tensor, y: Tensor,
                     stale: Tensor | None = None) -> tuple[Any, RecordingSGD, nn.Module]:
    model = case.problem.build(flat)
    if stale is not None:
        start = 0
        for param in model.parameters():
            param.grad = stale[start:start + param.numel()].view_as(param).clone()
            start += param.numel()
    sgd = RecordingSGD(model.parameters(), lr=LR)
    loss = learner_call(f"accumulation_step with {case.describe()}",
                        lambda: impl.accumulation_step(model, case.split(x, y), sgd,
                                                       F.cross_entropy))
    return loss, sgd, model


def stepped_gradient(sgd: RecordingSGD, case: AccumulationCase, flat: Tensor) -> Tensor:
    """The flattened gradient of the one optimizer step; a missing .grad counts as zeros."""
    require(len(sgd.seen) == 1, (
        f"accumulation_step with {case.describe()} called optimizer.step() {len(sgd.seen)} "
        "times; accumulation takes exactly one step, after the last micro-batch's backward."))
    parts = []
    start = 0
    for grad, param in zip(sgd.seen[0], case.problem.build(flat).parameters(), strict=True):
        parts.append(torch.zeros(param.numel(), dtype=flat.dtype, device=flat.device)
                     if grad is None else grad.reshape(-1).to(flat.dtype))
        start += param.numel()
    return torch.cat(parts)


def big_batch_gradient(case: AccumulationCase) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    """flat, x, y -> the gradient of the mean loss over the whole batch, in one backward."""

    def compute(flat: Tensor, x: Tensor, y: Tensor) -> Tensor:
        model = case.problem.build(flat)
        loss = F.cross_entropy(model(x), y)
        return torch.cat([g.reshape(-1) for g in
                          torch.autograd.grad(loss, list(model.parameters()))])

    return compute


def accumulation_mistakes(case: AccumulationCase) -> tuple[Mistake, ...]:
    true = big_batch_gradient(case)
    k, m = case.k, case.m

    def last_only(flat: Tensor, x: Tensor, y: Tensor) -> Tensor:
        return big_batch_gradient(case)(flat, x[-m:], y[-m:])

    return (
        Mistake(f"the gradient is {k}× the big batch's: each micro-batch's loss must be divided "
                f"by k = {k} before backward (loss_fn averages within a micro-batch only)",
                lambda f, x, y: k * true(f, x, y)),
        Mistake("only the last micro-batch's gradient reached the step, divided by k: zero the "
                "gradients once before the loop, not inside it",
                lambda f, x, y: last_only(f, x, y) / k),
        Mistake("only the last micro-batch's gradient reached the step: zero the gradients once "
                "before the loop, not inside it", last_only),
        Mistake(f"the gradient is 1/{m} of the big batch's: the losses were divided by the "
                f"number of examples N = {k * m} instead of by k = {k}; loss_fn already "
                "averages over each micro-batch's examples", lambda f, x, y: true(f, x, y) / m),
    )


@pytest.mark.task(ACCUMULATE, category="shape")
def test_accumulation_returns_the_loss_as_a_float(candidate, device):
    """The step returns a Python float."""
    case = TYPICAL_ACCUMULATION
    flat = case.problem.flat(device)
    loss, _, _ = run_accumulation(candidate, case, flat, *case.problem.data(device))
    require(isinstance(loss, float), (
        f"accumulation_step with {case.describe()} returned {type(loss).__name__}; return the "
        "big batch's loss as a Python float (sum the micro-batches' loss.item() / k)."))


@pytest.mark.task(ACCUMULATE, category="values")
@given(case=accumulation_cases())
@example(case=TYPICAL_ACCUMULATION)
def test_k_micro_batches_give_the_gradient_of_one_big_batch(candidate, device, case):
    """The gradient the optimizer steps on equals the gradient of the mean loss over all k * m
    examples in one backward."""
    flat = case.problem.flat(device)
    x, y = case.problem.data(device)
    _, sgd, _ = run_accumulation(candidate, case, flat, x, y)
    assert_matches(stepped_gradient(sgd, case, flat), big_batch_gradient(case), flat, x, y,
                   mistakes=accumulation_mistakes(case),
                   what=f"the gradient at optimizer.step() of accumulation_step with "
                        f"{case.describe()}, against one backward over all {case.k * case.m}")


@pytest.mark.task(ACCUMULATE, category="values")
@given(case=accumulation_cases())
@example(case=TYPICAL_ACCUMULATION)
def test_accumulation_returns_the_big_batch_loss(candidate, device, case):
    """The returned float is the mean loss over all examples, the mean of the micro losses."""
    flat = case.problem.flat(device)
    x, y = case.problem.data(device)
    loss, _, _ = run_accumulation(candidate, case, flat, x, y)
    require(isinstance(loss, (float, int, Tensor)), (
        f"accumulation_step returned {type(loss).__name__}; return the loss as a float"))
    got = torch.as_tensor(loss).detach().to(device=device, dtype=torch.float32).reshape(())
    k, m = case.k, case.m

    def big(f: Tensor, x: Tensor, y: Tensor) -> Tensor:
        with torch.no_grad():
            return F.cross_entropy(case.problem.build(f)(x), y)

    assert_matches(got, big, flat, x, y,
                   what=f"the loss accumulation_step returned for {case.describe()}",
                   mistakes=(Mistake(f"you returned the sum of the {k} micro-batch losses; "
                                     "return their mean, the big batch's loss",
                                     lambda f, x, y: k * big(f, x, y)),
                             Mistake("you returned the last micro-batch's loss; return the mean "
                                     "over all micro-batches",
                                     lambda f, x, y: big(f, x[-m:], y[-m:])),
                             Mistake("you returned the last micro-batch's loss divided by k; "
                                     "add up every micro-batch's (loss / k).item()",
                                     lambda f, x, y: big(f, x[-m:], y[-m:]) / k)))


@pytest.mark.task(ACCUMULATE, category="properties")
@pytest.mark.parametrize("k", [1, 2, 4])
def test_accumulation_steps_the_optimizer_once(candidate, device, k):
    """However many micro-batches, optimizer.step() runs exactly once."""
    case = AccumulationCase(replace(TYPICAL, batch=2 * k), k)
    flat = case.problem.flat(device)
    _, sgd, _ = run_accumulation(candidate, case, flat, *case.problem.data(device))
    require(len(sgd.seen) == 1, (
        f"accumulation_step with {case.describe()} called optimizer.step() {len(sgd.seen)} "
        "times; it must step once, after every micro-batch's backward has added its share to "
        ".grad. Stepping per micro-batch is k small-batch steps, not one big-batch step."))


@pytest.mark.task(ACCUMULATE, category="properties")
def test_accumulation_clears_gradients_left_from_before(candidate, device):
    """The model arrives with stale .grad values; the step uses the big batch's gradient only."""
    case = TYPICAL_ACCUMULATION
    flat = case.problem.flat(device)
    x, y = case.problem.data(device)
    stale = randn((case.problem.size,), 98, torch.float32, device, scale=3.0)
    _, sgd, _ = run_accumulation(candidate, case, flat, x, y, stale=stale)
    true = big_batch_gradient(case)
    forgot = Mistake("the gradients left in .grad from an earlier backward were added in: call "
                     "optimizer.zero_grad() once, before the first micro-batch",
                     lambda f, x, y: true(f, x, y) + stale.to(f.dtype))
    assert_matches(stepped_gradient(sgd, case, flat), true, flat, x, y, mistakes=(forgot,),
                   what=f"the gradient at optimizer.step() of accumulation_step with "
                        f"{case.describe()} on a model whose .grad held stale values")


@pytest.mark.task(ACCUMULATE, category="properties")
def test_accumulation_leaves_a_parameter_the_loss_does_not_reach(candidate, device):
    """A parameter with a stale .grad that no micro-batch's loss reaches is not stepped."""
    case = TYPICAL_ACCUMULATION
    x, y = case.problem.data(device)
    what = f"accumulation_step with {case.describe()}"

    def step(model: nn.Module, sgd: torch.optim.Optimizer) -> Any:
        return learner_call(what, lambda: candidate.accumulation_step(model, case.split(x, y), sgd,
                                                                      F.cross_entropy))

    check_an_unreached_parameter_stays(step, case.problem, device, what)


@pytest.mark.task(ACCUMULATE, category="properties")
def test_accumulation_refuses_an_empty_list(candidate, device):
    """No micro-batches, no step: ValueError."""
    model = TYPICAL.build(TYPICAL.flat(device))
    sgd = RecordingSGD(model.parameters(), lr=LR)
    try:
        candidate.accumulation_step(model, [], sgd, F.cross_entropy)
    except ValueError:
        return
    except ZeroDivisionError:
        raise AssertionError("accumulation_step(model, [], ...) raised ZeroDivisionError; check "
                             "for an empty list first and raise ValueError") from None
    raise AssertionError("accumulation_step(model, [], ...) returned without complaint; with "
                         "no micro-batches there is nothing to step on: raise ValueError")


@pytest.mark.task(ACCUMULATE, category="structure")
@pytest.mark.parametrize("k", [2, 4])
def test_each_micro_batch_is_backpropagated_before_the_next_forward(candidate, device, k):
    """The order is forward, backward, forward, backward, ...: one micro-batch's graph lives
    at a time, which is the memory accumulation saves."""
    case = AccumulationCase(replace(TYPICAL, batch=2 * k), k)
    flat = case.problem.flat(device)
    x, y = case.problem.data(device)
    model = case.problem.build(flat)
    events: list[str] = []
    model.register_forward_hook(lambda module, args, out: events.append("forward"))
    first = next(model.parameters())
    first.register_hook(lambda grad: events.append("backward"))
    sgd = RecordingSGD(model.parameters(), lr=LR)
    learner_call(f"accumulation_step with {case.describe()}",
                 lambda: candidate.accumulation_step(model, case.split(x, y), sgd,
                                                     F.cross_entropy))
    expected = ["forward", "backward"] * k
    require(events == expected, (
        f"accumulation_step with {case.describe()} ran {', '.join(events) or 'nothing'}; "
        f"expected {', '.join(expected)}. Call backward on each micro-batch's loss / k right "
        "after its forward: adding the losses up and calling backward once gives the same "
        "gradient but keeps every micro-batch's graph in memory, which is what accumulation "
        "is meant to avoid."))


# --- compiled -----------------------------------------------------------------------------------


class RecordingBackend:
    """A torch.compile backend that runs the traced graph as it is and counts the graphs.

    Only graphs dynamo traced count (torch.fx GraphModules, which learner code cannot build),
    kept where learner code cannot write (private attributes are refused to it)."""

    def __init__(self) -> None:
        self._graphs: list[Any] = []

    def __call__(self, graph_module: Any, example_inputs: Any) -> Callable[..., Any]:
        if isinstance(graph_module, torch.fx.GraphModule):
            self._graphs.append(graph_module)
        return graph_module.forward

    @property
    def graphs(self) -> int:
        return len(self._graphs)


@pytest.fixture
def fresh_dynamo() -> Any:
    """Each test starts with dynamo's caches empty (and leaves them so)."""
    import torch._dynamo

    if not torch._dynamo.is_dynamo_supported():
        skip_check("torch.compile is not supported on this Python/torch")
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def compiled_module(candidate: Any, model: nn.Module, backend: Any, label: str) -> nn.Module:
    result = candidate.compiled(model, backend=backend)
    require(isinstance(result, nn.Module), (
        f"compiled(model, backend={label}) returned {type(result).__name__}; return the "
        "module torch.compile(model, backend=backend) gives (compiling model.forward gives a "
        "function, which has no parameters or .train()/.eval())."))
    return result


@pytest.mark.task(COMPILED, category="structure")
def test_compiled_runs_a_graph_the_backend_compiled(candidate, device, fresh_dynamo):
    """Calling the result hands a traced graph to the backend it was given."""
    problem = TYPICAL
    model = problem.build(problem.flat(device))
    backend = RecordingBackend()
    result = compiled_module(candidate, model, backend, "<a backend of the grader's>")
    result(problem.data(device)[0])
    require(backend.graphs > 0, (
        "compiled(model, backend=<a backend of the grader's>) returned a module whose call "
        "never reached that backend: nothing was compiled with it. Return "
        "torch.compile(model, backend=backend), passing `backend` through (the grader's own "
        "backend records every graph it gets)."))


@pytest.mark.task(COMPILED, category="properties")
def test_compiled_returns_the_model_where_dynamo_cannot_run(candidate, device, fresh_dynamo):
    """Where torch._dynamo.is_dynamo_supported() is False (a Python version dynamo does not
    know yet, say), the result is the model itself."""
    problem = TYPICAL
    model = problem.build(problem.flat(device))
    with sandbox.patched(torch._dynamo, "is_dynamo_supported", lambda: False):
        result = candidate.compiled(model, backend=RecordingBackend())
    require(result is model, (
        "compiled(model) where torch._dynamo.is_dynamo_supported() is False returned "
        f"{type(result).__name__}, not the model. torch.compile cannot run there (it raises on "
        "such a Python): ask torch._dynamo.is_dynamo_supported() first and return model "
        "unchanged when it says no."))


@pytest.mark.task(COMPILED, category="structure")
def test_compiled_defaults_to_the_inductor_backend(candidate, device, fresh_dynamo):
    """compiled(model) without a backend hands torch.compile backend="inductor" (the grader
    records the request and compiles with "eager" instead, to keep the check fast)."""
    problem = TYPICAL
    model = problem.build(problem.flat(device))
    real_compile = torch.compile
    requested: list[Any] = []

    def recording_compile(target: Any = None, **options: Any) -> Any:
        requested.append(options.get("backend"))
        options["backend"] = "eager"
        return real_compile(target, **options)

    with sandbox.patched(torch, "compile", recording_compile):
        result = candidate.compiled(model)
        result(problem.data(device)[0])
    require(bool(requested), (
        "compiled(model) never called torch.compile; return torch.compile(model, "
        "backend=backend)."))
    others = [backend for backend in requested if backend not in (None, "inductor")]
    if others:
        raise AssertionError(
            f"compiled(model), called without a backend, asked torch.compile for backend="
            f"{others[0]!r}. The default is backend=\"inductor\", torch.compile's own: keep "
            "`backend: ... = \"inductor\"` in the signature and pass it through.")


@pytest.mark.task(COMPILED, category="values")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_compiled_gives_the_models_outputs(candidate, device, fresh_dynamo, dtype):
    """With backend="aot_eager", outputs equal the eager model's at two batch sizes."""
    problem = TYPICAL
    flat = problem.flat(device).to(dtype)
    result = compiled_module(candidate, problem.build(flat), "aot_eager", '"aot_eager"')
    for batch in (problem.batch, problem.batch + 3):
        x = randn((batch, problem.d_in), batch, dtype, device)
        assert_matches(result(x), lambda f, x: problem.build(f)(x), flat, x,
                       what=f'compiled(model, backend="aot_eager") on {problem.describe()}, '
                            f"batch {batch}, {dtype}")


@pytest.mark.task(COMPILED, category="grad")
def test_gradients_through_the_compiled_module_match(candidate, device, fresh_dynamo):
    """A backward pass through the compiled module gives the eager model's gradients, and they
    land in the original model's parameters."""
    problem = TYPICAL
    flat = problem.flat(device)
    x = problem.data(device)[0]
    model = problem.build(flat)
    result = compiled_module(candidate, model, "aot_eager", '"aot_eager"')
    upstream = randn((problem.batch, problem.classes), 5, torch.float32, device)

    def gradients(module: nn.Module, params: Sequence[Tensor], x: Tensor) -> Tensor:
        out = module(x)
        grads = torch.autograd.grad(out, list(params), upstream.to(out.dtype),
                                    allow_unused=True)
        require(all(g is not None for g in grads), (
            'a backward pass through compiled(model, backend="aot_eager") gave no gradient to '
            "some of the original model's parameters; the compiled module must use them, not "
            "copies."))
        return torch.cat([g.reshape(-1) for g in grads])

    def eager(f: Tensor, x: Tensor) -> Tensor:
        fresh = problem.build(f)
        return gradients(fresh, list(fresh.parameters()), x)

    assert_matches(gradients(result, list(model.parameters()), x), eager, flat, x,
                   what=f'parameter gradients through compiled(model, backend="aot_eager") on '
                        f"{problem.describe()}", k=3.0)


@pytest.mark.task(COMPILED, category="properties")
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_compiled_shares_the_models_parameters_and_mode(candidate, device, fresh_dynamo, mode):
    """The result holds the very parameter objects of the model (training one trains the other)
    and leaves the model in the mode it was in."""
    problem = TYPICAL
    model = problem.build(problem.flat(device)).train(mode == "train")
    result = compiled_module(candidate, model, RecordingBackend(), "<a backend>")
    own = {id(p) for p in model.parameters()}
    theirs = {id(p) for p in result.parameters()}
    require(theirs == own, (
        "compiled(model) returned a module whose parameters are not the model's own "
        f"({len(theirs & own)} of {len(own)} shared): it trains a copy, and the model you "
        "passed never changes. torch.compile wraps the module you give it without copying; "
        "don't deepcopy it first."))
    for label, module in (("the model", model), ("the result", result)):
        require(module.training == (mode == "train"), (
            f"after compiled(model) on a model in {mode} mode, {label} is in "
            f"{'train' if module.training else 'eval'} mode. Compiling must not switch modes: "
            "leave .train()/.eval() to the caller."))


# --- on a CUDA GPU ------------------------------------------------------------------------------


@pytest.mark.task(FORWARD, category="gpu")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_autocast_forward_on_cuda_runs_in_the_requested_dtype(candidate, device, dtype):
    """On CUDA, device_type="cuda" puts the matmuls in `dtype` (a hard-coded "cpu" would not)."""
    problem = TYPICAL
    model = problem.build(problem.flat(device))
    x, _ = problem.data(device)
    with MatmulDtypes() as log:
        candidate.autocast_forward(model, x, device.type, dtype)
    assert_matmuls_ran_in(
        log, dtype, f"autocast_forward(model, x, {device.type!r}, {dtype}) on {device}",
        "Pass device_type on to torch.autocast: autocast for 'cpu' leaves CUDA ops alone.")


@pytest.mark.task(STEP, category="gpu")
def test_amp_step_on_cuda_uses_fp16_with_the_scaler(candidate, reference, device):
    """On CUDA with a GradScaler: fp16 matmuls, float32 parameters and the reference's update."""
    problem, recipe = TYPICAL, FP16
    flat = problem.flat(device)
    x, y = problem.data(device)
    with MatmulDtypes() as log:
        run = run_step(candidate, problem, recipe, device, flat, x, y)
    assert_matmuls_ran_in(log, torch.float16, f"amp_train_step on {device} with a GradScaler",
                          "Autocast on the inputs' device type: inputs.device.type.")
    found = dtype_problems(run.model)
    require(not found, f"after amp_train_step on {device}: {', '.join(found)}. " + CAST_ADVICE)
    assert_matches(run.update, lambda f, x, y: run_step(reference, problem, recipe, device, f,
                                                        x, y).update,
                   flat, x, y, mistakes=step_mistakes(reference, problem, recipe, device),
                   what=f"the parameter update of amp_train_step on {device} with "
                        f"{recipe.describe(device)}")


@dataclass(frozen=True)
class TimingSize:
    """An MLP big enough that matrix multiplications dominate a step on a GPU."""

    batch: int = 4096
    width: int = 4096
    layers: int = 4
    classes: int = 1000


GPU_TIMING = TimingSize()


def timing_model(size: TimingSize, device: torch.device, seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for _ in range(size.layers):
        layers += [nn.Linear(size.width, size.width), nn.GELU()]
    return nn.Sequential(*layers, nn.Linear(size.width, size.classes)).to(device)


def float32_step(model: nn.Module, batch: tuple[Tensor, Tensor],
                 optimizer: torch.optim.Optimizer) -> float:
    """The step without mixed precision: what AMP is measured against."""
    inputs, targets = batch
    optimizer.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(inputs), targets)
    loss.backward()
    optimizer.step()
    return loss.item()


def amp_speedup(candidate: Any, device: torch.device, size: TimingSize) -> float:
    """float32 step time / candidate AMP step time, on two copies of one model."""
    amp_model, plain_model = timing_model(size, device, 0), timing_model(size, device, 0)
    amp_sgd = torch.optim.SGD(amp_model.parameters(), lr=1e-3)
    plain_sgd = torch.optim.SGD(plain_model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler(device.type)
    step = candidate.amp_train_step

    def make_inputs(slot: int) -> tuple[tuple[Tensor, Tensor]]:
        generator = torch.Generator().manual_seed(slot)
        x = torch.randn(size.batch, size.width, generator=generator).to(device)
        y = torch.randint(0, size.classes, (size.batch,), generator=generator).to(device)
        return ((x, y),)

    ratio = measure_speed_ratio(lambda batch: step(amp_model, batch, amp_sgd, scaler,
                                                   F.cross_entropy),
                                lambda batch: float32_step(plain_model, batch, plain_sgd),
                                make_inputs)
    return 1 / ratio


@pytest.mark.task(STEP, category="gpu")
def test_amp_step_on_cuda_is_at_least_1_5x_faster_than_float32(candidate, device):
    """fp16 + GradScaler steps of a 4-layer 4096-wide MLP (batch 4096) take at most 1/1.5 of the
    float32 steps' time (CUDA events, median of 15 interleaved pairs)."""
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        if major < 7:
            skip_check(f"this CUDA GPU (compute capability {major}.{minor}) has no tensor "
                        "cores, so fp16 matmuls are not faster there")
    size = GPU_TIMING
    speedup = amp_speedup(candidate, device, size)
    require(speedup >= REQUIRED_SPEEDUP, (
        f"amp_train_step with torch.amp.GradScaler({device.type!r}) on an MLP of "
        f"{size.layers} layers {size.width} wide (batch {size.batch}) ran {speedup:.2f}× as "
        f"fast as the float32 step; mixed precision should give at least {REQUIRED_SPEEDUP}×. "
        f"Check that the forward pass runs under torch.autocast(device_type={device.type!r}, "
        "dtype=torch.float16) and that nothing in the step synchronises more than loss.item() "
        "and the scaler do."))

