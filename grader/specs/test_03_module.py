"""Spec for 03-module: nn.Module's parameters, buffers and state_dict; counting and freezing.

Run by `./kata check 03-module`. Code is reached only through the `candidate` and `reference`
fixtures. Outputs, gradients and trained values go through the harness's error-ratio rule; what a
module registers (parameters, buffers, state_dict keys, requires_grad flags) and what must not
change (a buffer in eval mode, a frozen weight) are compared exactly. count_parameters and freeze
are checked on models built here from torch.nn, so they are graded apart from MLP and Affine.

Every assert carries a message written for the learner, so pytest's assertion rewriting, which
would append its own introspection to it, is off for this module: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from torch import Tensor, nn

from grader.harness import (
    Mistake,
    assert_float64_close,
    assert_matches,
    assert_module_grads_match,
    distinct_digits,
)
from grader.strategies import randn, seeds

pytestmark = pytest.mark.rung("03-module")

MLP = "MLP"
AFFINE = "Affine"
COUNT = "count_parameters"
FREEZE = "freeze"

MLP_KEYS = ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")
AFFINE_KEYS = ("scale", "running_mean")


def require(condition: bool, message: str) -> None:
    """Fail with `message` alone."""
    if not condition:
        raise AssertionError(message)


def values_of(t: Tensor) -> str:
    """A short tensor as a plain list, for messages."""
    return str([round(v, 4) for v in t.detach().cpu().double().flatten().tolist()])


# --- MLP ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MLPCase:
    """One MLP configuration, an input (..., in_features) and a seed for weights and input."""

    batch: tuple[int, ...]
    in_features: int
    hidden: int
    out_features: int
    seed: int

    @property
    def args(self) -> tuple[int, int, int]:
        return self.in_features, self.hidden, self.out_features

    def x(self, device: torch.device, dtype: torch.dtype = torch.float64) -> Tensor:
        return randn((*self.batch, self.in_features), self.seed + 100, dtype, device)

    def describe(self) -> str:
        return (f"MLP(in_features={self.in_features}, hidden={self.hidden}, "
                f"out_features={self.out_features}) on x of shape "
                f"{(*self.batch, self.in_features)}")


@st.composite
def mlp_cases(draw: st.DrawFn) -> MLPCase:
    return MLPCase(
        batch=tuple(draw(st.lists(st.integers(1, 3), max_size=2))),
        in_features=draw(st.integers(1, 6)),
        hidden=draw(st.integers(1, 6)),
        out_features=draw(st.integers(1, 6)),
        seed=draw(seeds()),
    )


# Three different widths and two batch dims: a layer built with the wrong sizes cannot hide.
TYPICAL_MLP = MLPCase(batch=(2, 3), in_features=4, hidden=5, out_features=3, seed=7)


def mlp_key_advice(keys: Sequence[str]) -> str:
    """The likely mistake behind a state_dict whose keys are not fc1.weight, ..., fc2.bias."""
    if not keys:
        return ("\n  Likely mistake: the layers are not registered. An nn.Linear kept in a Python "
                "list, tuple or dict is invisible to parameters() and state_dict(); assign each "
                "layer to its own attribute: self.fc1 = nn.Linear(in_features, hidden).")
    if any(part.isdigit() for key in keys for part in key.split(".")):
        return ("\n  Likely mistake: the layers sit in an nn.Sequential (or nn.ModuleList), which "
                "names them by position (0.weight, net.0.weight). Store them as the attributes "
                "self.fc1 and self.fc2, so that weights saved from any MLP load into yours.")
    if any(key.endswith(".weight") for key in keys) and not any(
            key.endswith(".bias") for key in keys):
        return ("\n  Likely mistake: the layers have no bias; keep nn.Linear's default "
                "bias=True.")
    return ("\n  The layers must be fc1 = nn.Linear(in_features, hidden) and "
            "fc2 = nn.Linear(hidden, out_features), stored as attributes with exactly those names.")


def load_mlp_weights(mine: nn.Module, ref: nn.Module, case: MLPCase) -> None:
    """Give the learner's MLP the reference's weights the way a user would: load_state_dict."""
    state = {key: value.detach().clone() for key, value in ref.state_dict().items()}
    try:  # copies: learner code never holds the reference's own tensors
        mine.load_state_dict(state)
    except RuntimeError as error:
        got = ", ".join(f"{k} {tuple(v.shape)}" for k, v in mine.state_dict().items())
        want = ", ".join(f"{k} {tuple(v.shape)}" for k, v in state.items())
        reason = " ".join(str(error).split())[:300]
        raise AssertionError(
            f"{case.describe()}: your MLP cannot load the reference's weights with "
            f"load_state_dict ({reason}).\n  Your state_dict holds: {got or 'nothing'}\n"
            f"  Expected: {want}" + mlp_key_advice(list(mine.state_dict()))
        ) from None


def build_mlp_pair(
    candidate: Any, reference: Any, case: MLPCase, device: torch.device,
    dtype: torch.dtype = torch.float64,
) -> tuple[nn.Module, nn.Module]:
    """The learner's MLP and the reference MLP holding the same random weights."""
    ref = reference.MLP(*case.args)
    with torch.no_grad():
        for i, param in enumerate(ref.parameters()):  # biases as large as weights: ReLU matters
            param.copy_(randn(tuple(param.shape), case.seed + i, scale=0.7))
    mine = candidate.MLP(*case.args)
    load_mlp_weights(mine, ref, case)
    return mine.to(device, dtype), ref.to(device, dtype)


def mlp_mistakes(ref: nn.Module) -> tuple[Mistake, ...]:
    """What an MLP with `ref`'s weights computes with each classic mistake."""
    fc1, fc2 = ref.fc1, ref.fc2
    return (
        Mistake("there is no ReLU between fc1 and fc2; without it the two layers collapse into "
                "a single linear map", lambda x: fc2(fc1(x))),
        Mistake("the ReLU was also applied to the output; it goes between the layers only: "
                "fc2(relu(fc1(x)))", lambda x: torch.relu(fc2(torch.relu(fc1(x))))),
        Mistake("the ReLU was applied to the input, before fc1; it goes after fc1: "
                "fc2(relu(fc1(x)))", lambda x: fc2(fc1(torch.relu(x)))),
        Mistake("a sigmoid was used where the ReLU goes", lambda x: fc2(torch.sigmoid(fc1(x)))),
        Mistake("tanh was used where the ReLU goes", lambda x: fc2(torch.tanh(fc1(x)))),
        Mistake("GELU was used where the ReLU goes",
                lambda x: fc2(nn.functional.gelu(fc1(x)))),
    )


@pytest.mark.task(MLP, category="shape")
@given(case=mlp_cases())
@example(case=TYPICAL_MLP)
def test_mlp_maps_in_features_to_out_features(candidate, device, case):
    """forward maps (..., in_features) to (..., out_features) and keeps float32."""
    module = candidate.MLP(*case.args).to(device)
    out = module(case.x(device, torch.float32))
    require(isinstance(out, Tensor),
            f"{case.describe()} returned {type(out).__name__}; forward must return a tensor")
    expected = (*case.batch, case.out_features)
    require(tuple(out.shape) == expected, (
        f"{case.describe()} returned shape {tuple(out.shape)}, expected {expected}: the leading "
        "dims of x pass through and the last one becomes out_features"))
    require(out.dtype == torch.float32,
            f"{case.describe()} returned {out.dtype} for a float32 x; expected float32")


@pytest.mark.task(MLP, category="structure")
@pytest.mark.parametrize("sizes", [(4, 8, 2), (3, 5, 7)])
def test_mlp_state_dict_is_fc1_and_fc2(candidate, sizes):
    """state_dict keys are exactly fc1.weight, fc1.bias, fc2.weight, fc2.bias, with nn.Linear's
    shapes, and parameters() lists the same four tensors."""
    in_features, hidden, out_features = sizes
    what = f"MLP(in_features={in_features}, hidden={hidden}, out_features={out_features})"
    module = candidate.MLP(in_features, hidden, out_features)
    state = module.state_dict()
    keys = list(state)
    if set(keys) != set(MLP_KEYS):
        missing = [k for k in MLP_KEYS if k not in state]
        extra = [k for k in keys if k not in MLP_KEYS]
        raise AssertionError(
            f"{what}: state_dict keys are {keys}, expected exactly {list(MLP_KEYS)}"
            + (f"\n  missing: {missing}" if missing else "")
            + (f"\n  unexpected: {extra}" if extra else "") + mlp_key_advice(keys))
    expected_shapes = {"fc1.weight": (hidden, in_features), "fc1.bias": (hidden,),
                       "fc2.weight": (out_features, hidden), "fc2.bias": (out_features,)}
    for key, shape in expected_shapes.items():
        require(tuple(state[key].shape) == shape, (
            f"{what}: `{key}` has shape {tuple(state[key].shape)}, expected {shape}. "
            "nn.Linear(a, b) stores its weight as (b, a); fc1 = nn.Linear(in_features, hidden) "
            "and fc2 = nn.Linear(hidden, out_features)"))
    params = [name for name, _ in module.named_parameters()]
    require(sorted(params) == sorted(MLP_KEYS), (
        f"{what}: parameters() lists {params}, expected {list(MLP_KEYS)}: the layers' weights "
        "and biases are what an optimizer trains, so they must be parameters"))


@pytest.mark.task(MLP, category="values")
@given(case=mlp_cases())
@example(case=TYPICAL_MLP)
def test_mlp_matches_the_reference(candidate, reference, device, case):
    """With the reference's weights (copied by load_state_dict) the output is fc2(relu(fc1(x)))."""
    mine, ref = build_mlp_pair(candidate, reference, case, device)
    x = case.x(device)
    assert_matches(mine(x), ref, x, what=f"output of {case.describe()}",
                   mistakes=mlp_mistakes(ref))


def non_contiguous(shape: tuple[int, ...], seed: int, device: torch.device,
                   dtype: torch.dtype = torch.float64) -> Tensor:
    """A tensor of `shape` whose memory is laid out reversed: a permuted view, not contiguous."""
    x = randn(tuple(reversed(shape)), seed, dtype, device).permute(*reversed(range(len(shape))))
    assert not x.is_contiguous() and tuple(x.shape) == shape
    return x


def call_on_non_contiguous(what: str, call: Callable[[], Any]) -> Any:
    """Run learner code on a non-contiguous input; a RuntimeError becomes advice."""
    try:
        return call()
    except RuntimeError as error:
        text = " ".join(str(error).split())[:300]
        raise AssertionError(
            f"{what} raised RuntimeError: {text}. x is a permuted view here, not contiguous in "
            "memory, and .view() refuses to flatten such a tensor: use .reshape() or .flatten(), "
            "which copy when they must.") from None


@pytest.mark.task(MLP, category="values")
def test_mlp_on_a_non_contiguous_x(candidate, reference, device):
    """x may be any (..., in_features) tensor, a permuted (non-contiguous) one included."""
    case = TYPICAL_MLP
    mine, ref = build_mlp_pair(candidate, reference, case, device)
    x = non_contiguous((*case.batch, case.in_features), case.seed + 100, device)
    what = f"{case.describe()}, x non-contiguous (a permuted view)"
    out = call_on_non_contiguous(what, lambda: mine(x))
    assert_matches(out, ref, x, what=f"output of {what}", mistakes=mlp_mistakes(ref))


@pytest.mark.task(MLP, category="properties")
def test_building_an_mlp_leaves_the_random_stream_alone(candidate):
    """Two MLPs built one after the other start from different random weights: building one
    does not reseed torch's random generator."""
    torch.manual_seed(1234)
    first, second = candidate.MLP(4, 5, 3), candidate.MLP(4, 5, 3)
    pairs = list(zip(first.state_dict().values(), second.state_dict().values(), strict=False))
    require(not pairs or not all(torch.equal(a, b) for a, b in pairs), (
        "two MLP(4, 5, 3) built one after the other have identical weights. Building an MLP "
        "must not call torch.manual_seed (or otherwise reset the random generator): that gives "
        "every MLP the same initial weights, and resets the caller's random stream (its data "
        "shuffling, its dropout masks). Seeding is the caller's decision."))


@pytest.mark.task(MLP, category="values")
@given(case=mlp_cases())
@example(case=TYPICAL_MLP)
def test_mlp_in_float32(candidate, reference, device, case):
    """A float32 MLP is within twice the reference's own float32 error of the float64 result."""
    mine, ref = build_mlp_pair(candidate, reference, case, device, torch.float32)
    x = case.x(device, torch.float32)
    assert_matches(mine(x), ref, x, what=f"output of {case.describe()} in float32",
                   mistakes=mlp_mistakes(ref))


@pytest.mark.task(MLP, category="grad")
@given(case=mlp_cases())
@example(case=TYPICAL_MLP)
def test_mlp_gradients_match(candidate, reference, device, case):
    """Gradients w.r.t. x and the four weights equal the reference's (random upstream gradient)."""
    mine, ref = build_mlp_pair(candidate, reference, case, device)
    assert_module_grads_match(mine, ref, case.x(device), what=case.describe(), seed=case.seed)


# --- Affine ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AffineCase:
    """One Affine configuration with a random scale and running mean, and its inputs."""

    batch: tuple[int, ...]
    F: int
    momentum: float
    seed: int

    def x(self, device: torch.device, dtype: torch.dtype = torch.float64, step: int = 0) -> Tensor:
        """Input number `step`: off-centre, so every batch has a mean worth tracking."""
        shape = (*self.batch, self.F)
        return randn(shape, self.seed + 100 + step, dtype, device, scale=1.5, offset=0.5)

    def state(self, device: torch.device, dtype: torch.dtype = torch.float64
              ) -> tuple[Tensor, Tensor]:
        """(scale, running_mean) to start from, so that neither is the identity."""
        scale = randn((self.F,), self.seed, dtype, device, scale=0.5, offset=1.0)
        return scale, randn((self.F,), self.seed + 1, dtype, device)

    def describe(self, mode: str) -> str:
        return (f"Affine({self.F}, momentum={self.momentum}) in {mode} mode, with a random scale "
                f"and running_mean, on x of shape {(*self.batch, self.F)}")


@st.composite
def affine_cases(draw: st.DrawFn) -> AffineCase:
    # no momentum 0.5: there the convention's mirror image, m * old + (1 - m) * new, is right too
    return AffineCase(
        batch=tuple(draw(st.lists(st.integers(1, 4), max_size=2))),
        F=draw(st.integers(1, 6)),
        momentum=draw(st.sampled_from((0.1, 0.3, 0.9))),
        seed=draw(seeds()),
    )


def modes() -> st.SearchStrategy[str]:
    return st.sampled_from(("train", "eval"))


TYPICAL_AFFINE = AffineCase(batch=(3, 2), F=4, momentum=0.1, seed=13)


def affine_tensor(module: nn.Module, name: str, F: int) -> Tensor:
    """module.scale or module.running_mean, which must be a tensor of shape (F,)."""
    value = getattr(module, name, None)
    require(isinstance(value, Tensor), (
        f"your Affine has no tensor attribute `{name}` (it has {type(value).__name__}). Affine "
        "keeps its learnable scale in self.scale (an nn.Parameter) and its statistics in "
        "self.running_mean (a buffer, from self.register_buffer)"))
    require(tuple(value.shape) == (F,), (
        f"Affine({F}).{name} has shape {tuple(value.shape)}, expected ({F},): one number per "
        "feature"))
    return value


def make_affine(cls: type[nn.Module], case: AffineCase, device: torch.device,
                dtype: torch.dtype = torch.float64, mode: str = "eval") -> nn.Module:
    """An Affine of `case` on device and dtype, holding the case's scale and running mean."""
    module = cls(case.F, momentum=case.momentum).to(device, dtype)
    scale, mean = case.state(device, dtype)
    with torch.no_grad():
        affine_tensor(module, "scale", case.F).copy_(scale)
        affine_tensor(module, "running_mean", case.F).copy_(mean)
    return module.train(mode == "train")


def reference_forward(ref: nn.Module) -> Callable[[Tensor], Tensor]:
    """ref's forward on a fresh copy at x's dtype. The harness runs the reference twice (at the
    input dtype and in float64); a training-mode call updates the copy's buffer, never ref's, so
    both runs start from the same running mean."""
    return lambda x: copy.deepcopy(ref).to(x.dtype)(x)


def reference_running_mean(ref: nn.Module) -> Callable[[Tensor], Tensor]:
    """The running mean a fresh copy of ref holds after one forward on x."""

    def after(x: Tensor) -> Tensor:
        module = copy.deepcopy(ref).to(x.dtype)
        module(x)
        return module.running_mean

    return after


SAVED_MEAN_CHANGED = (
    "forward saved running_mean for the backward pass (running_mean * scale needs it for "
    "scale's gradient), then the in-place update changed it. Compute (x - running_mean) * scale, "
    "whose backward needs only the difference, or assign the new mean "
    "(self.running_mean = ...) instead of changing the buffer in place")


def explain_backward_error(error: RuntimeError, what: str) -> AssertionError:
    """A backward() that failed inside an Affine step, with the likely cause."""
    text = " ".join(str(error).split())
    advice = ("The running-mean update must stay out of the autograd graph: do it under "
              "torch.no_grad()")
    if "modified by an inplace operation" in text:
        advice = SAVED_MEAN_CHANGED
    return AssertionError(f"backward() of {what} failed: {text[:200]}\n  {advice}")


def affine_forward_mistakes(case: AffineCase, scale: Tensor, mean: Tensor,
                            training: bool) -> tuple[Mistake, ...]:
    """What forward computes with each classic mistake, from the case's scale and running mean."""

    def batch_mean(x: Tensor) -> Tensor:
        return x.reshape(-1, case.F).mean(dim=0)

    mistakes = [
        Mistake("x was scaled before the mean was subtracted: x * scale - running_mean; "
                "subtract first, then scale: (x - running_mean) * scale",
                lambda x: x * scale - mean),
        Mistake("only the mean was scaled: x - running_mean * scale; the whole difference is "
                "scaled: (x - running_mean) * scale", lambda x: x - mean * scale),
        Mistake("the running mean was added, not subtracted", lambda x: (x + mean) * scale),
        Mistake("the running mean was left out: the output is x * scale",
                lambda x: x * scale),
        Mistake("scale was left out: the output is x - running_mean", lambda x: x - mean),
    ]
    if training:
        mistakes += [
            Mistake("in training mode the output used the running mean after this batch's "
                    "update; compute the output with the running mean as it was, then update "
                    "the buffer",
                    lambda x: (x - torch.lerp(mean, batch_mean(x), case.momentum)) * scale),
            Mistake("in training mode the output subtracted the batch's own mean, as "
                    "nn.BatchNorm does; this module always subtracts the running mean and, in "
                    "training mode, updates it afterwards",
                    lambda x: (x - batch_mean(x)) * scale),
        ]
    return tuple(mistakes)


def running_mean_mistakes(case: AffineCase, mean: Tensor) -> tuple[Mistake, ...]:
    """What the updated running mean is with each classic mistake in the update."""
    m, F = case.momentum, case.F

    def batch_mean(x: Tensor) -> Tensor:
        return x.reshape(-1, F).mean(dim=0)  # (F,)

    return (
        Mistake("the momentum was applied the wrong way round: momentum * running_mean + "
                "(1 - momentum) * batch_mean. The convention (nn.BatchNorm's) is "
                "(1 - momentum) * running_mean + momentum * batch_mean, so a small momentum "
                "moves the mean a little", lambda x: m * mean + (1 - m) * batch_mean(x)),
        Mistake("the running mean was replaced by the batch mean; blend the two: "
                "(1 - momentum) * running_mean + momentum * batch_mean", batch_mean),
        Mistake("the running mean did not change in training mode; update it in forward when "
                "self.training is True", lambda x: mean),
        Mistake("the batch mean was taken over the features too, giving one number; average "
                "over every dim but the last: x.reshape(-1, num_features).mean(dim=0)",
                lambda x: torch.lerp(mean, x.mean().expand(F), m)),
        Mistake("the batch was summed, not averaged",
                lambda x: torch.lerp(mean, x.reshape(-1, F).sum(dim=0), m)),
    )


@pytest.mark.task(AFFINE, category="shape")
@given(case=affine_cases(), mode=modes())
@example(case=TYPICAL_AFFINE, mode="train")
def test_affine_keeps_the_shape_and_dtype_of_x(candidate, device, case, mode):
    """forward maps (..., F) to (..., F) and keeps float32, in training and in eval mode."""
    module = make_affine(candidate.Affine, case, device, torch.float32, mode)
    out = module(case.x(device, torch.float32))
    what = case.describe(mode)
    require(isinstance(out, Tensor),
            f"{what} returned {type(out).__name__}; forward must return a tensor")
    shape = (*case.batch, case.F)
    require(tuple(out.shape) == shape, (
        f"{what} returned shape {tuple(out.shape)}, expected {shape}, the shape of x: scale and "
        "running_mean are (F,) and broadcast over the leading dims"))
    require(out.dtype == torch.float32, f"{what} returned {out.dtype}; expected float32")


@pytest.mark.task(AFFINE, category="shape")
@pytest.mark.parametrize("F", [1, 5])
def test_affine_holds_one_number_per_feature(candidate, F):
    """scale and running_mean are float32 tensors of shape (num_features,)."""
    module = candidate.Affine(F)
    for name in AFFINE_KEYS:
        value = affine_tensor(module, name, F)
        require(value.dtype == torch.float32, (
            f"a new Affine({F}).{name} is {value.dtype}; create it as float32 (torch.ones / "
            "torch.zeros with no dtype), and let .to(dtype) change it later"))


@pytest.mark.task(AFFINE, category="structure")
def test_scale_is_a_parameter_and_running_mean_a_buffer(candidate):
    """parameters() lists scale alone, buffers() running_mean alone; state_dict() holds both."""
    F = 4
    what = f"Affine({F})"
    module = candidate.Affine(F)
    params, buffers = dict(module.named_parameters()), dict(module.named_buffers())
    state = module.state_dict()
    if "scale" not in params:
        if "scale" in buffers:
            reason = ("`scale` is registered as a buffer, and buffers are not trained. Make it a "
                      "parameter: self.scale = nn.Parameter(torch.ones(num_features))")
        elif isinstance(getattr(module, "scale", None), Tensor):
            reason = ("`scale` is a plain tensor attribute, not an nn.Parameter, so "
                      "parameters() does not list it: no optimizer trains it and state_dict() "
                      "does not save it (requires_grad=True alone does not register it). Wrap "
                      "it: self.scale = nn.Parameter(torch.ones(num_features))")
        else:
            reason = "Create it: self.scale = nn.Parameter(torch.ones(num_features))"
        raise AssertionError(
            f"{what}: parameters() lists {list(params) or 'nothing'}, not `scale`. {reason}")
    if "running_mean" in params:
        raise AssertionError(
            f"{what}: `running_mean` is an nn.Parameter, so parameters() lists it: an optimizer "
            "would change it by gradient descent and count_parameters would count it. A running "
            "statistic is not learned; keep it in a buffer: "
            "self.register_buffer('running_mean', torch.zeros(num_features))")
    if "running_mean" not in buffers:
        kind = ("a plain tensor attribute" if isinstance(getattr(module, "running_mean", None),
                                                         Tensor) else "missing")
        raise AssertionError(
            f"{what}: `running_mean` is {kind}, not a registered buffer: buffers() does not list "
            "it, state_dict() does not save it, and .to() leaves it behind on its old dtype and "
            "device. Register it: self.register_buffer('running_mean', "
            "torch.zeros(num_features))")
    if "running_mean" not in state:
        raise AssertionError(
            f"{what}: `running_mean` is a buffer, but state_dict() leaves it out, so a saved "
            "model forgets its statistics. Register it without persistent=False.")
    require(set(params) == {"scale"}, (
        f"{what}: parameters() lists {list(params)}; expected only `scale`"))
    require(set(buffers) == {"running_mean"}, (
        f"{what}: buffers() lists {list(buffers)}; expected only `running_mean`"))
    require(set(state) == set(AFFINE_KEYS), (
        f"{what}: state_dict keys are {list(state)}; expected exactly {list(AFFINE_KEYS)}"))
    require(params["scale"].requires_grad, (
        f"{what}: `scale` has requires_grad=False; a learnable parameter requires grad "
        "(nn.Parameter does by default)"))
    require(not buffers["running_mean"].requires_grad, (
        f"{what}: `running_mean` requires grad; a buffer holds statistics, nothing to "
        "differentiate. Create it with torch.zeros(num_features)"))


@pytest.mark.task(AFFINE, category="values")
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_a_new_affine_returns_x_unchanged(candidate, device, mode):
    """scale starts at ones and running_mean at zeros, so a new Affine passes x through."""
    F = 5
    module = candidate.Affine(F).to(device).train(mode == "train")
    scale, mean = affine_tensor(module, "scale", F), affine_tensor(module, "running_mean", F)
    require(bool((scale == 1).all()), (
        f"a new Affine({F}) has scale {values_of(scale)}; it starts at ones: "
        "nn.Parameter(torch.ones(num_features))"))
    require(bool((mean == 0).all()), (
        f"a new Affine({F}) has running_mean {values_of(mean)}; it starts at zeros: "
        "torch.zeros(num_features)"))
    x = randn((3, F), 0, torch.float32, device)
    out = module(x)
    require(isinstance(out, Tensor) and out.shape == x.shape
            and torch.equal(out.detach(), x), (
        f"a new Affine({F}) in {mode} mode changed x of shape (3, {F}); with scale = 1 and "
        "running_mean = 0 (before any update) the output is x itself"))


@pytest.mark.task(AFFINE, category="values")
@given(case=affine_cases(), mode=modes())
@example(case=TYPICAL_AFFINE, mode="train")
@example(case=TYPICAL_AFFINE, mode="eval")
def test_affine_matches_the_reference(candidate, reference, device, case, mode):
    """out = (x - running_mean) * scale, with the running mean as it was before the call."""
    mine = make_affine(candidate.Affine, case, device, mode=mode)
    ref = make_affine(reference.Affine, case, device, mode=mode)
    scale, mean = case.state(device)
    x = case.x(device)
    # a clone: an x changed in place would skew the comparison (a properties test catches that)
    assert_matches(mine(x.clone()), reference_forward(ref), x,
                   what=f"output of {case.describe(mode)}",
                   mistakes=affine_forward_mistakes(case, scale, mean, mode == "train"))


@pytest.mark.task(AFFINE, category="values")
@given(case=affine_cases(), mode=modes())
@example(case=TYPICAL_AFFINE, mode="train")
def test_affine_in_float32(candidate, reference, device, case, mode):
    """A float32 Affine is within twice the reference's own float32 error of the float64 result."""
    mine = make_affine(candidate.Affine, case, device, torch.float32, mode)
    ref = make_affine(reference.Affine, case, device, torch.float32, mode)
    scale, mean = case.state(device)
    x = case.x(device, torch.float32)
    assert_matches(mine(x.clone()), reference_forward(ref), x,
                   what=f"output of {case.describe(mode)} in float32",
                   mistakes=affine_forward_mistakes(case, scale, mean, mode == "train"))


@pytest.mark.task(AFFINE, category="values")
@given(case=affine_cases())
@example(case=TYPICAL_AFFINE)
@example(case=AffineCase(batch=(), F=4, momentum=0.3, seed=3))
def test_training_moves_the_running_mean_toward_the_batch_mean(candidate, reference, device,
                                                               case):
    """After one training-mode forward, running_mean = (1 - momentum) * running_mean
    + momentum * batch_mean, where batch_mean is the mean of x over every dim but the last."""
    mine = make_affine(candidate.Affine, case, device, mode="train")
    ref = make_affine(reference.Affine, case, device, mode="train")
    _, mean = case.state(device)
    x = case.x(device)
    mine(x.clone())
    got = affine_tensor(mine, "running_mean", case.F).detach()  # the structure test judges its type
    assert_matches(got, reference_running_mean(ref), x,
                   what=f"running_mean after one forward of {case.describe('train')}",
                   mistakes=running_mean_mistakes(case, mean))


@pytest.mark.task(AFFINE, category="values")
def test_affine_on_a_non_contiguous_x(candidate, reference, device):
    """A permuted (non-contiguous) x gives the same output and running mean as any other."""
    case = TYPICAL_AFFINE
    mine = make_affine(candidate.Affine, case, device, mode="train")
    ref = make_affine(reference.Affine, case, device, mode="train")
    x = non_contiguous((*case.batch, case.F), case.seed + 100, device)
    what = f"{case.describe('train')}, x non-contiguous (a permuted view)"
    out = call_on_non_contiguous(what, lambda: mine(x))
    assert_matches(out, reference_forward(ref), x, what=f"output of {what}")
    assert_matches(affine_tensor(mine, "running_mean", case.F).detach(),
                   reference_running_mean(ref), x, what=f"running_mean after one forward of {what}")


@pytest.mark.task(AFFINE, category="values")
@pytest.mark.parametrize("momentum", [0.1, 0.3])
def test_the_running_mean_keeps_float64_precision(candidate, device, momentum):
    """In a float64 Affine the update is float64 arithmetic: (1 - m) * old + m * batch_mean to
    float64 rounding, not to float32's."""
    case = AffineCase(batch=(5, 2), F=4, momentum=momentum, seed=21)
    mine = make_affine(candidate.Affine, case, device, mode="train")
    _, old = case.state(device)
    x = case.x(device)
    mine(x.clone())
    got = affine_tensor(mine, "running_mean", case.F).detach()
    expected = (1 - momentum) * old + momentum * x.reshape(-1, case.F).mean(dim=0)
    require(got.dtype == torch.float64, (
        f"running_mean of {case.describe('train')} is {got.dtype} after a float64 forward; the "
        "buffer keeps the module's dtype (float64 after .to(torch.float64))"))

    def likely(got64: torch.Tensor, index: tuple[int, ...]) -> str | None:
        truth = expected.detach().cpu()[index].item()
        relative = abs(got64[index].item() - truth) / max(abs(truth), 1e-300)
        if 1e-10 < relative < 1e-5:
            return ("float32 arithmetic in the update, such as momentum kept as "
                    "torch.tensor(momentum) (float32: 0.1 becomes 0.10000000149) or a float32 "
                    "copy of x; keep momentum a Python float and compute in the buffer's dtype.")
        return None

    assert_float64_close(got, expected, 1e-14 + 1e-12 * expected.abs(),
                         f"running_mean after one forward of {case.describe('train')}, all "
                         "float64", likely)


def worst_gap(got: Tensor, expected: Tensor) -> str:
    """The worst element of two tensors of one shape, for messages."""
    gap = (got.detach().double() - expected.detach().double()).abs()
    index = tuple(int(i) for i in torch.unravel_index(gap.argmax(), gap.shape))
    shown_got, shown_expected = distinct_digits(got[index].item(), expected[index].item(),
                                                torch.float64)
    return f"worst at {list(index)}: got {shown_got}, expected {shown_expected}"


def _moves_right_with_momentum_given(candidate: Any, F: int, device: torch.device) -> bool:
    """Whether Affine(F, momentum=0.1), the momentum passed, moves as it should: then a wrong
    move without it is the default's fault, not the update's (reversed, a sum, no update)."""
    x = randn((6, F), 5, torch.float32, device, scale=1.0, offset=2.0)
    expected = 0.1 * x.double().mean(dim=0)
    try:
        module = candidate.Affine(F, momentum=0.1).to(device).train()
        module(x)
        got = affine_tensor(module, "running_mean", F).detach().double()
    except Exception:
        return False
    return got.shape == expected.shape and torch.allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.task(AFFINE, category="values")
def test_momentum_defaults_to_a_tenth(candidate, device):
    """Affine(F) built without momentum moves the running mean a tenth of the way toward the
    batch mean (momentum=0.1, the signature's default)."""
    F = 4
    module = candidate.Affine(F).to(device).train()
    x = randn((6, F), 5, torch.float32, device, scale=1.0, offset=2.0)  # batch mean near 2
    module(x)
    got = affine_tensor(module, "running_mean", F).detach()
    batch_mean = x.double().mean(dim=0)
    expected = 0.1 * batch_mean  # from zeros: (1 - 0.1) * 0 + 0.1 * batch_mean
    what = (f"running_mean of a new Affine({F}) (momentum left out) after one training-mode "
            f"forward of x of shape {tuple(x.shape)}")
    if torch.allclose(got.double(), expected, rtol=1e-5, atol=1e-6):
        return
    message = (f"{what}: {values_of(got)}, expected {values_of(expected)}; "
               f"{worst_gap(got, expected)}")
    implied = got.double() / batch_mean  # the momentum the buffer moved by, per feature
    if torch.allclose(implied, implied[0].expand_as(implied), rtol=1e-4) \
            and _moves_right_with_momentum_given(candidate, F, device):
        message += (f"\n  Likely mistake: momentum defaults to {implied[0].item():.4g}; the "
                    "signature is Affine(num_features, momentum=0.1)")
    raise AssertionError(message)


@pytest.mark.task(AFFINE, category="values")
def test_a_float32_affine_on_a_float64_x(candidate, reference, device):
    """A float64 x into a float32 Affine (training mode): the output follows type promotion, as
    the reference's, and running_mean stays float32, moved as the reference's moves."""
    case = TYPICAL_AFFINE
    mine = make_affine(candidate.Affine, case, device, torch.float32, mode="train")
    ref = make_affine(reference.Affine, case, device, torch.float32, mode="train")
    x = case.x(device, torch.float64)
    what = f"{case.describe('train')}, the module float32 and x float64"
    try:
        out = mine(x.clone())
    except RuntimeError as error:
        text = " ".join(str(error).split())[:200]
        advice = ""
        if "dtype" in text or "scalar type" in text:
            advice = ("\n  Likely mistake: the batch mean (float64, from x) was written into the "
                      "float32 buffer as it is; in-place ops such as lerp_ and copy_ of another "
                      "dtype refuse or need a cast: batch_mean.to(self.running_mean.dtype)")
        raise AssertionError(f"{what}: forward raised RuntimeError: {text}{advice}") from None
    expected = ref(x.clone())
    require(isinstance(out, Tensor) and out.shape == expected.shape
            and out.dtype == expected.dtype, (
        f"{what}: forward returned {type(out).__name__ if not isinstance(out, Tensor) else ''}"
        f"{(tuple(out.shape), out.dtype) if isinstance(out, Tensor) else ''}, expected shape "
        f"{tuple(expected.shape)} and {expected.dtype} ((x - running_mean) * scale promotes to "
        "the wider dtype)"))
    require(torch.allclose(out.detach(), expected.detach(), rtol=1e-12, atol=1e-12), (
        f"output of {what}: {worst_gap(out, expected)}"))
    got = affine_tensor(mine, "running_mean", case.F).detach()
    wanted = ref.running_mean.detach()
    require(got.dtype == torch.float32, (
        f"{what}: afterwards running_mean is {got.dtype}; it keeps the module's dtype, float32 "
        "(update the buffer in place, in its own dtype, rather than assigning a new tensor "
        "computed from x)"))
    require(torch.allclose(got, wanted, rtol=1e-6, atol=1e-6), (
        f"running_mean after one forward of {what}: {worst_gap(got, wanted)}"))


@pytest.mark.task(AFFINE, category="grad")
@given(case=affine_cases(), mode=modes())
@example(case=TYPICAL_AFFINE, mode="train")
def test_affine_gradients_match(candidate, reference, device, case, mode):
    """Gradients w.r.t. x and scale equal the reference's (random upstream gradient)."""
    mine = make_affine(candidate.Affine, case, device, mode=mode)
    ref = make_affine(reference.Affine, case, device, mode=mode)
    try:
        assert_module_grads_match(mine, ref, case.x(device), what=case.describe(mode),
                                  seed=case.seed)
    except RuntimeError as error:
        raise explain_backward_error(error, case.describe(mode)) from None


@pytest.mark.task(AFFINE, category="properties")
def test_eval_mode_leaves_the_running_mean_alone(candidate, device):
    """In eval mode forward changes nothing: the buffer keeps its value and two calls agree."""
    case = TYPICAL_AFFINE
    module = make_affine(candidate.Affine, case, device, mode="eval")
    before = affine_tensor(module, "running_mean", case.F).detach().clone()
    x = case.x(device)
    first, second = module(x), module(x)
    after = affine_tensor(module, "running_mean", case.F)
    require(torch.equal(after.detach(), before), (
        f"{case.describe('eval')}: forward changed running_mean from {values_of(before)} to "
        f"{values_of(after)}. Update the running mean only when self.training is True; after "
        ".eval() the module is a fixed function"))
    require(torch.equal(first, second), (
        f"{case.describe('eval')}: two forward passes on the same x gave different outputs"))


@pytest.mark.task(AFFINE, category="properties")
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16], ids=str)
def test_to_dtype_converts_scale_and_running_mean(candidate, device, dtype):
    """.to(device, dtype) converts both tensors; scale stays an nn.Parameter."""
    F = 4
    module = candidate.Affine(F)
    module.to(device, dtype)
    for name in AFFINE_KEYS:
        value = affine_tensor(module, name, F)
        registered = name in dict(module.named_parameters()) or name in dict(
            module.named_buffers())
        require(value.dtype == dtype and value.device == device, (
            f"after Affine({F}).to({device.type!r}, {dtype}), `{name}` is {value.dtype} on "
            f"{value.device}; expected {dtype} on {device}."
            + ("" if registered else
               f" `{name}` is a plain tensor attribute, and .to() only converts registered "
               "parameters and buffers: use nn.Parameter for scale and self.register_buffer "
               "for running_mean")))
    require(isinstance(module.scale, nn.Parameter), (
        f"after Affine({F}).to({dtype}), scale is a {type(module.scale).__name__}, no longer an "
        "nn.Parameter"))
    if dtype == torch.float64:
        out = module.eval()(randn((2, F), 0, dtype, device))
        require(out.dtype == dtype, (
            f"Affine({F}).to({dtype}) returned {out.dtype} for a {dtype} x; expected {dtype}"))


@pytest.mark.task(AFFINE, category="properties")
def test_state_dict_carries_the_running_mean_to_a_new_affine(candidate, device):
    """After training-mode passes, a new Affine that loads the state_dict has the same scale and
    running mean, and gives the same eval output."""
    case = TYPICAL_AFFINE
    trained = make_affine(candidate.Affine, case, device, mode="train")
    for step in range(3):
        trained(case.x(device, step=step))
    fresh = candidate.Affine(case.F, momentum=case.momentum).to(device, torch.float64)
    try:
        fresh.load_state_dict(trained.state_dict())
    except RuntimeError as error:
        raise AssertionError(
            f"a new Affine({case.F}) could not load the state_dict of a trained one: "
            f"{' '.join(str(error).split())[:300]}") from None
    for name in AFFINE_KEYS:
        got, want = affine_tensor(fresh, name, case.F), affine_tensor(trained, name, case.F)
        require(torch.equal(got.detach(), want.detach()), (
            f"after new.load_state_dict(trained.state_dict()) (trained: three training-mode "
            f"forwards of {case.describe('train')}), the new Affine's `{name}` is "
            f"{values_of(got)}, the trained one's {values_of(want)}. state_dict() must hold "
            f"`{name}`: a plain tensor attribute, or a buffer registered with persistent=False, "
            "is left out, and a reloaded model forgets it"))
    x = case.x(device, step=9)
    require(torch.equal(fresh.eval()(x).detach(), trained.eval()(x).detach()), (
        "a new Affine that loaded a trained one's state_dict gives a different eval output"))


@pytest.mark.task(AFFINE, category="properties")
def test_the_running_mean_update_carries_no_gradient(candidate, device):
    """The update is bookkeeping outside autograd: with an x that requires grad (Affine inside a
    bigger model), running_mean never requires grad and every step's backward() works."""
    case = TYPICAL_AFFINE
    module = make_affine(candidate.Affine, case, device, mode="train")
    for step in range(2):
        x = case.x(device, step=step).requires_grad_(True)
        out = module(x)
        mean = affine_tensor(module, "running_mean", case.F)
        require(mean.grad_fn is None, (
            f"after a training-mode forward of {case.describe('train')} on an x that requires "
            f"grad, running_mean has grad_fn={type(mean.grad_fn).__name__}: autograd recorded "
            "the update, so the buffer now hangs on to this step's graph and the next "
            "backward() runs into it after it is freed. Update the buffer inside "
            "`with torch.no_grad():` (or from x.detach())"))
        require(not mean.requires_grad, (
            f"{case.describe('train')}: running_mean requires grad. A running statistic is not "
            "differentiated or trained: make it a buffer, "
            "self.register_buffer('running_mean', torch.zeros(num_features))"))
        try:
            (out * randn(tuple(out.shape), step, out.dtype, device)).sum().backward()
        except RuntimeError as error:
            raise explain_backward_error(
                error, f"training step {step + 1} of {case.describe('train')}") from None


@pytest.mark.task(AFFINE, category="properties")
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_affine_leaves_x_unchanged(candidate, device, mode):
    """forward does not modify its input in place."""
    case = TYPICAL_AFFINE
    module = make_affine(candidate.Affine, case, device, mode=mode)
    x = case.x(device)
    before = x.clone()
    module(x)
    require(torch.equal(x, before), (
        f"{case.describe(mode)}: forward changed its input x in place. The caller's data must "
        "stay as it was: write x - self.running_mean, not x.sub_(...) or x -= ..."))


@pytest.mark.task(AFFINE, category="training")
def test_sgd_trains_scale_while_the_data_moves_the_running_mean(candidate, reference, device):
    """Three SGD steps over module.parameters(): scale follows its gradient, running_mean follows
    the batch means, and both end where the reference's do."""
    case = AffineCase(batch=(6,), F=3, momentum=0.3, seed=5)
    mine = make_affine(candidate.Affine, case, device, mode="train")
    params = dict(mine.named_parameters())
    what = f"{case.describe('train')}, trained for 3 SGD steps (lr=0.1) on a squared error"
    require("scale" in params, (
        f"{what}: SGD(module.parameters()) cannot train `scale`: parameters() lists "
        f"{list(params) or 'nothing'}. Make scale an nn.Parameter"))
    require("running_mean" not in params, (
        f"{what}: running_mean is in parameters(), so SGD changes it by gradient descent on top "
        "of the batch-mean updates. Keep it in a buffer (self.register_buffer)"))
    ref = make_affine(reference.Affine, case, device, mode="train")

    def train(module: nn.Module) -> None:
        optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
        for step in range(3):
            x = case.x(device, step=step)
            target = randn(tuple(x.shape), 500 + step, x.dtype, device)
            optimizer.zero_grad()
            loss = (module(x) - target).pow(2).mean()
            try:
                loss.backward()
            except RuntimeError as error:
                raise explain_backward_error(error, f"SGD step {step + 1} of {what}") from None
            optimizer.step()

    train(mine)
    train(ref)
    for name in AFFINE_KEYS:
        expected = getattr(ref, name).detach()
        assert_matches(affine_tensor(mine, name, case.F).detach(), lambda e=expected: e,
                       what=f"`{name}` after {what}")


# --- count_parameters ---------------------------------------------------------------------------


class TiedEmbedding(nn.Module):
    """An embedding and an output head sharing one (10, 4) weight, as GPT-2 ties them."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.emb.weight


class TiedWithBuffer(TiedEmbedding):
    """TiedEmbedding plus a (4, 4) buffer: its state_dict() count is none of the single
    mistakes' counts."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mask", torch.ones(4, 4))


class WithBuffer(nn.Module):
    """A (3, 4) weight and a (4, 4) mask buffer, as an attention layer keeps its causal mask."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(3, 4))
        self.register_buffer("mask", torch.ones(4, 4))


def frozen(module: nn.Module, *names: str) -> nn.Module:
    """module with the named parameters (dotted prefixes) frozen, by the spec, not by freeze."""
    for full, param in module.named_parameters():
        if any(full == n or full.startswith(n + ".") for n in names):
            param.requires_grad_(False)
    return module


def shared_linear() -> nn.Module:
    layer = nn.Linear(4, 4)
    return nn.Sequential(layer, nn.ReLU(), layer)


COUNT_MISTAKES = (
    Mistake("the count ignores trainable_only: parameters with requires_grad=False count only "
            "when trainable_only=False",
            lambda m, trainable_only=True: sum(p.numel() for p in m.parameters())),
    Mistake("trainable_only=False still skips the frozen parameters; it counts every parameter",
            lambda m, trainable_only=True: sum(p.numel() for p in m.parameters()
                                               if p.requires_grad)),
    Mistake("a parameter shared by two submodules was counted once per holder; "
            "module.parameters() yields each parameter once, so count from it",
            lambda m, trainable_only=True: sum(
                p.numel() for _, p in m.named_parameters(remove_duplicate=False)
                if p.requires_grad or not trainable_only)),
    Mistake("buffers were counted too, as when counting state_dict() entries; count "
            "module.parameters() only: buffers are not parameters",
            lambda m, trainable_only=True: sum(
                p.numel() for p in m.parameters() if p.requires_grad or not trainable_only)
            + sum(b.numel() for b in m.buffers())),
    Mistake("the count is over state_dict(), which holds buffers, lists a shared weight under "
            "each of its names and knows nothing of requires_grad; count module.parameters()",
            lambda m, trainable_only=True: sum(t.numel() for t in m.state_dict().values())),
    Mistake("this counts parameter tensors, not the numbers in them; add up p.numel()",
            lambda m, trainable_only=True: len([p for p in m.parameters()
                                                if p.requires_grad or not trainable_only])),
    Mistake("this counts only the first dim of each parameter (len(p)); p.numel() multiplies "
            "all of them", lambda m, trainable_only=True: sum(
                len(p) for p in m.parameters() if p.requires_grad or not trainable_only)),
)


OVER_STATE_DICT = COUNT_MISTAKES[4]  # buffers, shared weights and frozen ones, all at once


def telling_counts(module: nn.Module, **kwargs: bool) -> tuple[Mistake, ...]:
    """The count mistakes this module tells apart: a mistake that gives the same count as another
    one (nn.Linear(2, 1) has 2 tensors and first dims adding up to 2) names neither. The
    state_dict() count adds several of them up, so it may share a count with one of them: that
    one is named (it comes first), and state_dict() only where it alone gives the count."""
    counts: list[int | None] = []
    for mistake in COUNT_MISTAKES:
        try:
            counts.append(mistake.compute(module, **kwargs))
        except Exception:  # len() of a 0-d parameter: this mistake cannot give any count
            counts.append(None)
    single = [count for mistake, count in zip(COUNT_MISTAKES, counts, strict=True)
              if mistake is not OVER_STATE_DICT]
    return tuple(mistake for mistake, count in zip(COUNT_MISTAKES, counts, strict=True)
                 if mistake is OVER_STATE_DICT or single.count(count) == 1)


def check_count(candidate: Any, reference: Any, description: str, module: nn.Module,
                **kwargs: bool) -> None:
    """count_parameters(module, **kwargs) equals the reference's count, compared as a number."""
    arguments = "".join(f", {k}={v}" for k, v in kwargs.items())
    call = f"count_parameters({description}{arguments})"
    got = candidate.count_parameters(module, **kwargs)
    if isinstance(got, Tensor) and got.numel() == 1:  # the type is the shape test's business
        got = got.item()
    assert_matches(got, reference.count_parameters, module, what=call,
                   mistakes=telling_counts(module, **kwargs), **kwargs)


# id: (how a message describes the model, how to build it)
Models = dict[str, tuple[str, Callable[[], nn.Module]]]
MODELS: Models = {
    "linear": ("nn.Linear(3, 4)", lambda: nn.Linear(3, 4)),
    "no-bias": ("nn.Linear(3, 4, bias=False)", lambda: nn.Linear(3, 4, bias=False)),
    "conv": ("nn.Conv2d(3, 8, kernel_size=3)", lambda: nn.Conv2d(3, 8, kernel_size=3)),
    "sequential": ("nn.Sequential(nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 2))",
                   lambda: nn.Sequential(nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 2))),
    "layer-norm": ("nn.LayerNorm(5)", lambda: nn.LayerNorm(5)),
    "identity": ("nn.Identity()", lambda: nn.Identity()),
}
WITH_BUFFERS: Models = {
    "batch-norm": ("nn.BatchNorm1d(6) (parameters weight and bias; buffers running_mean, "
                   "running_var, num_batches_tracked)", lambda: nn.BatchNorm1d(6)),
    "mask-buffer": ("a module with a (3, 4) parameter and a (4, 4) buffer", WithBuffer),
}
SHARED: Models = {
    "tied-embedding": ("an nn.Embedding(10, 4) and an nn.Linear(4, 10, bias=False) sharing one "
                       "weight", TiedEmbedding),
    "layer-used-twice": ("nn.Sequential(layer, nn.ReLU(), layer) with one nn.Linear(4, 4) used "
                         "twice", shared_linear),
    "tied-with-buffer": ("an nn.Embedding(10, 4) and an nn.Linear(4, 10, bias=False) sharing one "
                         "weight, and a (4, 4) buffer", TiedWithBuffer),
}
PARTLY_FROZEN: Models = {
    "frozen-bias": ("nn.Linear(3, 4) with its bias frozen",
                    lambda: frozen(nn.Linear(3, 4), "bias")),
    "frozen-layer": ("nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2)) with the first layer "
                     "frozen", lambda: frozen(nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2)),
                                              "0")),
    "all-frozen": ("nn.Linear(3, 4) with everything frozen",
                   lambda: frozen(nn.Linear(3, 4), "weight", "bias")),
}


def check_counts(candidate: Any, reference: Any, models: Models, model_id: str,
                 calls: Sequence[dict[str, bool]]) -> None:
    """Each call's count of a freshly built model equals the reference's."""
    description, build = models[model_id]
    for kwargs in calls:
        check_count(candidate, reference, description, build(), **kwargs)


BOTH = ({}, {"trainable_only": False})


@pytest.mark.task(COUNT, category="shape")
@pytest.mark.parametrize("model_id", ["linear", "identity"])
def test_count_is_a_python_int(candidate, model_id):
    """The count is a plain Python int, 0 for a module without parameters."""
    description, build = MODELS[model_id]
    got = candidate.count_parameters(build())
    require(isinstance(got, int) and not isinstance(got, bool), (
        f"count_parameters({description}) returned {type(got).__name__} {got!r}; return a "
        "Python int. sum(p.numel() for p in ...) is one; a tensor (torch.tensor(...).sum()) or "
        "a float is not"))


@pytest.mark.task(COUNT, category="values")
@pytest.mark.parametrize("model_id", list(MODELS))
def test_count_adds_up_the_elements_of_every_parameter(candidate, reference, model_id):
    """Every element of every parameter counts: a (8, 3, 3, 3) weight is 216 numbers."""
    check_counts(candidate, reference, MODELS, model_id, BOTH)


@pytest.mark.task(COUNT, category="values")
@pytest.mark.parametrize("model_id", list(WITH_BUFFERS))
def test_buffers_do_not_count(candidate, reference, model_id):
    """Buffers are state, not parameters: they never count."""
    check_counts(candidate, reference, WITH_BUFFERS, model_id, BOTH)


@pytest.mark.task(COUNT, category="values")
@pytest.mark.parametrize("model_id", list(SHARED))
def test_a_shared_parameter_counts_once(candidate, reference, model_id):
    """A parameter held by two submodules (tied weights) is one parameter."""
    check_counts(candidate, reference, SHARED, model_id, BOTH)


@pytest.mark.task(COUNT, category="values")
@pytest.mark.parametrize("model_id", list(PARTLY_FROZEN))
def test_trainable_only_skips_frozen_parameters(candidate, reference, model_id):
    """By default only parameters with requires_grad=True count; trainable_only=False counts all."""
    check_counts(candidate, reference, PARTLY_FROZEN, model_id,
                 ({}, {"trainable_only": True}, {"trainable_only": False}))


LAYERS: dict[str, tuple[Callable[[int, int], nn.Module], str]] = {
    "linear": (lambda a, b: nn.Linear(a, b), "nn.Linear({a}, {b})"),
    "linear without bias": (lambda a, b: nn.Linear(a, b, bias=False),
                            "nn.Linear({a}, {b}, bias=False)"),
    "embedding": (lambda a, b: nn.Embedding(a, b), "nn.Embedding({a}, {b})"),
    "layer norm": (lambda a, b: nn.LayerNorm(a), "nn.LayerNorm({a})"),
    "batch norm": (lambda a, b: nn.BatchNorm1d(a), "nn.BatchNorm1d({a})"),
}


class LayerStack:
    """A drawn nn.ModuleList recipe: (kind, a, b, frozen) per layer; its repr is its description."""

    def __init__(self, layers: list[tuple[str, int, int, bool]]) -> None:
        self.layers = layers

    def build(self) -> nn.Module:
        return nn.ModuleList(LAYERS[kind][0](a, b).requires_grad_(not is_frozen)
                             for kind, a, b, is_frozen in self.layers)

    def __repr__(self) -> str:
        parts = [LAYERS[kind][1].format(a=a, b=b) + (" (frozen)" if is_frozen else "")
                 for kind, a, b, is_frozen in self.layers]
        return f"nn.ModuleList([{', '.join(parts)}])"


@st.composite
def layer_stacks(draw: st.DrawFn) -> LayerStack:
    layer = st.tuples(st.sampled_from(list(LAYERS)), st.integers(1, 5), st.integers(1, 5),
                      st.booleans())
    return LayerStack(draw(st.lists(layer, max_size=4)))


@pytest.mark.task(COUNT, category="values")
@given(stack=layer_stacks(), trainable_only=st.booleans())
def test_count_parameters_on_random_models(candidate, reference, stack, trainable_only):
    """An nn.ModuleList of random layers, some frozen: the count equals the reference's."""
    check_count(candidate, reference, repr(stack), stack.build(), trainable_only=trainable_only)


# --- freeze -------------------------------------------------------------------------------------


class Block(nn.Module):
    """A nested block whose submodule is also called fc1."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 4)
        self.norm = nn.LayerNorm(4)


class Tower(nn.Module):
    """fc1, fc10 (its name starts with "fc1"), block.fc1 (another fc1, nested), block.norm, fc2,
    and a buffer: every trap a name match can fall into."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.fc10 = nn.Linear(4, 4)
        self.block = Block()
        self.fc2 = nn.Linear(4, 2)
        self.act = nn.ReLU()  # a submodule that holds no parameter
        self.register_buffer("offset", torch.full((3,), 0.5))

    def forward(self, x: Tensor) -> Tensor:
        h = self.act(self.fc1(x - self.offset))  # (N, 4)
        h = torch.relu(self.fc10(h))  # (N, 4)
        h = self.block.norm(self.block.fc1(h))  # (N, 4)
        return self.fc2(h)  # (N, 2)


TOWER_PARAMS = ("fc1.weight", "fc1.bias", "fc10.weight", "fc10.bias", "block.fc1.weight",
                "block.fc1.bias", "block.norm.weight", "block.norm.bias", "fc2.weight",
                "fc2.bias")
NAME_CHOICES = ("fc1", "fc10", "fc2", "block", "block.fc1", "block.norm.weight", "fc2.bias",
                "fc1.weight", "fc10.bias")
TOWER = ("the model has the parameters " + ", ".join(TOWER_PARAMS)
         + " (and a buffer `offset` and a ReLU submodule `act`, which hold no parameter)")


def named_by(names: Sequence[str], rule: Callable[[str, str], bool] | None = None) -> set[str]:
    """The Tower parameters that `names` name: whole names, or prefixes that end at a dot."""
    rule = rule or (lambda full, name: full == name or full.startswith(name + "."))
    return {full for full in TOWER_PARAMS if any(rule(full, name) for name in names)}


FREEZE_MISTAKES = (
    ("a name matched every parameter whose name merely starts with it; the match must end at a "
     "dot, so 'fc1' names fc1.weight but not fc10.weight: full == name or "
     "full.startswith(name + '.')", lambda full, name: full.startswith(name)),
    ("a name matched anywhere inside a parameter's name; names start at the root, so 'fc1' is "
     "the top-level fc1, not block.fc1", lambda full, name: name in full),
    ("a name matched any part of the dotted path; names start at the root, so 'fc1' is the "
     "top-level fc1, not block.fc1",
     lambda full, name: full == name or f".{name}." in f".{full}."),
)


def describe_freeze_mistake(names: Sequence[str], frozen_names: set[str]) -> str:
    if frozen_names == set(TOWER_PARAMS):
        return "\n  Likely mistake: every parameter was frozen, not just the named ones."
    for description, rule in FREEZE_MISTAKES:
        if named_by(names, rule) == frozen_names:
            return f"\n  Likely mistake: {description}."
    return ""


@pytest.mark.task(FREEZE, category="properties")
@given(names=st.lists(st.sampled_from(NAME_CHOICES), min_size=1, max_size=3, unique=True))
@example(names=["fc1"])
@example(names=["block"])
@example(names=["fc2.bias", "block.fc1"])
def test_freeze_turns_off_exactly_the_named_parameters(candidate, names):
    """requires_grad becomes False on the parameters the names name (a full name, or a dotted
    prefix that ends at a dot, from the root) and stays True on all the others."""
    model = Tower()
    call = f"freeze(model, {names!r})"
    try:
        candidate.freeze(model, names)
    except ValueError as error:
        raise AssertionError(
            f"{call} raised ValueError ({error}), but each of those names names parameters; "
            f"{TOWER}. A name is a full parameter name ('fc2.bias') or a submodule's path, which "
            "names every parameter under it ('fc1' names fc1.weight and fc1.bias)") from None
    frozen_names = {n for n, p in model.named_parameters() if not p.requires_grad}
    expected = named_by(names)
    if frozen_names != expected:
        lines = [f"{call}: the wrong parameters are frozen; {TOWER}."]
        if expected - frozen_names:
            lines.append(f"  named but still requires_grad=True: {sorted(expected - frozen_names)}")
        if frozen_names - expected:
            lines.append(f"  frozen but not named: {sorted(frozen_names - expected)}")
        raise AssertionError("\n".join(lines) + describe_freeze_mistake(names, frozen_names))


@pytest.mark.task(FREEZE, category="properties")
@pytest.mark.parametrize("names", [["fc3"], ["fc1", "fc3"], ["fc1.w"], ["block.fc"],
                                   ["fc2", "block.fc1.weight", "norm"], ["act"], ["offset"]],
                         ids=str)
def test_freeze_refuses_a_name_that_names_nothing_and_freezes_nothing(candidate, names):
    """A name that names no parameter raises ValueError, and no parameter is frozen, not even
    those named before it."""
    model = Tower()
    call = f"freeze(model, {names!r})"
    unknown = next(name for name in names if not named_by([name]))
    try:
        candidate.freeze(model, names)
    except ValueError:
        frozen_names = [n for n, p in model.named_parameters() if not p.requires_grad]
        require(not frozen_names, (
            f"{call} raised ValueError for {unknown!r}, good, but had frozen {frozen_names} "
            "by then. Check every name first and only then freeze, so that a typo leaves the "
            "model as it was"))
        return
    except NotImplementedError:
        raise
    except Exception as error:
        raise AssertionError(
            f"{call} raised {type(error).__name__}: {error}; raise ValueError naming "
            f"{unknown!r}, which names no parameter ({TOWER})") from None
    raise AssertionError(
        f"{call} returned without complaint, but {unknown!r} names no parameter: {TOWER}. A "
        "name must equal a parameter's name or be a prefix of it that ends at a dot ('fc1' "
        "for fc1.weight, not 'fc1.w'), counted from the root. Raise ValueError for a name that "
        "matches nothing: a silent typo would leave layers training that you meant to freeze")


@pytest.mark.task(FREEZE, category="properties")
@pytest.mark.parametrize("names", [["head"], ["head.weight"], ["emb"]], ids=str)
def test_freeze_names_a_tied_weight_under_each_of_its_names(candidate, names):
    """head.weight tied to emb.weight (one parameter, two names): 'head', 'head.weight' and
    'emb' each name it, and freeze turns it off."""
    model = TiedEmbedding()
    call = (f"freeze(model, {names!r}) on an nn.Embedding(10, 4) `emb` and an nn.Linear(4, 10, "
            "bias=False) `head` whose weights are tied (head.weight is emb.weight)")
    try:
        candidate.freeze(model, names)
    except ValueError as error:
        raise AssertionError(
            f"{call} raised ValueError ({error}). The tied weight is one parameter under two "
            "names, and a submodule path names every parameter under it, so 'head' names it "
            "too. named_parameters() lists a tied weight once, under its first name "
            "(emb.weight); named_parameters(remove_duplicate=False) lists it under both.") from None
    require(not model.emb.weight.requires_grad, (
        f"{call}: the tied weight still requires grad; {names[0]!r} names it"))


@pytest.mark.task(FREEZE, category="properties")
def test_freeze_takes_any_iterable_of_names(candidate):
    """names may be any iterable, a generator included, which can be read only once."""
    model = Tower()
    names = ["fc1", "block.norm"]
    candidate.freeze(model, (name for name in names))
    frozen_names = {n for n, p in model.named_parameters() if not p.requires_grad}
    expected = named_by(names)
    require(frozen_names == expected, (
        f"freeze(model, (name for name in {names!r})), names given as a generator: the frozen "
        f"parameters are {sorted(frozen_names)}, expected {sorted(expected)}. names is any "
        "iterable, and a generator is used up by the first loop over it: checking the names in "
        "one loop and freezing in another sees nothing the second time. Make a list first: "
        "names = list(names)."))


@pytest.mark.task(FREEZE, category="properties")
def test_freeze_keeps_the_parameter_objects(candidate):
    """freeze flips requires_grad on the existing parameters: same objects, names and values,
    so an optimizer built before freezing still holds the model's parameters."""
    model = Tower()
    names = ["fc1", "block.norm"]
    before = dict(model.named_parameters())
    values = {name: p.detach().clone() for name, p in before.items()}
    candidate.freeze(model, names)
    after = dict(model.named_parameters())
    require(list(after) == list(before), (
        f"freeze(model, {names!r}) changed the model's parameters from {list(before)} to "
        f"{list(after)}; it only sets requires_grad"))
    for name, param in after.items():
        require(param is before[name], (
            f"freeze(model, {names!r}) replaced `{name}` with a new tensor. An optimizer created "
            "before freezing still holds the old one, and code that kept a reference sees no "
            "change. Change the flag in place: param.requires_grad_(False)"))
        require(torch.equal(param.detach(), values[name]),
                f"freeze(model, {names!r}) changed the values of `{name}`")


@pytest.mark.task(FREEZE, category="properties")
def test_freezing_adds_to_what_is_frozen(candidate):
    """freeze(model, ['fc1']) then freeze(model, ['fc2']) leaves both frozen: freeze never
    unfreezes."""
    model = Tower()
    candidate.freeze(model, ["fc1"])
    candidate.freeze(model, ["fc2"])
    frozen_names = {n for n, p in model.named_parameters() if not p.requires_grad}
    expected = named_by(["fc1", "fc2"])
    require(frozen_names == expected, (
        f"after freeze(model, ['fc1']) and then freeze(model, ['fc2']), the frozen parameters "
        f"are {sorted(frozen_names)}; expected {sorted(expected)}. freeze only turns "
        "requires_grad off on the named parameters; it must not turn it back on for the others"))


@pytest.mark.task(FREEZE, category="training")
def test_frozen_parameters_get_no_gradient_and_do_not_move(candidate, device):
    """After freeze(model, ['fc1', 'block']), backward() leaves fc1 and block without .grad, the
    rest get one, and SGD steps (momentum, weight decay) change only the rest."""
    model = Tower().to(device, torch.float64)
    names = ["fc1", "block"]
    candidate.freeze(model, names)
    expected = named_by(names)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    x = randn((5, 3), 0, torch.float64, device)
    target = randn((5, 2), 1, torch.float64, device)
    for step in range(2):
        optimizer.zero_grad()
        (model(x) - target).pow(2).mean().backward()
        for name, param in model.named_parameters():
            if name in expected:
                require(param.grad is None, (
                    f"after freeze(model, {names!r}), `{name}` received a gradient from "
                    f"backward() (step {step + 1}): it is not frozen. Set the flag on each "
                    "parameter: param.requires_grad_(False). Setting module.requires_grad = "
                    "False only adds an ordinary attribute to the module, and torch.no_grad() "
                    "around freeze changes nothing"))
            else:
                require(param.grad is not None, (
                    f"after freeze(model, {names!r}), `{name}` received no gradient, but it "
                    "was not named; only the named parameters may be frozen"))
        optimizer.step()
    for name, param in model.named_parameters():
        moved = not torch.equal(param.detach(), before[name])
        require(moved == (name not in expected), (
            f"after freeze(model, {names!r}) and two SGD steps, `{name}` "
            f"{'changed' if moved else 'did not change'}; frozen parameters stay put and the "
            "others train"))
