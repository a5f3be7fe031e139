"""Spec for 07-modules: Linear, Embedding, LayerNorm, Dropout and GELU from scratch, param_count.

Run by `./kata check 07-modules`. Code is reached only through the `candidate` fixture; the
oracle is torch itself. Each learner module gets the weights of the matching torch.nn module by
load_state_dict (which is also how the fixed parameter names and shapes are checked), and then
its outputs and its gradients (input and every parameter) must match torch's under the
harness's error-ratio rule. Dropout is random, so it is checked by what it must do: keep about
1 - p of the elements (a 6-sigma binomial bound on 100,000 draws, with a fixed seed), scale
the survivors by exactly 1 / (1 - p), draw a new mask per call and per element, and do nothing
in eval mode.

Every assert carries a message written for the learner, so pytest's assertion rewriting, which
would append its own introspection to it, is off for this module: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import math
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
    assert_no_banned_modules,
    assert_no_banned_ops,
    distinct_digits,
    record_ops,
)
from grader.strategies import randn, seeds

pytestmark = pytest.mark.rung("07-modules")

LINEAR = "Linear"
EMBEDDING = "Embedding"
LAYERNORM = "LayerNorm"
DROPOUT = "Dropout"
GELU = "GELU"
COUNT = "param_count"

# Dropout outcomes are checked against what a correct dropout gives with overwhelming
# probability: a kept fraction within SIGMAS binomial standard deviations of 1 - p (a correct
# version misses that once in 500 million runs), and survivors equal to x / (1 - p) up to float64
# rounding (x * keep / (1 - p) and x * (keep / (1 - p)) may differ in the last bit).
SIGMAS = 6.0
FLOAT64_ROUNDING = {"rtol": 1e-12, "atol": 0.0}

BANNED_OPS = {
    "linear": "Write Linear as x @ self.weight.T + self.bias.",
    "embedding": "Write Embedding as self.weight[ids]: indexing gathers the rows.",
    "layer_norm": "Write LayerNorm from mean, the biased variance and sqrt.",
    # torch's other normalisations compute LayerNorm too, given the right groups or shapes
    "group_norm": "Write LayerNorm from mean, the biased variance and sqrt.",
    "instance_norm": "Write LayerNorm from mean, the biased variance and sqrt.",
    "batch_norm": "Write LayerNorm from mean, the biased variance and sqrt.",
    "rms_norm": "Write LayerNorm from mean, the biased variance and sqrt.",
    "dropout": "Write Dropout from a random mask: keep = torch.rand_like(x) >= p, then "
    "x * keep / (1 - p).",
    "gelu": "Write GELU from torch.erf (or torch.tanh for approximate='tanh').",
}
BANNED_MODULES: dict[type[nn.Module], str] = {
    nn.Linear: "Create weight and bias as nn.Parameters and write forward yourself.",
    nn.Embedding: "Create weight as an nn.Parameter and index its rows.",
    nn.LayerNorm: "Create weight and bias as nn.Parameters and normalise in forward.",
    nn.Dropout: "Draw the mask yourself in forward.",
    nn.GELU: "Compute the formula in forward.",
}


def require(condition: bool, message: str) -> None:
    """Fail with `message` alone."""
    if not condition:
        raise AssertionError(message)


def values_of(t: Tensor, limit: int = 6) -> str:
    """The first few numbers of a tensor as a plain list, for messages."""
    flat = t.detach().cpu().double().flatten()
    shown = [round(v, 4) for v in flat[:limit].tolist()]
    return str(shown)[:-1] + (", ...]" if flat.numel() > limit else "]")


def batch_dims() -> st.SearchStrategy[tuple[int, ...]]:
    return st.lists(st.integers(1, 3), max_size=2).map(tuple)


def float_dtypes() -> st.SearchStrategy[torch.dtype]:
    return st.sampled_from((torch.float32, torch.float64))


def randomize(module: nn.Module, seed: int, scale: float = 0.5,
              offsets: dict[str, float] | None = None) -> nn.Module:
    """Fill every parameter of a torch module with seeded normal values (plus an offset)."""
    with torch.no_grad():
        for i, (name, param) in enumerate(sorted(module.named_parameters())):
            offset = (offsets or {}).get(name, 0.0)
            param.copy_(randn(tuple(param.shape), seed + i, scale=scale, offset=offset))
    return module


def load_torch_weights(mine: nn.Module, oracle: nn.Module, what: str) -> None:
    """Give the learner's module torch's weights the way a user would: load_state_dict."""
    state = {key: value.detach().clone() for key, value in oracle.state_dict().items()}
    try:  # copies: learner code never holds the reference's own tensors
        mine.load_state_dict(state)
    except RuntimeError as error:
        got = ", ".join(f"{k} {tuple(v.shape)}" for k, v in mine.state_dict().items())
        want = ", ".join(f"{k} {tuple(v.shape)}" for k, v in state.items())
        reason = " ".join(str(error).split())[:300]
        raise AssertionError(
            f"{what}: your module cannot load the weights of torch's {type(oracle).__name__} "
            f"with load_state_dict ({reason}).\n  Your state_dict holds: {got or 'nothing'}\n"
            f"  torch's holds: {want or 'nothing'}\n  Use torch's parameter names and shapes."
        ) from None


def check_parameters(module: nn.Module, expected: dict[str, tuple[int, ...]], what: str,
                     advice: str) -> None:
    """named_parameters() and state_dict() hold exactly `expected`, float32, requiring grad."""
    params = {name: p for name, p in module.named_parameters()}
    state = module.state_dict()
    shapes = {name: tuple(p.shape) for name, p in params.items()}
    if set(params) != set(expected):
        missing = [n for n in expected if n not in params]
        extra = [n for n in params if n not in expected]
        plain = [n for n in missing if isinstance(getattr(module, n, None), Tensor)]
        raise AssertionError(
            f"{what}: parameters() lists {list(params) or 'nothing'}, expected exactly "
            f"{list(expected) or 'nothing'}"
            + (f"\n  missing: {missing}" if missing else "")
            + (f"\n  unexpected: {extra}" if extra else "")
            + (f"\n  {plain} {'is a plain tensor' if len(plain) == 1 else 'are plain tensors'}: "
               "wrap it in nn.Parameter(...) so that parameters(), state_dict() and optimizers "
               "see it" if plain else "")
            + f"\n  {advice}")
    for name, shape in expected.items():
        require(shapes[name] == shape, (
            f"{what}: `{name}` has shape {shapes[name]}, expected {shape}. {advice}"))
        require(params[name].dtype == torch.float32, (
            f"{what}: `{name}` is {params[name].dtype}; create parameters as float32 (no dtype "
            "argument) and let .to(dtype) change them later"))
        require(params[name].requires_grad, (
            f"{what}: `{name}` has requires_grad=False; a learnable parameter requires grad"))
    require(set(state) == set(expected), (
        f"{what}: state_dict keys are {list(state)}, expected exactly {list(expected)} (torch's "
        "names), so that weights copy across with load_state_dict"))


def check_no_builtins(module: nn.Module, run: Callable[[], Any], what: str) -> None:
    """No torch layer inside `module`, and no banned op dispatched by `run`."""
    assert_no_banned_modules(module, BANNED_MODULES, what=what)
    assert_no_banned_ops(run, banned=BANNED_OPS)


def check_output(out: Any, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device,
                 what: str, why: str) -> None:
    """A plain tensor of `shape`, `dtype`, on `device`."""
    require(isinstance(out, Tensor),
            f"{what} returned {type(out).__name__}; forward must return a tensor")
    require(tuple(out.shape) == shape,
            f"{what} returned shape {tuple(out.shape)}, expected {shape}: {why}")
    require(out.dtype == dtype, f"{what} returned {out.dtype}, expected {dtype}, the dtype of "
                                "its input and parameters")
    require(out.device == device, f"{what} returned a tensor on {out.device}, not {device}")


def check_input_unchanged(module: nn.Module, x: Tensor, what: str) -> None:
    """A forward pass (training mode) leaves the caller's x as it was: shape, dtype, values."""
    before = x.detach().clone()
    module.train()
    module(x)
    require(x.shape == before.shape and x.dtype == before.dtype and torch.equal(x, before), (
        f"{what}: forward changed its input x in place (an in-place op such as x.sub_, x.mul_ "
        "or x -= ...). The caller may still need x; compute a new tensor (x - mean, not "
        "x.sub_(mean))"))


def float64_rounding(truth: Tensor) -> Tensor:
    """What float64 arithmetic may be off by, element by element: a few hundred roundings of
    the result's scale. Float32 arithmetic anywhere inside is off by about 1e-7 of it, a
    hundred thousand times more."""
    return 1e-12 * (1 + truth.abs())


def check_float64_accuracy(out: Any, truth: Tensor, float32_result: Tensor, what: str) -> None:
    """out within float64 rounding of truth; when out matches what float32 arithmetic gives,
    the message says so."""
    def likely(got: Tensor, _index: tuple[int, ...]) -> str | None:
        f32 = float32_result.detach().cpu()
        if bool(((got - f32).abs() <= 1e-5 * (1 + f32.abs())).all()):
            return ("part of the arithmetic ran in float32 (.float(), a float32 tensor such as "
                    "torch.tensor(2.0), or a float32 copy of x) and was cast back; float64 "
                    "inputs need float64 arithmetic throughout.")
        return None

    assert_float64_close(out, truth, float64_rounding(truth), what, likely)


def forward_backward(module: nn.Module, x: Tensor) -> Callable[[], None]:
    """One training-mode forward and backward through `module`."""

    def run() -> None:
        module.train()
        out = module(x)
        if isinstance(out, Tensor) and out.requires_grad:
            out.sum().backward()

    return run


# --- Linear ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearCase:
    """One Linear configuration, an input (..., in_features) and a seed for weights and input."""

    batch: tuple[int, ...]
    in_features: int
    out_features: int
    bias: bool
    seed: int

    @property
    def kwargs(self) -> dict[str, Any]:
        return {"in_features": self.in_features, "out_features": self.out_features,
                "bias": self.bias}

    def x(self, device: torch.device, dtype: torch.dtype = torch.float64) -> Tensor:
        return randn((*self.batch, self.in_features), self.seed + 100, dtype, device)

    def describe(self) -> str:
        return (f"Linear(in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias}) on x of shape {(*self.batch, self.in_features)}")


@st.composite
def linear_cases(draw: st.DrawFn) -> LinearCase:
    return LinearCase(batch=draw(batch_dims()), in_features=draw(st.integers(1, 6)),
                      out_features=draw(st.integers(1, 6)), bias=draw(st.booleans()),
                      seed=draw(seeds()))


# Square first: there a weight used untransposed still runs, and the diagnosis can name it.
SQUARE_LINEAR = LinearCase(batch=(2, 3), in_features=4, out_features=4, bias=True, seed=7)
TYPICAL_LINEAR = LinearCase(batch=(2, 3), in_features=5, out_features=3, bias=True, seed=9)
LINEAR_LAYOUT = ("torch stores weight as (out_features, in_features), one row per output, and "
                 "computes x @ weight.T + bias; bias is (out_features,). With bias=False there is "
                 "no bias parameter: self.register_parameter('bias', None).")


def linear_pair(candidate: Any, case: LinearCase, device: torch.device,
                dtype: torch.dtype = torch.float64) -> tuple[nn.Module, nn.Module]:
    """The learner's Linear and torch's nn.Linear holding the same random weights."""
    oracle = randomize(nn.Linear(**case.kwargs), case.seed)
    mine = candidate.Linear(**case.kwargs)
    load_torch_weights(mine, oracle, case.describe())
    return mine.to(device, dtype), oracle.to(device, dtype)


def linear_mistakes(oracle: nn.Module) -> tuple[Mistake, ...]:
    weight, bias = oracle.weight, oracle.bias
    mistakes = [Mistake("the weight was used without transposing it: x @ weight. weight is "
                        "(out_features, in_features), so the layer computes x @ weight.T",
                        lambda x: x @ weight + (0 if bias is None else bias))]
    if bias is not None:
        mistakes.append(Mistake("the bias was not added (bias=True): return x @ weight.T + bias",
                                lambda x: x @ weight.T))
    return tuple(mistakes)


@pytest.mark.task(LINEAR, category="shape")
@given(case=linear_cases(), dtype=float_dtypes())
@example(case=TYPICAL_LINEAR, dtype=torch.float32)
def test_linear_maps_in_features_to_out_features(candidate, device, case, dtype):
    """forward maps (..., in_features) to (..., out_features) in the dtype of the module."""
    module = candidate.Linear(**case.kwargs).to(device, dtype)
    out = module(case.x(device, dtype))
    check_output(out, (*case.batch, case.out_features), dtype, device, case.describe(),
                 "the leading dims of x pass through and the last becomes out_features")


@pytest.mark.task(LINEAR, category="structure")
@pytest.mark.parametrize("bias", [True, False])
def test_linear_has_torchs_parameters(candidate, bias):
    """weight (out_features, in_features) and, only with bias=True, bias (out_features,)."""
    module = candidate.Linear(in_features=5, out_features=3, bias=bias)
    expected = {"weight": (3, 5), "bias": (3,)} if bias else {"weight": (3, 5)}
    check_parameters(module, expected, f"Linear(in_features=5, out_features=3, bias={bias})",
                     LINEAR_LAYOUT)
    if not bias:
        held = getattr(module, "bias", "no attribute")
        require(held is None, (
            f"Linear(in_features=5, out_features=3, bias=False) has `bias` = "
            f"{type(held).__name__ if isinstance(held, Tensor) else repr(held)}; torch keeps the "
            "attribute and sets it to None, so that `if self.bias is not None` works and "
            ".to(device) has nothing left behind: self.register_parameter('bias', None)"))


@pytest.mark.task(LINEAR, category="structure")
def test_linear_does_not_use_torchs_linear(candidate, device):
    """No nn.Linear inside and no F.linear (aten.linear) in forward or backward."""
    module = candidate.Linear(in_features=4, out_features=3).to(device)
    x = randn((2, 4), 0, torch.float32, device)
    check_no_builtins(module, forward_backward(module, x), "your Linear")


@pytest.mark.task(LINEAR, category="properties")
def test_linear_starts_from_torchs_uniform_range(candidate):
    """A new Linear's weight is random within ±1/√in_features (not zero, not constant); so is
    its bias (zeros allowed)."""
    in_features, out_features = 64, 32
    bound = 1 / math.sqrt(in_features)
    what = f"a new Linear(in_features={in_features}, out_features={out_features})"
    module = candidate.Linear(in_features=in_features, out_features=out_features)
    weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
    require(isinstance(weight, Tensor) and isinstance(bias, Tensor),
            f"{what} has no tensors `weight` and `bias`. {LINEAR_LAYOUT}")
    weight, bias = weight.detach(), bias.detach()
    require(bool(torch.isfinite(weight).all()) and bool(torch.isfinite(bias).all()),
            f"{what} holds NaN or Inf: torch.empty leaves memory uninitialised; fill it with "
            f"uniform_(-{bound:.4g}, {bound:.4g})")
    require(bool((weight != 0).any()), (
        f"{what} has an all-zero weight. Every output unit then computes the same thing and "
        f"gets the same gradient, so they never become different. Initialise as torch does: "
        f"uniform in ±1/√in_features = ±{bound:.4g}"))
    require(bool((weight != weight.flatten()[0]).any()), (
        f"{what} has every weight equal to {float(weight.flatten()[0]):.4g}; a constant weight "
        f"keeps all output units identical. Draw it uniformly in ±{bound:.4g}"))
    largest = float(weight.abs().max())
    # out_features < in_features here: a bound of 1/√out_features is too wide, and its weights
    # reach beyond 0.9 of it (2048 draws)
    out_bound = 1 / math.sqrt(out_features)
    likely = ("\n  Likely mistake: the bound uses out_features; it is 1/√in_features."
              if 0.9 * out_bound <= largest <= out_bound * (1 + 1e-6) else "")
    require(largest <= bound * (1 + 1e-6), (
        f"{what} has a weight of magnitude {largest:.4g}, outside ±1/√in_features = "
        f"±{bound:.4g}. Unscaled torch.randn weights make each output a sum of {in_features} "
        "unit-size terms, so activations grow layer by layer; use "
        f"torch.empty(out_features, in_features).uniform_(-{bound:.4g}, {bound:.4g}){likely}"))
    largest_bias = float(bias.abs().max())
    require(largest_bias <= bound * (1 + 1e-6), (
        f"{what} has a bias of magnitude {largest_bias:.4g}, outside ±{bound:.4g}; torch draws "
        "the bias from the same range as the weight (zeros are fine too)"))


@pytest.mark.task(LINEAR, category="properties")
def test_linear_uses_its_whole_init_range(candidate):
    """The weights spread over ±1/√in_features: 2048 uniform draws reach beyond 0.9 of it."""
    in_features, out_features = 64, 32
    bound = 1 / math.sqrt(in_features)
    what = f"a new Linear(in_features={in_features}, out_features={out_features})"
    weight = getattr(candidate.Linear(in_features, out_features), "weight", None)
    require(isinstance(weight, Tensor), f"{what} has no tensor `weight`. {LINEAR_LAYOUT}")
    largest = float(weight.detach().abs().max())
    # uniform in ±bound: all 2048 weights below 0.9 * bound has probability 0.9 ** 2048 < 1e-93
    if largest >= 0.9 * bound:
        return
    likely = ""
    # a smaller bound is named only when the weights fill it as they would fill the right one
    # (beyond 0.9 of it): zeros or a constant are no bound at all
    if 0.9 / in_features <= largest <= (1 / in_features) * (1 + 1e-6):
        likely = ("\n  Likely mistake: the bound is 1/in_features; it is 1/√in_features "
                  "(math.sqrt).")
    raise AssertionError(
        f"{what}: the largest weight is {largest:.4g}, but weights drawn uniformly in "
        f"±1/√in_features = ±{bound:.4g} reach beyond {0.9 * bound:.4g} (a miss has probability "
        "below 1e-93). Initialise as torch does: torch.empty(out_features, "
        f"in_features).uniform_(-bound, bound) with bound = 1/√in_features.{likely}")


@pytest.mark.task(LINEAR, category="properties")
def test_two_new_linears_start_different(candidate):
    """Each new Linear draws fresh weights from the global RNG, never reseeding it."""
    first, second = candidate.Linear(8, 4), candidate.Linear(8, 4)
    weights = [getattr(m, "weight", None) for m in (first, second)]
    require(all(isinstance(w, Tensor) for w in weights),
            f"a new Linear(8, 4) has no tensor `weight`. {LINEAR_LAYOUT}")
    require(not torch.equal(weights[0], weights[1]), (
        "two Linear(8, 4) built one after the other have identical weights. Does __init__ call "
        "torch.manual_seed? That resets the caller's RNG and makes every layer start alike; draw "
        "from the RNG as it is, and leave seeding to the caller"))


@pytest.mark.task(LINEAR, category="structure")
def test_linear_has_a_bias_by_default(candidate):
    """Linear(in_features, out_features) without the bias argument has a bias, as torch's."""
    check_parameters(candidate.Linear(5, 3), {"weight": (3, 5), "bias": (3,)},
                     "Linear(5, 3), built without the bias argument (bias=True is the default)",
                     LINEAR_LAYOUT)


@pytest.mark.task(LINEAR, category="properties")
def test_linear_with_one_input_feature_spreads_over_plus_minus_one(candidate):
    """in_features = 1: the bound 1/√1 is 1, and 2048 weights spread over ±1, none beyond."""
    what = "a new Linear(in_features=1, out_features=2048)"
    weight = getattr(candidate.Linear(1, 2048), "weight", None)
    require(isinstance(weight, Tensor), f"{what} has no tensor `weight`. {LINEAR_LAYOUT}")
    weight = weight.detach()
    largest = float(weight.abs().max())
    # uniform in ±1: all 2048 weights below 0.9 has probability 0.9 ** 2048 < 1e-93
    if 0.9 <= largest <= 1 + 1e-6:
        return
    likely = ""
    wider = getattr(candidate.Linear(64, 32), "weight", None)
    if largest == 0 and isinstance(wider, Tensor) and bool((wider != 0).any()):
        likely = ("\n  Likely mistake: Linear(64, 32) starts random but Linear(1, 2048) at "
                  "zeros: in_features = 1 was taken for the empty case. Only in_features = 0 "
                  "has no bound (torch uses 0 there); 1/√1 = 1.")
    raise AssertionError(
        f"{what}: the largest weight magnitude is {largest:.6g} (worst element "
        f"[{int(weight.abs().argmax())}, 0]); weights drawn uniformly in ±1/√in_features = ±1 "
        f"reach beyond 0.9 and never beyond 1.{likely}")


@pytest.mark.task(LINEAR, category="properties")
def test_linear_with_no_input_features_starts_with_a_zero_bias(candidate):
    """in_features = 0 is allowed, as in torch: weight (out_features, 0) and, with no fan-in to
    scale by, torch's bound of 0, so the bias starts at zeros and the output is that bias."""
    what = "Linear(in_features=0, out_features=16)"
    try:
        module = candidate.Linear(0, 16)
    except ZeroDivisionError:
        raise AssertionError(
            f"{what} raised ZeroDivisionError: 1/√in_features with in_features = 0. torch's "
            "Linear accepts in_features = 0 (an empty weight (16, 0)) and takes the bound as 0 "
            "there: bound = 1 / math.sqrt(in_features) if in_features > 0 else 0.0") from None
    check_parameters(module, {"weight": (16, 0), "bias": (16,)}, what, LINEAR_LAYOUT)
    bias = module.bias.detach()
    worst = int(bias.abs().argmax())
    require(bool((bias == 0).all()), (
        f"{what} starts with bias {values_of(bias)} (worst element [{worst}] = "
        f"{float(bias[worst]):.6g}); torch draws it in ±bound with bound = 0 when in_features is "
        "0 (there is no 1/√0), so the bias starts at zeros"))


@pytest.mark.task(LINEAR, category="properties")
def test_linear_bias_starts_at_zero_or_spread_over_the_bound(candidate):
    """The bias is zeros or uniform in ±1/√in_features: 2048 draws fall on both sides of 0."""
    in_features, out_features = 64, 2048
    bound = 1 / math.sqrt(in_features)
    what = f"a new Linear(in_features={in_features}, out_features={out_features})"
    bias = getattr(candidate.Linear(in_features, out_features), "bias", None)
    require(isinstance(bias, Tensor), f"{what} has no tensor `bias`. {LINEAR_LAYOUT}")
    bias = bias.detach()
    # uniform in ±bound: all 2048 on one side of 0.5 * bound has probability below 1e-250
    spread = float(bias.min()) < -bound / 2 and float(bias.max()) > bound / 2
    if spread or bool((bias == 0).all()):
        return
    likely = ""
    if bool((bias == bias[0]).all()) and abs(float(bias[0]) - bound) <= 1e-6 * bound:
        likely = ("\n  Likely mistake: uniform_(bound, bound), the minus sign of the lower end "
                  "is missing: uniform_(-bound, bound).")
    raise AssertionError(
        f"{what}: the bias runs from {float(bias.min()):.6g} to {float(bias.max()):.6g} (first "
        f"values {values_of(bias)}); drawn uniformly in ±1/√in_features = ±{bound:.4g} it "
        f"reaches below {-bound / 2:.4g} and above {bound / 2:.4g} (zeros are fine too).{likely}")


@pytest.mark.task(LINEAR, category="properties")
def test_linear_leaves_x_unchanged(candidate, device):
    """forward does not modify its input."""
    mine, _ = linear_pair(candidate, TYPICAL_LINEAR, device)
    check_input_unchanged(mine, TYPICAL_LINEAR.x(device), TYPICAL_LINEAR.describe())


@pytest.mark.task(LINEAR, category="values")
@given(case=linear_cases())
@example(case=SQUARE_LINEAR)
@example(case=TYPICAL_LINEAR)
def test_linear_matches_torch(candidate, device, case):
    """With nn.Linear's weights (loaded by load_state_dict) the output is x @ weight.T + bias."""
    mine, oracle = linear_pair(candidate, case, device)
    x = case.x(device)
    assert_matches(mine(x), oracle, x, what=f"output of {case.describe()}",
                   mistakes=linear_mistakes(oracle))


@pytest.mark.task(LINEAR, category="values")
@given(case=linear_cases())
@example(case=TYPICAL_LINEAR)
def test_linear_in_float32(candidate, device, case):
    """A float32 Linear is within twice torch's own float32 error of the float64 result."""
    mine, oracle = linear_pair(candidate, case, device, torch.float32)
    x = case.x(device, torch.float32)
    assert_matches(mine(x), oracle, x, what=f"output of {case.describe()} in float32",
                   mistakes=linear_mistakes(oracle))


@pytest.mark.task(LINEAR, category="grad")
@given(case=linear_cases())
@example(case=TYPICAL_LINEAR)
def test_linear_gradients_match_torch(candidate, device, case):
    """Gradients w.r.t. x, weight and bias equal nn.Linear's (random upstream gradient)."""
    mine, oracle = linear_pair(candidate, case, device)
    assert_module_grads_match(mine, oracle, case.x(device), what=case.describe(), seed=case.seed)


# --- Embedding ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmbeddingCase:
    """One Embedding configuration and a batch of int64 ids (repeats likely)."""

    batch: tuple[int, ...]
    num_embeddings: int
    embedding_dim: int
    seed: int

    @property
    def kwargs(self) -> dict[str, int]:
        return {"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim}

    def ids(self, device: torch.device) -> Tensor:
        generator = torch.Generator().manual_seed(self.seed + 100)
        return torch.randint(0, self.num_embeddings, self.batch, generator=generator).to(device)

    def describe(self) -> str:
        return (f"Embedding(num_embeddings={self.num_embeddings}, "
                f"embedding_dim={self.embedding_dim}) on int64 ids of shape {self.batch}")


@st.composite
def embedding_cases(draw: st.DrawFn) -> EmbeddingCase:
    batch = tuple(draw(st.lists(st.integers(1, 4), max_size=3)))
    return EmbeddingCase(batch=batch, num_embeddings=draw(st.integers(1, 8)),
                         embedding_dim=draw(st.integers(1, 5)), seed=draw(seeds()))


TYPICAL_EMBEDDING = EmbeddingCase(batch=(2, 5), num_embeddings=4, embedding_dim=3, seed=5)
# a size-1 batch dim and embedding_dim = 1: an output that is squeezed loses both
SIZE_ONE_EMBEDDING = EmbeddingCase(batch=(1, 4), num_embeddings=4, embedding_dim=1, seed=2)
EMBEDDING_LAYOUT = ("torch stores weight as (num_embeddings, embedding_dim): row i is the vector "
                    "of id i.")


def embedding_pair(candidate: Any, case: EmbeddingCase, device: torch.device,
                   dtype: torch.dtype = torch.float64) -> tuple[nn.Module, nn.Module]:
    """The learner's Embedding and torch's nn.Embedding holding the same random table."""
    oracle = randomize(nn.Embedding(**case.kwargs), case.seed, scale=1.0)
    mine = candidate.Embedding(**case.kwargs)
    load_torch_weights(mine, oracle, case.describe())
    return mine.to(device, dtype), oracle.to(device, dtype)


@pytest.mark.task(EMBEDDING, category="shape")
@given(case=embedding_cases(), dtype=float_dtypes())
@example(case=TYPICAL_EMBEDDING, dtype=torch.float32)
@example(case=SIZE_ONE_EMBEDDING, dtype=torch.float32)
@example(case=EmbeddingCase(batch=(), num_embeddings=5, embedding_dim=3, seed=1),
         dtype=torch.float32)
def test_embedding_adds_a_feature_dim(candidate, device, case, dtype):
    """ids (...) give (..., embedding_dim) in the dtype of the table; a single id gives (D,)."""
    module = candidate.Embedding(**case.kwargs).to(device, dtype)
    out = module(case.ids(device))
    check_output(out, (*case.batch, case.embedding_dim), dtype, device, case.describe(),
                 "every id, whatever the shape of ids, becomes one row of embedding_dim numbers")


@pytest.mark.task(EMBEDDING, category="structure")
def test_embedding_has_torchs_weight(candidate):
    """One parameter, weight, of shape (num_embeddings, embedding_dim)."""
    module = candidate.Embedding(num_embeddings=7, embedding_dim=3)
    check_parameters(module, {"weight": (7, 3)}, "Embedding(num_embeddings=7, embedding_dim=3)",
                     EMBEDDING_LAYOUT)


@pytest.mark.task(EMBEDDING, category="structure")
def test_embedding_does_not_use_torchs_embedding(candidate, device):
    """No nn.Embedding inside and no F.embedding (aten.embedding) in forward or backward."""
    module = candidate.Embedding(num_embeddings=6, embedding_dim=4).to(device)
    ids = torch.tensor([[0, 5, 2], [2, 2, 1]], device=device)
    check_no_builtins(module, forward_backward(module, ids), "your Embedding")


@pytest.mark.task(EMBEDDING, category="properties")
def test_embedding_starts_random(candidate):
    """A new Embedding's rows are finite and all different (torch draws them from N(0, 1))."""
    module = candidate.Embedding(num_embeddings=50, embedding_dim=8)
    weight = getattr(module, "weight", None)
    what = "a new Embedding(num_embeddings=50, embedding_dim=8)"
    require(isinstance(weight, Tensor), f"{what} has no tensor `weight`. {EMBEDDING_LAYOUT}")
    weight = weight.detach()
    require(bool(torch.isfinite(weight).all()),
            f"{what} holds NaN or Inf; initialise weight with torch.randn")
    distinct = torch.unique(weight, dim=0).shape[0]
    require(distinct == 50, (
        f"{what} has only {distinct} different rows out of 50, so different ids start with the "
        "same vector and get the same updates. Draw the table from N(0, 1): "
        "nn.Parameter(torch.randn(num_embeddings, embedding_dim))"))


@pytest.mark.task(EMBEDDING, category="properties")
def test_embedding_starts_from_a_standard_normal(candidate):
    """A new table is N(0, 1), as torch's: over 16,000 entries the mean is within 0.05 of 0 and
    the standard deviation within 0.05 of 1 (both more than 6 standard errors)."""
    weight = getattr(candidate.Embedding(num_embeddings=1000, embedding_dim=16), "weight", None)
    what = "a new Embedding(num_embeddings=1000, embedding_dim=16)"
    require(isinstance(weight, Tensor), f"{what} has no tensor `weight`. {EMBEDDING_LAYOUT}")
    values = weight.detach().double().flatten()
    mean, std = float(values.mean()), float(values.std())
    if abs(mean) <= 0.05 and abs(std - 1) <= 0.05:
        return
    likely = ""
    # torch.rand's [0, 1): mean 1/2, standard deviation 1/√12 (an all-zero table is not it)
    if float(values.min()) >= 0 and float(values.max()) < 1 and abs(mean - 0.5) <= 0.05 \
            and abs(std - 12 ** -0.5) <= 0.05:
        likely = ("\n  Likely mistake: torch.rand draws uniformly in [0, 1); torch.randn draws "
                  "from N(0, 1).")
    elif abs(mean) <= 0.05 and 0 < std < 0.5:  # all zeros is not a scaled table
        likely = (f"\n  Likely mistake: the table was scaled (by about {std:.3g}); GPT-2 does "
                  "that in its own init, but this layer starts as torch's does, unscaled.")
    raise AssertionError(
        f"{what} has entries with mean {mean:.4g} and standard deviation {std:.4g}; torch draws "
        "them from N(0, 1): nn.Parameter(torch.randn(num_embeddings, embedding_dim))." + likely)


@pytest.mark.task(EMBEDDING, category="properties")
def test_two_new_embeddings_start_different(candidate):
    """Each new Embedding draws a fresh table from the global RNG, never reseeding it."""
    tables = [getattr(candidate.Embedding(10, 4), "weight", None) for _ in range(2)]
    require(all(isinstance(w, Tensor) for w in tables),
            f"a new Embedding(10, 4) has no tensor `weight`. {EMBEDDING_LAYOUT}")
    require(not torch.equal(tables[0], tables[1]), (
        "two Embedding(10, 4) built one after the other have identical tables. Does __init__ "
        "call torch.manual_seed? That resets the caller's RNG and makes every table start alike; "
        "draw from the RNG as it is, and leave seeding to the caller"))


@pytest.mark.task(EMBEDDING, category="values")
@given(case=embedding_cases())
@example(case=TYPICAL_EMBEDDING)
@example(case=SIZE_ONE_EMBEDDING)
def test_embedding_looks_up_rows(candidate, device, case):
    """With nn.Embedding's table, each id is replaced by its row of weight."""
    mine, oracle = embedding_pair(candidate, case, device)
    ids = case.ids(device)
    assert_matches(mine(ids), oracle, ids, what=f"output of {case.describe()}")


@pytest.mark.task(EMBEDDING, category="grad")
@given(case=embedding_cases())
@example(case=TYPICAL_EMBEDDING)
@example(case=SIZE_ONE_EMBEDDING)
def test_embedding_gradient_adds_up_repeated_ids(candidate, device, case):
    """The gradient of weight equals nn.Embedding's: zero for unused rows, summed for repeats."""
    mine, oracle = embedding_pair(candidate, case, device)
    assert_module_grads_match(mine, oracle, case.ids(device), what=case.describe(),
                              seed=case.seed)


# --- LayerNorm ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerNormCase:
    """One LayerNorm configuration with random weight and bias, and an input (..., C)."""

    batch: tuple[int, ...]
    C: int
    eps: float
    scale: float
    seed: int
    offset: float = 0.0

    @property
    def kwargs(self) -> dict[str, Any]:
        return {"normalized_shape": self.C, "eps": self.eps}

    def x(self, device: torch.device, dtype: torch.dtype = torch.float64) -> Tensor:
        return randn((*self.batch, self.C), self.seed + 100, dtype, device, scale=self.scale,
                     offset=self.offset)

    def describe(self) -> str:
        spread = f"values around {self.offset:g} " if self.offset else ""
        return (f"LayerNorm(normalized_shape={self.C}, eps={self.eps:g}) on x of shape "
                f"{(*self.batch, self.C)} ({spread}with standard deviation {self.scale:g})")


@st.composite
def layernorm_cases(draw: st.DrawFn) -> LayerNormCase:
    # a spread as small as 0.01 makes eps matter: var = 1e-4 against eps = 1e-5
    return LayerNormCase(batch=draw(batch_dims()), C=draw(st.integers(1, 6)),
                         eps=draw(st.sampled_from((1e-5, 0.1))),
                         scale=draw(st.sampled_from((0.01, 1.0, 10.0))), seed=draw(seeds()))


TYPICAL_LAYERNORM = LayerNormCase(batch=(2, 3), C=5, eps=1e-5, scale=1.0, seed=3)
SMALL_SPREAD = LayerNormCase(batch=(4,), C=6, eps=1e-5, scale=0.01, seed=4)
LARGE_EPS = LayerNormCase(batch=(3,), C=4, eps=0.1, scale=1.0, seed=8)
LAYERNORM_LAYOUT = ("torch names them weight (C,), starting at ones, and bias (C,), starting at "
                    "zeros, with C = normalized_shape.")


def layernorm_pair(candidate: Any, case: LayerNormCase, device: torch.device,
                   dtype: torch.dtype = torch.float64) -> tuple[nn.Module, nn.Module]:
    """The learner's LayerNorm and torch's nn.LayerNorm with the same random weight and bias."""
    oracle = randomize(nn.LayerNorm(case.C, eps=case.eps), case.seed,
                       offsets={"weight": 1.0})
    mine = candidate.LayerNorm(**case.kwargs)
    load_torch_weights(mine, oracle, case.describe())
    return mine.to(device, dtype), oracle.to(device, dtype)


def told_apart(mistakes: Sequence[Mistake], right: Callable[[Tensor], Tensor]
               ) -> tuple[Mistake, ...]:
    """The mistakes, each named only where its output differs from the right one `right(x)`:
    with var far above eps, an eps mistake moves the output by less than a diagnosis can tell
    (1e-4), so any failure near the right output, float32 arithmetic say, would match it."""

    def where_it_shows(compute: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
        def shown(x: Tensor) -> Tensor:
            wrong = compute(x)
            if torch.allclose(wrong, right(x), rtol=1e-4, atol=1e-6):
                raise ValueError("this mistake cannot be told apart on this x")
            return wrong

        return shown

    return tuple(Mistake(m.description, where_it_shows(m.compute)) for m in mistakes)


def layernorm_mistakes(oracle: nn.Module) -> tuple[Mistake, ...]:
    weight, bias, eps = oracle.weight, oracle.bias, oracle.eps

    def centered(x: Tensor) -> Tensor:
        return x - x.mean(-1, keepdim=True)

    def variance(x: Tensor) -> Tensor:
        return centered(x).pow(2).mean(-1, keepdim=True)

    return told_apart((
        Mistake("the variance is the unbiased one (divided by C - 1, torch.var's default); "
                "LayerNorm divides by C: x.var(-1, unbiased=False, keepdim=True)",
                lambda x: centered(x) / torch.sqrt(x.var(-1, keepdim=True) + eps) * weight
                + bias),
        Mistake("eps was added outside the square root, (x - mean) / (√var + eps); it goes "
                "inside: (x - mean) / √(var + eps)",
                lambda x: centered(x) / (torch.sqrt(variance(x)) + eps) * weight + bias),
        Mistake("eps was left out: divide by √(var + eps)",
                lambda x: centered(x) / torch.sqrt(variance(x)) * weight + bias),
        Mistake("the eps passed to the constructor was ignored (1e-5 was used); keep it in "
                "__init__ and use it in forward",
                lambda x: centered(x) / torch.sqrt(variance(x) + 1e-5) * weight + bias),
        Mistake("the variance was computed in one pass as mean(x²) - mean(x)², which cancels "
                "catastrophically for inputs far from zero; centre first: "
                "((x - mean)²).mean(-1)",
                lambda x: centered(x) / torch.sqrt(
                    (x * x).mean(-1, keepdim=True) - x.mean(-1, keepdim=True) ** 2 + eps)
                * weight + bias),
        Mistake("weight and bias were swapped: multiply by weight, then add bias",
                lambda x: centered(x) / torch.sqrt(variance(x) + eps) * bias + weight),
        Mistake("weight and bias were not applied: after normalising, * weight + bias",
                lambda x: centered(x) / torch.sqrt(variance(x) + eps)),
        Mistake("the statistics were taken over the whole tensor, not over the last dim "
                "per vector: mean(-1, keepdim=True)",
                lambda x: (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + eps) * weight
                + bias),
    ), lambda x: centered(x) / torch.sqrt(variance(x) + eps) * weight + bias)


@pytest.mark.task(LAYERNORM, category="shape")
@given(case=layernorm_cases(), dtype=float_dtypes())
@example(case=TYPICAL_LAYERNORM, dtype=torch.float32)
def test_layernorm_keeps_the_shape_of_x(candidate, device, case, dtype):
    """forward maps (..., C) to (..., C) in the dtype of x."""
    module = candidate.LayerNorm(**case.kwargs).to(device, dtype)
    out = module(case.x(device, dtype))
    check_output(out, (*case.batch, case.C), dtype, device, case.describe(),
                 "normalising changes values, not the shape; mean and variance keep their "
                 "reduced dim (keepdim=True) so that they broadcast back")


@pytest.mark.task(LAYERNORM, category="structure")
def test_layernorm_has_torchs_weight_and_bias(candidate):
    """Two parameters, weight (C,) and bias (C,)."""
    module = candidate.LayerNorm(normalized_shape=6)
    check_parameters(module, {"weight": (6,), "bias": (6,)}, "LayerNorm(normalized_shape=6)",
                     LAYERNORM_LAYOUT)


@pytest.mark.task(LAYERNORM, category="structure")
def test_layernorm_does_not_use_torchs_layer_norm(candidate, device):
    """No nn.LayerNorm inside and no F.layer_norm (aten.native_layer_norm) anywhere."""
    module = candidate.LayerNorm(normalized_shape=5).to(device)
    x = randn((3, 5), 0, torch.float32, device)
    check_no_builtins(module, forward_backward(module, x), "your LayerNorm")


@pytest.mark.task(LAYERNORM, category="properties")
def test_layernorm_starts_as_plain_normalisation(candidate):
    """A new LayerNorm has weight = ones and bias = zeros, as torch's does."""
    module = candidate.LayerNorm(normalized_shape=5)
    for name, value in (("weight", 1.0), ("bias", 0.0)):
        param = getattr(module, name, None)
        require(isinstance(param, Tensor),
                f"a new LayerNorm(normalized_shape=5) has no tensor `{name}`. {LAYERNORM_LAYOUT}")
        require(bool((param.detach() == value).all()), (
            f"a new LayerNorm(normalized_shape=5) has {name} {values_of(param)}; it starts at "
            f"{'ones' if value else 'zeros'}, so that a fresh layer only normalises. "
            + LAYERNORM_LAYOUT))


@pytest.mark.task(LAYERNORM, category="values")
def test_layernorm_default_eps_is_torchs(candidate, device):
    """LayerNorm(C) without eps uses eps = 1e-5, as nn.LayerNorm(C): on x of spread 0.001
    (variance 1e-6) eps dominates the denominator."""
    case = LayerNormCase(batch=(4,), C=8, eps=1e-5, scale=1e-3, seed=5)
    what = (f"LayerNorm(normalized_shape={case.C}), built without eps (the default is 1e-5), on "
            f"x of shape {(*case.batch, case.C)} with standard deviation 0.001, where eps matters")
    mine = candidate.LayerNorm(case.C).to(device, torch.float64)
    oracle = nn.LayerNorm(case.C).to(device, torch.float64)
    x = case.x(device)
    with torch.no_grad():
        assert_matches(mine(x), oracle, x, what=what)


@pytest.mark.task(LAYERNORM, category="values")
@given(case=layernorm_cases())
# first: a spread of 0.01, where eps moves the output by 5%, so that an eps mistake is shown
# where it can be named (at spread 1 it moves it by 5e-6)
@example(case=LayerNormCase(batch=(2, 3), C=5, eps=1e-5, scale=0.01, seed=12))
@example(case=TYPICAL_LAYERNORM)
@example(case=SMALL_SPREAD)
@example(case=LARGE_EPS)
def test_layernorm_matches_torch(candidate, device, case):
    """With nn.LayerNorm's weight and bias: (x - mean) / √(var + eps) * weight + bias, the
    biased variance, over the last dim."""
    mine, oracle = layernorm_pair(candidate, case, device)
    x = case.x(device)
    assert_matches(mine(x), oracle, x, what=f"output of {case.describe()}",
                   mistakes=layernorm_mistakes(oracle))


@pytest.mark.task(LAYERNORM, category="values")
@given(case=layernorm_cases())
@example(case=TYPICAL_LAYERNORM)
def test_layernorm_in_float32(candidate, device, case):
    """A float32 LayerNorm is within twice torch's own float32 error of the float64 result."""
    mine, oracle = layernorm_pair(candidate, case, device, torch.float32)
    x = case.x(device, torch.float32)
    assert_matches(mine(x), oracle, x, what=f"output of {case.describe()} in float32",
                   mistakes=layernorm_mistakes(oracle))


@pytest.mark.task(LAYERNORM, category="values")
@pytest.mark.parametrize("C", [2, 16, 64])
def test_layernorm_is_accurate_far_from_zero(candidate, device, C):
    """float32 inputs around 1000 with spread 1: within twice torch's own error. The one-pass
    variance mean(x²) - mean(x)² loses every digit there."""
    case = LayerNormCase(batch=(32,), C=C, eps=1e-5, scale=1.0, seed=C, offset=1000.0)
    mine, oracle = layernorm_pair(candidate, case, device, torch.float32)
    x = case.x(device, torch.float32)
    assert_matches(mine(x), oracle, x, what=f"output of {case.describe()} in float32",
                   mistakes=layernorm_mistakes(oracle))


@pytest.mark.task(LAYERNORM, category="properties")
@pytest.mark.parametrize("case", [TYPICAL_LAYERNORM, SMALL_SPREAD], ids=["spread 1", "spread 0.01"])
def test_layernorm_leaves_x_unchanged(candidate, device, case):
    """forward does not modify its input (LayerNorm of a centred x is the same, so an output
    check alone would not see x.sub_(mean))."""
    mine, _ = layernorm_pair(candidate, case, device)
    check_input_unchanged(mine, case.x(device), case.describe())


@pytest.mark.task(LAYERNORM, category="values")
@given(case=layernorm_cases())
@example(case=TYPICAL_LAYERNORM)
@example(case=LayerNormCase(batch=(3,), C=6, eps=1e-5, scale=1.0, seed=11, offset=3.0))
def test_layernorm_is_float64_accurate_in_float64(candidate, device, case):
    """A float64 LayerNorm is within float64 rounding of torch's (about 1e-12 of each output),
    far inside what float32 arithmetic anywhere in it loses."""
    mine, oracle = layernorm_pair(candidate, case, device)
    x = case.x(device)
    with torch.no_grad():
        truth = oracle(x)
        oracle32 = nn.LayerNorm(case.C, eps=case.eps).to(device)
        oracle32.load_state_dict({k: v.float() for k, v in oracle.state_dict().items()})
        float32_result = oracle32(x.float()).double()
    check_float64_accuracy(mine(x), truth, float32_result,
                           f"output of {case.describe()} in float64")


@pytest.mark.task(LAYERNORM, category="grad")
@given(case=layernorm_cases())
@example(case=TYPICAL_LAYERNORM)
def test_layernorm_gradients_match_torch(candidate, device, case):
    """Gradients w.r.t. x, weight and bias equal nn.LayerNorm's (random upstream gradient)."""
    mine, oracle = layernorm_pair(candidate, case, device)
    assert_module_grads_match(mine, oracle, case.x(device), what=case.describe(),
                              seed=case.seed)


# --- Dropout -----------------------------------------------------------------------------------

# 100,000 draws: 6 standard deviations of the kept fraction are at most 0.95 percentage points.
DRAWS = 100_000


def positive_input(shape: tuple[int, ...], seed: int, device: torch.device,
                   dtype: torch.dtype = torch.float64) -> Tensor:
    """Values in [1, 2): no element is zero, so a zero in the output was dropped."""
    generator = torch.Generator().manual_seed(seed)
    return (1 + torch.rand(shape, generator=generator, dtype=torch.float64)).to(device, dtype)


def dropout_in_training(candidate: Any, p: float, device: torch.device) -> nn.Module:
    return candidate.Dropout(p=p).to(device).train()


def seeded_call(module: nn.Module, x: Tensor, seed: int) -> Tensor:
    """module(x) with the global RNG seeded: the outcome is fixed for a given implementation."""
    torch.manual_seed(seed)
    if x.is_cuda:
        torch.cuda.manual_seed_all(seed)
    return module(x)


@pytest.mark.task(DROPOUT, category="shape")
@given(shape=st.lists(st.integers(1, 5), max_size=3).map(tuple), dtype=float_dtypes(),
       training=st.booleans(), p=st.sampled_from((0.0, 0.3, 1.0)))
@example(shape=(4, 5), dtype=torch.bfloat16, training=True, p=0.3)
@example(shape=(4, 5), dtype=torch.float16, training=True, p=0.3)
def test_dropout_keeps_the_shape_and_dtype_of_x(candidate, device, shape, dtype, training, p):
    """In training and in eval mode, the output has the shape, dtype and device of x."""
    module = candidate.Dropout(p=p).to(device).train(training)
    x = positive_input(shape, 0, device, dtype)
    what = f"Dropout(p={p}) in {'training' if training else 'eval'} mode on x of shape {shape}"
    check_output(module(x), shape, dtype, device, what, "dropout zeroes elements in place of "
                 "removing them")


@pytest.mark.task(DROPOUT, category="structure")
def test_dropout_does_not_use_torchs_dropout(candidate, device):
    """No nn.Dropout inside, no parameters, and no F.dropout in training or eval mode."""
    module = candidate.Dropout(p=0.5).to(device)
    params = [name for name, _ in module.named_parameters()]
    require(not params, (
        f"Dropout(p=0.5) has parameters {params}; dropout learns nothing. Keep p as a plain "
        "attribute (self.p = p)"))
    x = positive_input((4, 8), 0, device, torch.float32)

    def evaluate() -> None:
        module.eval()
        module(x)

    check_no_builtins(module, forward_backward(module, x.requires_grad_()), "your Dropout")
    assert_no_banned_ops(evaluate, banned=BANNED_OPS)


@pytest.mark.task(DROPOUT, category="properties")
@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.8])
def test_dropout_keeps_about_one_minus_p(candidate, device, p):
    """Over 100,000 elements the kept fraction is 1 - p within 6 binomial standard deviations."""
    module = dropout_in_training(candidate, p, device)
    x = positive_input((DRAWS,), 0, device)
    out = seeded_call(module, x, seed=1234)
    kept = float((out != 0).double().mean())
    sigma = math.sqrt(p * (1 - p) / DRAWS)
    expected = 1 - p
    if abs(kept - expected) <= SIGMAS * sigma:
        return
    advice = "Keep an element where torch.rand_like(x) >= p: that happens with probability 1 - p."
    if abs(kept - p) <= SIGMAS * sigma:
        advice = ("You keep elements with probability p; p is the probability to DROP one. "
                  "Keep where torch.rand_like(x) >= p.")
    elif kept in (0.0, 1.0):
        advice = ("It kept " + ("nothing" if kept == 0 else "everything") + ": is the mask "
                  "drawn per element and compared with p (torch.rand_like(x) >= p)?")
    raise AssertionError(
        f"Dropout(p={p}) in training mode kept {100 * kept:.2f}% of {DRAWS:,} nonzero elements; "
        f"expected {100 * expected:.0f}% ± {100 * SIGMAS * sigma:.2f}% (6 standard deviations "
        f"of the binomial; a correct dropout stays inside). {advice}")


@pytest.mark.task(DROPOUT, category="values")
@pytest.mark.parametrize("p", [0.1, 0.3, 0.8])
def test_dropout_scales_the_kept_elements_by_one_over_one_minus_p(candidate, device, p):
    """Every output element is 0 (dropped) or x / (1 - p) (kept), so E[output] = x."""
    module = dropout_in_training(candidate, p, device)
    x = positive_input((64, 64), 1, device)
    out = seeded_call(module, x, seed=99)
    what = f"Dropout(p={p}) in training mode on x of shape (64, 64) with values in [1, 2)"
    require(isinstance(out, Tensor) and out.shape == x.shape,
            f"{what} returned {type(out).__name__} of shape {getattr(out, 'shape', None)}")
    out = out.detach()
    kept = out != 0
    require(bool(kept.any()), f"{what} dropped every element")
    ratio = out[kept] / x[kept]
    scale = 1 / (1 - p)
    if torch.allclose(ratio, torch.full_like(ratio, scale), **FLOAT64_ROUNDING):
        return
    worst = int((ratio - scale).abs().argmax())
    got = float(ratio[worst])
    guesses = {1.0: "the kept elements were not scaled: divide them by 1 - p",
               1 - p: "the kept elements were multiplied by 1 - p; divide by 1 - p instead",
               1 / p: "the kept elements were divided by p; divide by 1 - p, the keep "
                      "probability"}
    likely = next((text for value, text in guesses.items() if math.isclose(got, value,
                                                                            rel_tol=1e-9)), "")
    shown_got, shown_scale = distinct_digits(got, scale, torch.float64)
    raise AssertionError(
        f"{what}: a kept element came out as {shown_got} times its input, expected 1 / (1 - p) = "
        f"{shown_scale}. Dividing the survivors by 1 - p keeps the expected output equal to x, so "
        "eval mode needs no rescaling." + (f"\n  Likely mistake: {likely}." if likely else ""))


@pytest.mark.task(DROPOUT, category="properties")
@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_dropout_does_nothing_in_eval_mode(candidate, device, p):
    """After .eval() the output is x itself, unscaled, on every call; .train() turns it back on."""
    module = candidate.Dropout(p=p).to(device).eval()
    x = positive_input((50, 40), 2, device)
    for seed in (0, 1):
        out = seeded_call(module, x, seed)
        require(isinstance(out, Tensor) and out.shape == x.shape and torch.equal(out, x), (
            f"Dropout(p={p}) after .eval() changed x of shape (50, 40) (call {seed + 1}). In eval "
            "mode dropout is the identity: return x when self.training is False (nn.Module's "
            ".eval() sets it; do not keep your own flag)"))
    if 0 < p < 1:
        out = seeded_call(module.train(), x, 2)
        require(not torch.equal(out, x), (
            f"Dropout(p={p}) after .eval() and then .train() returned x unchanged: read "
            "self.training in forward, every call"))


@pytest.mark.task(DROPOUT, category="properties")
def test_p_zero_keeps_everything_and_p_one_drops_everything(candidate, device):
    """In training mode p = 0 returns x unchanged and p = 1 returns zeros (not NaN)."""
    x = positive_input((20, 30), 3, device)
    out = seeded_call(dropout_in_training(candidate, 0.0, device), x, 0)
    require(isinstance(out, Tensor) and torch.equal(out, x), (
        "Dropout(p=0.0) in training mode changed x of shape (20, 30); with p = 0 nothing is "
        "dropped and 1 / (1 - p) = 1"))
    out = seeded_call(dropout_in_training(candidate, 1.0, device), x, 0)
    require(isinstance(out, Tensor) and out.shape == x.shape,
            f"Dropout(p=1.0) returned {type(out).__name__}; expected zeros of shape (20, 30)")
    nans = int(torch.isnan(out).sum())
    require(nans == 0, (
        f"Dropout(p=1.0) in training mode returned NaN in {nans} of {out.numel()} elements: "
        "x * mask / (1 - p) is 0 / 0 when p = 1. Return zeros in that case, as torch does "
        "(x * 0 keeps the graph)"))
    require(bool((out == 0).all()), (
        f"Dropout(p=1.0) in training mode returned {values_of(out)}; p = 1 drops every "
        "element, so the output is all zeros"))


@pytest.mark.task(DROPOUT, category="properties")
def test_dropout_default_p_is_one_half(candidate, device):
    """Dropout() without p drops half the elements, as nn.Dropout(): the default is p = 0.5."""
    what = "Dropout(), built without p (the default is 0.5),"
    try:
        module = candidate.Dropout().to(device).train()
    except ValueError as error:
        raise AssertionError(f"{what} raised ValueError ({error}); the default p = 0.5 is a "
                             "valid probability") from None
    out = seeded_call(module, positive_input((DRAWS,), 0, device), seed=4321)
    kept = float((out != 0).double().mean())
    sigma = math.sqrt(0.25 / DRAWS)
    require(abs(kept - 0.5) <= SIGMAS * sigma, (
        f"{what} in training mode kept {100 * kept:.2f}% of {DRAWS:,} nonzero elements of shape "
        f"({DRAWS},); expected 50% ± {100 * SIGMAS * sigma:.2f}% (6 binomial standard "
        "deviations). Give p the default 0.5: def __init__(self, p: float = 0.5)"))


@pytest.mark.task(DROPOUT, category="properties")
@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_p_outside_zero_to_one_is_refused(candidate, p):
    """Dropout(p) raises ValueError unless 0 <= p <= 1 (0 and 1 themselves are accepted)."""
    try:
        candidate.Dropout(p=p)
    except ValueError:
        return
    raise AssertionError(
        f"Dropout(p={p}) was built without complaint; p is a probability. Raise ValueError in "
        "__init__ unless 0 <= p <= 1 (written that way, the test also refuses NaN)")


@pytest.mark.task(DROPOUT, category="properties")
def test_each_call_and_each_element_gets_its_own_coin(candidate, device):
    """Two calls draw different masks; within one call rows and columns are dropped apart."""
    module = dropout_in_training(candidate, 0.5, device)
    x = positive_input((64, 32), 4, device)
    torch.manual_seed(5)
    first, second = module(x), module(x)
    what = "Dropout(p=0.5) in training mode on x of shape (64, 32)"
    require(not torch.equal(first, second), (
        f"{what}: two calls in a row dropped exactly the same elements. Draw a new mask on "
        "every call (torch.rand_like(x) inside forward), and do not reseed the RNG there"))
    dropped = first == 0
    require(not bool((dropped == dropped[:1]).all()), (
        f"{what}: every row was dropped at the same columns; the mask must be drawn per "
        "element, with the full shape of x (torch.rand_like(x)), not one row broadcast"))
    require(not bool((dropped == dropped[:, :1]).all()), (
        f"{what}: every column was dropped at the same rows; draw the mask with the full shape "
        "of x (torch.rand_like(x))"))


@pytest.mark.task(DROPOUT, category="properties")
def test_dropout_leaves_x_unchanged(candidate, device):
    """forward does not modify its input in place."""
    x = positive_input((30, 30), 6, device)
    before = x.clone()
    seeded_call(dropout_in_training(candidate, 0.5, device), x, 0)
    require(torch.equal(x, before), (
        "Dropout(p=0.5) in training mode changed its input x in place (x.mul_, x[mask] = 0, "
        "...). The caller may still need x; return a new tensor: x * keep / (1 - p)"))


@pytest.mark.task(DROPOUT, category="grad")
@pytest.mark.parametrize("p", [0.2, 0.6])
def test_dropout_gradient_is_the_same_mask_and_scale(candidate, device, p):
    """The gradient w.r.t. x is upstream / (1 - p) where the element was kept, 0 where dropped."""
    module = dropout_in_training(candidate, p, device)
    x = positive_input((40, 25), 7, device).requires_grad_()
    out = seeded_call(module, x, seed=11)
    what = f"Dropout(p={p}) in training mode on x of shape (40, 25)"
    require(isinstance(out, Tensor) and out.requires_grad, (
        f"{what}: the output is cut off from the autograd graph, so no gradient reaches x. "
        "Look for .detach(), .data or torch.no_grad() in forward"))
    upstream = randn(tuple(x.shape), 8, torch.float64, device)
    (grad,) = torch.autograd.grad(out, x, upstream, allow_unused=True)
    require(grad is not None, f"{what}: no gradient reaches x")
    kept = out.detach() != 0
    expected = torch.where(kept, upstream / (1 - p), torch.zeros_like(upstream))
    if torch.allclose(grad, expected, **FLOAT64_ROUNDING):
        return
    bad = ~torch.isclose(grad, expected, **FLOAT64_ROUNDING)
    index = tuple(int(i) for i in bad.nonzero()[0])
    shown_got, shown_expected = distinct_digits(float(grad[index]), float(expected[index]),
                                                grad.dtype)
    raise AssertionError(
        f"gradient of {what}: {int(bad.sum())} of {grad.numel()} elements are off; at {index} "
        f"(element {'kept' if kept[index] else 'dropped'}) got {shown_got}, expected "
        f"{shown_expected}. The gradient flows through the same mask and scale as "
        "the forward pass: compute the output as x * keep / (1 - p) and let autograd do it")


@pytest.mark.task(DROPOUT, category="grad")
def test_dropout_p_one_keeps_the_graph(candidate, device):
    """With p = 1 the output is zeros that still hang on x: the gradient reaching x is zero,
    not missing (torch's dropout returns x * 0)."""
    x = positive_input((6, 5), 9, device).requires_grad_()
    out = seeded_call(dropout_in_training(candidate, 1.0, device), x, 0)
    what = "Dropout(p=1.0) in training mode on x of shape (6, 5)"
    require(isinstance(out, Tensor) and out.requires_grad, (
        f"{what}: the output is cut off from the autograd graph, so a loss behind it cannot "
        "backpropagate (\"element 0 of tensors does not require grad\"). torch.zeros_like(x) "
        "makes a new tensor; return x * 0.0 so the gradient reaching x is zero, not missing"))
    (grad,) = torch.autograd.grad(out, x, torch.ones_like(out), allow_unused=True)
    require(grad is not None and bool((grad == 0).all()), (
        f"{what}: the gradient reaching x should be all zeros (every element dropped), got "
        f"{'none' if grad is None else values_of(grad)}"))


# --- GELU --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeluCase:
    """One GELU variant and an input of some shape, spread wide enough to reach the tails."""

    shape: tuple[int, ...]
    approximate: str
    seed: int

    def x(self, device: torch.device, dtype: torch.dtype = torch.float64) -> Tensor:
        return randn(self.shape, self.seed, dtype, device, scale=3.0)

    def describe(self) -> str:
        return f"GELU(approximate={self.approximate!r}) on x of shape {self.shape}"


@st.composite
def gelu_cases(draw: st.DrawFn) -> GeluCase:
    return GeluCase(shape=tuple(draw(st.lists(st.integers(1, 6), max_size=3))),
                    approximate=draw(st.sampled_from(("none", "tanh"))), seed=draw(seeds()))


TYPICAL_GELU = GeluCase(shape=(4, 16), approximate="none", seed=2)
TYPICAL_TANH_GELU = GeluCase(shape=(4, 16), approximate="tanh", seed=3)


def exact_gelu(x: Tensor) -> Tensor:
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def tanh_gelu(x: Tensor) -> Tensor:
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def gelu_mistakes(approximate: str) -> tuple[Mistake, ...]:
    mistakes = [
        Mistake("the tanh approximation was used although approximate='none' asks for the "
                "exact GELU, 0.5 · x · (1 + erf(x / √2))", tanh_gelu)
        if approximate == "none" else
        Mistake("approximate='tanh' was ignored: the exact erf formula was used; with 'tanh' "
                "compute 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))", exact_gelu),
        Mistake("the sigmoid approximation x · sigmoid(1.702 x) was used; GELU here is the "
                "erf formula or, when asked, the tanh formula",
                lambda x: x * torch.sigmoid(1.702 * x)),
        Mistake("erf(x) was used without dividing x by √2: Φ(x) = (1 + erf(x / √2)) / 2",
                lambda x: 0.5 * x * (1 + torch.erf(x))),
        Mistake("the factor 0.5 was left out", lambda x: 2 * exact_gelu(x)),
    ]
    return told_apart(mistakes, exact_gelu if approximate == "none" else tanh_gelu)


@pytest.mark.task(GELU, category="shape")
@given(case=gelu_cases(), dtype=float_dtypes())
def test_gelu_keeps_the_shape_and_dtype_of_x(candidate, device, case, dtype):
    """GELU is elementwise: the output has the shape, dtype and device of x."""
    module = candidate.GELU(approximate=case.approximate).to(device)
    check_output(module(case.x(device, dtype)), case.shape, dtype, device, case.describe(),
                 "an activation acts on each element")


@pytest.mark.task(GELU, category="structure")
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_does_not_use_torchs_gelu(candidate, device, approximate):
    """No parameters, no nn.GELU inside and no F.gelu (aten.gelu) in forward or backward."""
    module = candidate.GELU(approximate=approximate).to(device)
    params = [name for name, _ in module.named_parameters()]
    require(not params, f"GELU(approximate={approximate!r}) has parameters {params}; it has none")
    x = randn((3, 7), 0, torch.float32, device).requires_grad_()
    check_no_builtins(module, forward_backward(module, x), "your GELU")


@pytest.mark.task(GELU, category="properties")
@pytest.mark.parametrize("approximate", ["sigmoid", "exact", "Tanh"])
def test_gelu_refuses_an_unknown_approximation(candidate, approximate):
    """approximate other than "none" or "tanh" raises ValueError in __init__, as torch does."""
    try:
        candidate.GELU(approximate=approximate)
    except ValueError:
        return
    raise AssertionError(
        f"GELU(approximate={approximate!r}) was built without complaint; only 'none' and 'tanh' "
        "exist. Raise ValueError in __init__ for anything else, rather than silently computing "
        "one of the two")


@pytest.mark.task(GELU, category="values")
def test_gelu_default_is_the_exact_form(candidate, device):
    """GELU() without approximate is the exact x·Φ(x), as nn.GELU()."""
    x = torch.linspace(-4, 4, 81, dtype=torch.float64, device=device)
    with torch.no_grad():
        assert_matches(candidate.GELU()(x), exact_gelu, x,
                       what="GELU(), built without approximate (the default is 'none'), on x of "
                            "shape (81,) from -4 to 4",
                       mistakes=(Mistake("GELU() used the tanh approximation; the default "
                                         "approximate='none' is the exact erf form", tanh_gelu),))


@pytest.mark.task(GELU, category="values")
@given(case=gelu_cases())
@example(case=TYPICAL_GELU)
@example(case=TYPICAL_TANH_GELU)
def test_gelu_matches_torch(candidate, device, case):
    """Equal to nn.GELU(approximate): the erf formula for 'none', the tanh formula for 'tanh'."""
    module = candidate.GELU(approximate=case.approximate).to(device)
    x = case.x(device)
    assert_matches(module(x), nn.GELU(approximate=case.approximate), x,
                   what=f"output of {case.describe()}", mistakes=gelu_mistakes(case.approximate))


@pytest.mark.task(GELU, category="values")
@given(case=gelu_cases())
@example(case=TYPICAL_GELU)
def test_gelu_in_float32(candidate, device, case):
    """float32 inputs: within twice torch's own float32 error of the float64 result."""
    module = candidate.GELU(approximate=case.approximate).to(device)
    x = case.x(device, torch.float32)
    assert_matches(module(x), nn.GELU(approximate=case.approximate), x,
                   what=f"output of {case.describe()} in float32",
                   mistakes=gelu_mistakes(case.approximate))


@pytest.mark.task(GELU, category="properties")
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_leaves_x_unchanged(candidate, device, approximate):
    """forward does not modify its input."""
    case = GeluCase(shape=(4, 16), approximate=approximate, seed=2)
    module = candidate.GELU(approximate=approximate).to(device)
    check_input_unchanged(module, case.x(device), case.describe())


@pytest.mark.task(GELU, category="values")
@given(case=gelu_cases())
@example(case=TYPICAL_GELU)
@example(case=TYPICAL_TANH_GELU)
def test_gelu_is_float64_accurate_in_float64(candidate, device, case):
    """A float64 GELU is within float64 rounding of torch's (about 1e-12 of each output), far
    inside what a float32 constant or a float32 erf loses."""
    module = candidate.GELU(approximate=case.approximate).to(device)
    x = case.x(device)
    oracle = nn.GELU(approximate=case.approximate)
    with torch.no_grad():
        truth, float32_result = oracle(x), oracle(x.float()).double()
    check_float64_accuracy(module(x), truth, float32_result,
                           f"output of {case.describe()} in float64")


@pytest.mark.task(GELU, category="grad")
@given(case=gelu_cases())
@example(case=TYPICAL_GELU)
@example(case=TYPICAL_TANH_GELU)
def test_gelu_gradients_match_torch(candidate, device, case):
    """The gradient w.r.t. x equals nn.GELU's (random upstream gradient)."""
    module = candidate.GELU(approximate=case.approximate).to(device)
    assert_module_grads_match(module, nn.GELU(approximate=case.approximate), case.x(device),
                              what=case.describe(), seed=case.seed)


# --- param_count -------------------------------------------------------------------------------

# (module name, constructor arguments, parameter count): GPT-2 small's layers among them.
KNOWN_COUNTS: Sequence[tuple[str, dict[str, Any], int]] = (
    ("Linear", {"in_features": 768, "out_features": 3072}, 2_362_368),
    ("Linear", {"in_features": 768, "out_features": 50257, "bias": False}, 38_597_376),
    ("Linear", {"in_features": 3, "out_features": 4, "bias": True}, 16),
    ("Embedding", {"num_embeddings": 50257, "embedding_dim": 768}, 38_597_376),
    ("Embedding", {"num_embeddings": 1024, "embedding_dim": 768}, 786_432),
    ("LayerNorm", {"normalized_shape": 768}, 1536),
    ("LayerNorm", {"normalized_shape": 768, "eps": 1e-6}, 1536),
    ("Dropout", {"p": 0.1}, 0),
    ("Dropout", {}, 0),
    ("GELU", {}, 0),
    ("GELU", {"approximate": "tanh"}, 0),
)
TORCH_MODULES: dict[str, type[nn.Module]] = {
    "Linear": nn.Linear, "Embedding": nn.Embedding, "LayerNorm": nn.LayerNorm,
    "Dropout": nn.Dropout, "GELU": nn.GELU,
}


def call_text(name: str, kwargs: dict[str, Any]) -> str:
    args = "".join(f", {key}={value!r}" for key, value in kwargs.items())
    return f"param_count({name!r}{args})"


def count_advice(name: str, kwargs: dict[str, Any], got: Any) -> str:
    """The likely mistake behind a wrong count."""
    if name == "Linear":
        weights = kwargs["in_features"] * kwargs["out_features"]
        if kwargs.get("bias", True) and got == weights:
            return "the bias was left out: with bias (the default) add out_features"
        if not kwargs.get("bias", True) and got == weights + kwargs["out_features"]:
            return "bias=False was ignored: without a bias the count is in_features · out_features"
        return "Linear holds in_features · out_features weights plus out_features biases"
    if name == "LayerNorm":
        if got == kwargs["normalized_shape"]:
            return "only one of weight and bias was counted; LayerNorm has both, C numbers each"
        return "LayerNorm holds weight and bias, normalized_shape numbers each"
    if name == "Embedding":
        return "Embedding holds a num_embeddings × embedding_dim table"
    return f"{name} has no parameters"


def check_count(candidate: Any, name: str, kwargs: dict[str, Any], expected: int) -> None:
    got = candidate.param_count(name, **kwargs)
    what = call_text(name, kwargs)
    require(isinstance(got, int) and not isinstance(got, bool), (
        f"{what} returned {type(got).__name__} {got!r}; return a plain Python int "
        "(int(...) around a tensor or float result)"))
    require(got == expected, (
        f"{what} returned {got:,}, expected {expected:,}.\n  Likely mistake: "
        f"{count_advice(name, kwargs, got)}."))


@pytest.mark.task(COUNT, category="values")
@pytest.mark.parametrize(("name", "kwargs", "expected"), KNOWN_COUNTS,
                         ids=[call_text(n, k) for n, k, _ in KNOWN_COUNTS])
def test_param_count_of_gpt2_sized_layers(candidate, name, kwargs, expected):
    """The counts of GPT-2's layers: Linear(768, 3072) holds 2,362,368 numbers, and so on."""
    check_count(candidate, name, kwargs, expected)


@st.composite
def module_arguments(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(tuple(TORCH_MODULES)))
    size = st.integers(1, 40)
    kwargs: dict[str, Any] = {
        "Linear": lambda: {"in_features": draw(size), "out_features": draw(size),
                           "bias": draw(st.booleans())},
        "Embedding": lambda: {"num_embeddings": draw(size), "embedding_dim": draw(size)},
        "LayerNorm": lambda: {"normalized_shape": draw(size)},
        "Dropout": lambda: {"p": draw(st.sampled_from((0.0, 0.1, 0.5)))},
        "GELU": lambda: {"approximate": draw(st.sampled_from(("none", "tanh")))},
    }[name]()
    return name, kwargs


@pytest.mark.task(COUNT, category="values")
@given(arguments=module_arguments())
def test_param_count_agrees_with_torch(candidate, arguments):
    """For random constructor arguments the count equals that of the torch module built from
    them."""
    name, kwargs = arguments
    expected = sum(p.numel() for p in TORCH_MODULES[name](**kwargs).parameters())
    check_count(candidate, name, kwargs, expected)


@pytest.mark.task(COUNT, category="properties")
@pytest.mark.parametrize("name", ["Conv2d", "linear", "MultiHeadAttention"])
def test_param_count_refuses_unknown_modules(candidate, name):
    """A name other than the five (names are case-sensitive) raises ValueError."""
    try:
        candidate.param_count(name, in_features=4, out_features=4)
    except ValueError:
        return
    raise AssertionError(
        f"param_count({name!r}, in_features=4, out_features=4) did not raise ValueError; it "
        "knows Linear, Embedding, LayerNorm, Dropout and GELU only, and a count for anything "
        "else would be a guess")


@pytest.mark.task(COUNT, category="structure")
def test_param_count_builds_no_tensors(candidate):
    """param_count is arithmetic on the arguments: it dispatches no tensor operation at all."""
    kwargs = {"num_embeddings": 50257, "embedding_dim": 768}
    log = record_ops(candidate.param_count, "Embedding", **kwargs)
    ops = sorted(set(log.aten))
    require(not ops, (
        f"{call_text('Embedding', kwargs)} ran tensor operations ({', '.join(ops[:5])}): it "
        "built tensors, probably the module itself, only to count them. That allocates every "
        "weight (38.6 million numbers here); compute the count from the arguments with "
        "arithmetic instead"))
