"""Spec for 17-lora: low-rank adapters, appendix E of "Build a Large Language Model (From Scratch)".

Run by `./kata check 17-lora`. Code is reached only through the `candidate` and `reference`
fixtures. The models adapted are the reference's GPTModel (12-gpt) in tiny configurations and
small drawn MLPs of nested nn.Sequentials, their weights drawn from a seed, in float64 wherever
values are compared. Adapters are checked with A and B set by the spec (B non-zero), so a wrong
formula shows; at initialisation (B zero) an adapted model must compute exactly, bit for bit,
what the base model computed.

Every check fails with a message written for the learner, so pytest's assertion rewriting, which
would append its own introspection, is off for this module: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st
from torch import Tensor, nn

from grader.harness import Mistake, assert_matches, assert_module_grads_match
from grader.strategies import randn, seeds

pytestmark = pytest.mark.rung("17-lora")

LAYER, ADAPTED, MERGED = "LoRALayer", "LinearWithLoRA", "LinearWithLoRAMerged"
REPLACE, FREEZE, MERGE = "replace_linear_with_lora", "freeze_and_add_lora", "merge_lora"
COUNT, CLOSED_FORM = "count_trainable_parameters", "lora_parameter_count"

# A merged model and the adapted one compute the same numbers in another order (one matmul
# against two): in float64 only rounding may separate them.
FLOAT64_ROUNDING = {"rtol": 1e-9, "atol": 1e-12}


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


def worst(got: Tensor, expected: Tensor) -> str:
    """The worst element of two same-shaped tensors, in words."""
    if got.shape != expected.shape:
        return f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
    diff = (got.double() - expected.double()).abs()
    if diff.numel() == 0:
        return "no elements"
    index = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
    return (f"worst element at {index}: got {got[index].item():.6g}, expected "
            f"{expected[index].item():.6g} (shape {tuple(got.shape)})")


# --- models -------------------------------------------------------------------------------------


def gpt_cfg(vocab_size: int = 19, emb_dim: int = 8, n_layers: int = 1, context: int = 8,
            qkv_bias: bool = False) -> dict[str, Any]:
    return {"vocab_size": vocab_size, "context_length": context, "emb_dim": emb_dim,
            "n_heads": 2, "n_layers": n_layers, "drop_rate": 0.0, "qkv_bias": qkv_bias}


def tiny_gpt(reference: Any, cfg: dict[str, Any], seed: int,
             dtype: torch.dtype = torch.float64) -> nn.Module:
    """The reference GPTModel of `cfg`, its weights drawn from `seed`, in eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = reference.GPTModel(cfg)
    return model.to(dtype=dtype).eval()


def describe_gpt(cfg: dict[str, Any]) -> str:
    return (f"a tiny GPTModel (vocab {cfg['vocab_size']}, emb_dim {cfg['emb_dim']}, "
            f"{cfg['n_layers']} layer(s), qkv_bias {cfg['qkv_bias']})")


def gpt_ids(cfg: dict[str, Any], seed: int, B: int = 2, T: int = 5) -> Tensor:
    generator = torch.Generator().manual_seed(seed + 7)
    return torch.randint(0, cfg["vocab_size"], (B, T), generator=generator)


@dataclass(frozen=True)
class Net:
    """A drawn MLP: Linear layers (widths), some of them nested one Sequential deeper."""

    widths: tuple[int, ...]
    nested: tuple[bool, ...]
    bias: bool
    seed: int

    def build(self) -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            layers: list[nn.Module] = []
            for i, (d_in, d_out) in enumerate(zip(self.widths, self.widths[1:], strict=False)):
                linear = nn.Linear(d_in, d_out, bias=self.bias)
                if self.nested[i]:
                    layers.append(nn.Sequential(nn.LayerNorm(d_in), linear))
                else:
                    layers.append(linear)
                layers.append(nn.Tanh())
            net = nn.Sequential(*layers)
        return net.double()

    def x(self) -> Tensor:
        return randn((3, self.widths[0]), self.seed + 1, torch.float64, torch.device("cpu"))

    def describe(self) -> str:
        return (f"an MLP of widths {list(self.widths)} (bias {self.bias}), the Linears marked "
                f"{['nested' if n else 'top' for n in self.nested]}")


@st.composite
def nets(draw: st.DrawFn) -> Net:
    widths = tuple(draw(st.lists(st.integers(1, 6), min_size=2, max_size=5)))
    nested = tuple(draw(st.lists(st.booleans(), min_size=len(widths) - 1,
                                 max_size=len(widths) - 1)))
    return Net(widths, nested, draw(st.booleans()), draw(seeds()))


# Nested first and last, a plain layer between: separates recursion from top-level-only.
NESTED_NET = Net(widths=(4, 5, 3, 6), nested=(True, False, True), bias=True, seed=3)


def linear_names(model: nn.Module) -> list[str]:
    return [name for name, module in model.named_modules() if type(module) is nn.Linear]


def is_adapter(module: nn.Module) -> bool:
    return isinstance(getattr(module, "linear", None), nn.Module) and \
        isinstance(getattr(module, "lora", None), nn.Module)


# --- LoRA cases ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """An adapter's shape: in and out features, rank, alpha, leading dims of x, a seed."""

    in_dim: int
    out_dim: int
    rank: int
    alpha: float
    lead: tuple[int, ...]
    bias: bool
    seed: int
    dtype: torch.dtype = torch.float64  # float32 in one example each: no dtype is the probe

    def x(self) -> Tensor:
        return randn((*self.lead, self.in_dim), self.seed, self.dtype, torch.device("cpu"))

    def A(self) -> Tensor:
        return randn((self.in_dim, self.rank), self.seed + 1, self.dtype, torch.device("cpu"))

    def B(self) -> Tensor:
        return randn((self.rank, self.out_dim), self.seed + 2, self.dtype, torch.device("cpu"))

    def linear(self) -> nn.Linear:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed + 3)
            linear = nn.Linear(self.in_dim, self.out_dim, bias=self.bias)
        return linear.to(self.dtype)

    def describe(self, what: str) -> str:
        dtype = "" if self.dtype == torch.float64 else f" ({self.dtype})"
        return (f"{what} with in_dim {self.in_dim}, out_dim {self.out_dim}, rank {self.rank}, "
                f"alpha {self.alpha} (bias {self.bias}) on x of shape "
                f"{(*self.lead, self.in_dim)}{dtype}, A and B set to random values")


@st.composite
def cases(draw: st.DrawFn) -> Case:
    return Case(in_dim=draw(st.integers(1, 6)), out_dim=draw(st.integers(1, 6)),
                rank=draw(st.integers(1, 4)), alpha=draw(st.sampled_from([0.5, 1.0, 2.0, 8.0])),
                lead=tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))),
                bias=draw(st.booleans()), seed=draw(seeds()))


# in != out, rank > 1, alpha neither 1 nor rank: every classic formula mistake shows
TYPICAL = Case(in_dim=5, out_dim=3, rank=2, alpha=3.0, lead=(2, 4), bias=True, seed=1)
TYPICAL32 = Case(in_dim=5, out_dim=3, rank=2, alpha=3.0, lead=(2, 4), bias=True, seed=1,
                 dtype=torch.float32)
# in == out, so a transposed update has the right shape and only its values are wrong
SQUARE = Case(in_dim=4, out_dim=4, rank=3, alpha=2.0, lead=(3,), bias=True, seed=2)


def set_lora(module: nn.Module, A: Tensor, B: Tensor, what: str) -> None:
    """Copy A and B into a LoRALayer (or an adapter's .lora), after checking their shapes."""
    lora = module.lora if hasattr(module, "lora") else module
    for name, value in (("A", A), ("B", B)):
        param = getattr(lora, name, None)
        require(isinstance(param, nn.Parameter), (
            f"{what}: {'lora.' if lora is not module else ''}{name} is {kind(param)}; it must be "
            f"an nn.Parameter of shape {tuple(value.shape)}."))
        require(tuple(param.shape) == tuple(value.shape), (
            f"{what}: {name} has shape {tuple(param.shape)}; expected {tuple(value.shape)} "
            "(A is (in_dim, rank), B is (rank, out_dim))."))
        with torch.no_grad():
            param.data = value.clone().to(param.device)


def make_layer(module: Any, case: Case) -> nn.Module:
    layer = module.LoRALayer(case.in_dim, case.out_dim, case.rank, case.alpha)
    set_lora(layer, case.A(), case.B(), case.describe(LAYER))
    return layer


def make_adapter(module: Any, cls: str, case: Case) -> nn.Module:
    adapter = getattr(module, cls)(case.linear(), case.rank, case.alpha)
    set_lora(adapter, case.A(), case.B(), case.describe(cls))
    return adapter


def update_mistakes(case: Case, base: Callable[[Tensor], Tensor]) -> tuple[Mistake, ...]:
    """What a LoRA output with one classic mistake would be: base(x) plus a wrong update."""
    A, B, alpha, rank = case.A(), case.B(), case.alpha, case.rank
    return (
        Mistake("the update was scaled by alpha / rank; the book's LoRALayer scales by alpha "
                "alone", lambda x: base(x) + alpha / rank * (x @ A.to(x) @ B.to(x))),
        Mistake("alpha was left out: the update is alpha * (x @ A @ B)",
                lambda x: base(x) + x @ A.to(x) @ B.to(x)),
        Mistake("the update was transposed: x @ (A @ B).T only has the right shape when "
                "in_dim == out_dim; the update is x @ A @ B",
                lambda x: base(x) + alpha * (x @ (A.to(x) @ B.to(x)).T)),
    )


# --- LoRALayer ----------------------------------------------------------------------------------


@pytest.mark.task(LAYER, category="shape")
def test_lora_layer_has_A_and_B_of_the_books_shapes(candidate):
    """A is an (in_dim, rank) parameter, B a (rank, out_dim) parameter of zeros, alpha kept."""
    layer = candidate.LoRALayer(5, 3, 2, 4.0)
    names = sorted(name for name, _ in layer.named_parameters())
    require(names == ["A", "B"], (
        f"LoRALayer(in_dim=5, out_dim=3, rank=2, alpha=4.0) has the parameters {names}; it must "
        "have exactly A and B (nn.Parameter attributes self.A and self.B)."))
    require(tuple(layer.A.shape) == (5, 2) and tuple(layer.B.shape) == (2, 3), (
        f"LoRALayer(5, 3, rank=2, ...): A has shape {tuple(layer.A.shape)} and B "
        f"{tuple(layer.B.shape)}; the book's are A (in_dim, rank) = (5, 2), B (rank, out_dim) "
        "= (2, 3)."))
    require(bool((layer.B == 0).all()), (
        f"LoRALayer(5, 3, rank=2, ...): B starts at {layer.B.detach().tolist()}; it must start "
        "at zeros so that the adapted model computes what the base model did."))
    require(getattr(layer, "alpha", None) == 4.0, (
        f"LoRALayer(5, 3, 2, alpha=4.0).alpha is {kind(getattr(layer, 'alpha', None))}; keep "
        "alpha as self.alpha (merging reads it)."))
    out = layer(torch.zeros(2, 7, 5))
    require(isinstance(out, Tensor) and tuple(out.shape) == (2, 7, 3), (
        f"LoRALayer(5, 3, 2, 4.0) on x of shape (2, 7, 5) returned {kind(out)}; expected shape "
        "(2, 7, 3): (..., in_dim) -> (..., out_dim)."))


A_INIT_MISTAKES = (
    ("A starts at zeros: with A and B both zero neither ever gets a gradient; initialise A "
     "with torch.nn.init.kaiming_uniform_(A, a=math.sqrt(5))",
     lambda A, case: bool((A == 0).all())),
    ("A was drawn from a standard normal (torch.randn); the book draws it uniform with "
     "kaiming_uniform_(A, a=math.sqrt(5))",
     lambda A, case: math.isclose(A.std().item(), 1.0, rel_tol=0.15)
     and A.abs().max().item() > 2.5 * A.std().item()),
    ("A's bound was taken from in_dim; kaiming_uniform_ on an (in_dim, rank) tensor takes "
     "fan_in from the second dimension, rank",
     lambda A, case: math.isclose(A.abs().max().item(), 1 / math.sqrt(case[0]), rel_tol=0.05)),
)


@pytest.mark.task(LAYER, category="values")
@pytest.mark.parametrize("in_dim, out_dim, rank", [(300, 7, 8), (40, 3, 50), (1000, 5, 2)])
def test_A_is_initialised_uniform_as_the_book_does(candidate, in_dim, out_dim, rank):
    """kaiming_uniform_(A, a=sqrt(5)) on (in_dim, rank): uniform on +-1/sqrt(rank) (fan_in = rank,
    gain sqrt(2 / (1 + 5)), bound gain * sqrt(3 / fan_in)): checked on its range, its spread and
    the share of entries in the outer half of it, on several thousand seeded draws."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(in_dim + rank)
        layer = candidate.LoRALayer(in_dim, out_dim, rank, 1.0)
    A = layer.A.detach().double()
    bound = 1 / math.sqrt(rank)
    top = A.abs().max().item()
    std = A.std().item()
    outer = (A.abs() > bound / 2).double().mean().item()
    ok = (top <= bound * (1 + 1e-6) and top >= 0.95 * bound
          and math.isclose(std, bound / math.sqrt(3), rel_tol=0.1) and abs(outer - 0.5) < 0.08)
    if ok:
        return
    message = (f"LoRALayer({in_dim}, {out_dim}, rank={rank}, alpha=1.0): A should be uniform on "
               f"[-{bound:.4g}, {bound:.4g}] (1/sqrt(rank)), with std {bound / math.sqrt(3):.4g} "
               f"and half its entries beyond {bound / 2:.4g}; got max |A| {top:.4g}, std "
               f"{std:.4g}, {outer:.0%} beyond half the bound.")
    for description, matches in A_INIT_MISTAKES:
        if matches(A, (in_dim, rank)):
            message += f" Likely mistake: {description}."
            break
    raise AssertionError(message)


@pytest.mark.task(LAYER, category="values")
@given(case=cases())
@example(case=SQUARE)
@example(case=TYPICAL)
@example(case=TYPICAL32)
def test_lora_layer_computes_alpha_x_A_B(candidate, case):
    """forward(x) = alpha * (x @ A @ B) over any leading dims, for A and B set by the spec."""
    layer = make_layer(candidate, case)
    A, B = case.A(), case.B()
    x = case.x()
    assert_matches(layer(x), lambda x: case.alpha * (x @ A.to(x) @ B.to(x)), x,
                   what=case.describe(LAYER), mistakes=update_mistakes(case, torch.zeros_like))


@pytest.mark.task(LAYER, category="grad")
def test_lora_layer_gradients_of_A_B_and_x(candidate, reference):
    """The gradients of x, A and B are those of alpha * (x @ A @ B)."""
    for case in (TYPICAL, SQUARE):
        assert_module_grads_match(make_layer(candidate, case), make_layer(reference, case),
                                  case.x(), what=case.describe(LAYER))


# --- LinearWithLoRA and LinearWithLoRAMerged ----------------------------------------------------


def check_adapter_structure(module: Any, cls: str) -> None:
    linear = nn.Linear(5, 3).double()
    adapter = getattr(module, cls)(linear, 2, 4.0)
    what = f"{cls}(nn.Linear(5, 3), rank=2, alpha=4.0)"
    require(getattr(adapter, "linear", None) is linear, (
        f"{what}.linear is {kind(getattr(adapter, 'linear', None))}, not the Linear it was "
        "given: keep that very module as self.linear (no copy, so its weights stay shared)."))
    lora = getattr(adapter, "lora", None)
    require(isinstance(lora, nn.Module) and isinstance(getattr(lora, "A", None), nn.Parameter)
            and isinstance(getattr(lora, "B", None), nn.Parameter), (
        f"{what}.lora is {kind(lora)}; it must be a LoRALayer with parameters A and B."))
    require(tuple(lora.A.shape) == (5, 2) and tuple(lora.B.shape) == (2, 3), (
        f"{what}: lora.A has shape {tuple(lora.A.shape)} and lora.B {tuple(lora.B.shape)}; "
        "expected (in_features, rank) = (5, 2) and (rank, out_features) = (2, 3)."))
    require(getattr(lora, "alpha", None) == 4.0, (
        f"{what}: lora.alpha is {kind(getattr(lora, 'alpha', None))}; expected 4.0."))
    names = sorted(name for name, _ in adapter.named_parameters())
    require(names == ["linear.bias", "linear.weight", "lora.A", "lora.B"], (
        f"{what} has the parameters {names}; expected linear.weight, linear.bias, lora.A and "
        "lora.B and nothing else."))


def check_adapter_output(module: Any, cls: str, case: Case) -> None:
    adapter = make_adapter(module, cls, case)
    module_ = case.linear()
    A, B = case.A(), case.B()
    x = case.x()

    def linear(x: Tensor) -> Tensor:  # in x's dtype: the closed forms also run in float64
        bias = None if module_.bias is None else module_.bias.to(x)
        return F.linear(x, module_.weight.to(x), bias)

    def update(x: Tensor) -> Tensor:
        return case.alpha * (x @ A.to(x) @ B.to(x))

    mistakes = (
        Mistake("the linear's bias was dropped: the base output is linear(x), bias included",
                lambda x: F.linear(x, module_.weight.to(x)) + update(x)),
        Mistake("the base linear's output was added twice: call self.linear(x) once",
                lambda x: 2 * linear(x) + update(x)),
        *update_mistakes(case, linear),
        Mistake("the update was left out of the output: linear(x) + alpha * (x @ A @ B)",
                linear),
    )
    with torch.no_grad():
        assert_matches(adapter(x), lambda x: linear(x) + update(x), x,
                       what=case.describe(cls), mistakes=mistakes)


@pytest.mark.task(ADAPTED, category="structure")
def test_linear_with_lora_keeps_the_linear_and_adds_a_lora_layer(candidate):
    """.linear is the Linear handed in, .lora a LoRALayer of its features; nothing else."""
    check_adapter_structure(candidate, ADAPTED)


@pytest.mark.task(ADAPTED, category="values")
@given(case=cases())
@example(case=SQUARE)
@example(case=TYPICAL)
@example(case=TYPICAL32)
def test_linear_with_lora_adds_the_update_to_the_linear(candidate, case):
    """forward(x) = linear(x) + alpha * (x @ A @ B), bias included."""
    check_adapter_output(candidate, ADAPTED, case)


@pytest.mark.task(ADAPTED, category="properties")
def test_linear_with_lora_at_init_is_the_linear_and_alpha_scales_the_update(candidate):
    """B = 0: exactly linear(x). With B set: alpha = 0 gives linear(x); doubling alpha doubles
    the change."""
    case = TYPICAL
    x = case.x()
    linear = case.linear()
    with torch.no_grad():
        fresh = candidate.LinearWithLoRA(case.linear(), case.rank, case.alpha).double()
        got, expected = fresh(x), linear(x)
        require(torch.equal(got, expected), (
            f"{case.describe(ADAPTED)}, freshly built (B zeros): the output must equal "
            f"linear(x) exactly; {worst(got, expected)}."))
        deltas = []
        for alpha in (0.0, case.alpha, 2 * case.alpha):
            adapter = make_adapter(candidate, ADAPTED, Case(**{**case.__dict__, "alpha": alpha}))
            deltas.append(adapter(x) - expected)
        require(torch.allclose(deltas[0], torch.zeros_like(deltas[0]), **FLOAT64_ROUNDING), (
            f"{case.describe(ADAPTED)} with alpha = 0 must compute linear(x); the change is "
            f"not zero: {worst(deltas[0], torch.zeros_like(deltas[0]))}."))
        require(torch.allclose(deltas[2], 2 * deltas[1], **FLOAT64_ROUNDING), (
            f"{case.describe(ADAPTED)}: doubling alpha ({case.alpha} -> {2 * case.alpha}) must "
            f"double the change from linear(x); {worst(deltas[2], 2 * deltas[1])}."))


@pytest.mark.task(ADAPTED, category="grad")
def test_linear_with_lora_gradients(candidate, reference):
    """The gradients of x, the linear's weight and bias, A and B are the closed form's."""
    for case in (TYPICAL, SQUARE):
        assert_module_grads_match(make_adapter(candidate, ADAPTED, case),
                                  make_adapter(reference, ADAPTED, case), case.x(),
                                  what=case.describe(ADAPTED))


@pytest.mark.task(MERGED, category="structure")
def test_merged_variant_has_the_same_attributes(candidate):
    """.linear is the Linear handed in, .lora a LoRALayer of its features; nothing else."""
    check_adapter_structure(candidate, MERGED)


@pytest.mark.task(MERGED, category="values")
@given(case=cases())
@example(case=SQUARE)
@example(case=TYPICAL)
@example(case=TYPICAL32)
def test_merged_variant_computes_what_linear_with_lora_does(candidate, case):
    """forward(x) = F.linear(x, W + alpha * (A @ B).T, bias) = linear(x) + alpha * x @ A @ B."""
    check_adapter_output(candidate, MERGED, case)


@pytest.mark.task(MERGED, category="grad")
def test_merged_variant_gradients(candidate, reference):
    """The gradients of x, the linear's weight and bias, A and B are the closed form's."""
    for case in (TYPICAL, SQUARE):
        assert_module_grads_match(make_adapter(candidate, MERGED, case),
                                  make_adapter(reference, ADAPTED, case), case.x(),
                                  what=case.describe(MERGED))


def check_fresh_on_every_call(module: Any, cls: str) -> None:
    """Call the module, set new A and B, call it again: the second output must come from the
    new A and B (a module that keeps its update or merged weight from an earlier call does not),
    in training and in eval mode."""
    case = TYPICAL
    first = Case(**{**case.__dict__, "seed": case.seed + 10})
    x = case.x()
    A0, B0, A, B = first.A(), first.B(), case.A(), case.B()
    linear = case.linear()
    base: Callable[[Tensor], Any] = (lambda x: 0.0) if cls == LAYER else linear
    for mode in ("train", "eval"):
        layer = (module.LoRALayer(case.in_dim, case.out_dim, case.rank, case.alpha) if cls == LAYER
                 else getattr(module, cls)(case.linear(), case.rank, case.alpha))
        layer.train(mode == "train")
        what = (f"{case.describe(cls)}, in {mode} mode, called once with other A and B, then "
                "again after A and B were set")
        set_lora(layer, A0, B0, what)
        with torch.no_grad():
            layer(x)
        set_lora(layer, A, B, what)
        with torch.no_grad():
            got = layer(x)
        stale = Mistake("the update (or the merged weight) was kept from an earlier call; "
                        "compute it from the current A and B on every call",
                        lambda x: base(x) + case.alpha * (x @ A0 @ B0))
        assert_matches(got, lambda x: base(x) + case.alpha * (x @ A @ B), x, what=what,
                       mistakes=(stale,))


@pytest.mark.task(LAYER, category="values")
def test_lora_layer_reads_A_and_B_on_every_call(candidate):
    """A second call after A and B change uses the new A and B (train and eval mode)."""
    check_fresh_on_every_call(candidate, LAYER)


@pytest.mark.task(ADAPTED, category="values")
def test_linear_with_lora_reads_A_and_B_on_every_call(candidate):
    """A second call after A and B change uses the new A and B (train and eval mode)."""
    check_fresh_on_every_call(candidate, ADAPTED)


@pytest.mark.task(MERGED, category="values")
def test_merged_variant_merges_on_every_call(candidate):
    """A second call after A and B change merges the new A and B (train and eval mode)."""
    check_fresh_on_every_call(candidate, MERGED)


# --- replace_linear_with_lora -------------------------------------------------------------------


def replacement_problem(before: dict[str, nn.Module], model: nn.Module, what: str) -> str:
    """Why `model` is not `before` with every Linear adapted (names -> modules before), or ''."""
    def at(name: str) -> nn.Module | None:  # walk the attributes (a dotted attribute is no path)
        try:
            return model.get_submodule(name)
        except AttributeError:
            return None

    after = {name: at(name) for name in before}
    linears = [name for name, module in before.items() if type(module) is nn.Linear]
    missed = [name for name in linears if not is_adapter(after[name] or nn.Identity())]
    if missed:
        top = [name for name in linears if "." not in name]
        nested = [name for name in linears if "." in name]
        hint = ""
        if nested and set(missed) == set(nested) and set(top) - set(missed):
            hint = (" Likely mistake: only the model's direct children were replaced; recurse "
                    "into every child that is not an nn.Linear.")
        elif len(missed) == len(linears):
            hint = " None was replaced: setattr(model, name, LinearWithLoRA(...)) swaps a child."
        return (f"{what}: {len(missed)} of {len(linears)} nn.Linear modules were not replaced by "
                f"an adapter: {', '.join(missed[:5])}.{hint}")
    for name in linears:
        inner = after[name].linear
        if inner is not before[name] and not is_adapter(inner):
            return (f"{what}: {name}.linear is not the nn.Linear that was there; the adapter "
                    "must wrap that very module, its weights untouched.")
    for name, module in before.items():
        if type(module) is not nn.Linear and name and after.get(name) is not module:
            return (f"{what}: {name} ({type(module).__name__}) is no longer the module it was "
                    f"(now {kind(after.get(name))}); only nn.Linear modules get an adapter, "
                    "every other module stays as it is.")
    adapters = [module for module in model.modules() if is_adapter(module)]
    if len(adapters) != len(linears):
        return (f"{what}: the model has {len(adapters)} adapters for its {len(linears)} "
                "nn.Linear modules; each Linear gets exactly one.")
    return ""


@pytest.mark.task(REPLACE, category="structure")
@pytest.mark.parametrize("n_layers, qkv_bias", [(1, False), (2, True)])
def test_every_linear_of_a_gpt_is_replaced(candidate, reference, n_layers, qkv_bias):
    """Every nn.Linear of a GPTModel (4 in attention and 2 in the feed-forward per block, and
    out_head) becomes an adapter under its own name, wrapping it; embeddings, norms and dropout
    stay."""
    cfg = gpt_cfg(n_layers=n_layers, qkv_bias=qkv_bias)
    model = tiny_gpt(reference, cfg, seed=n_layers)
    before = dict(model.named_modules())
    candidate.replace_linear_with_lora(model, 2, 4.0)
    problem = replacement_problem(before, model, f"replace_linear_with_lora({describe_gpt(cfg)}, "
                                                 "rank=2, alpha=4.0)")
    require(not problem, problem)


@pytest.mark.task(REPLACE, category="structure")
@given(net=nets())
@example(net=NESTED_NET)
def test_every_linear_of_a_drawn_mlp_is_replaced(candidate, net):
    """Nested Sequentials included, at any depth; LayerNorm and Tanh stay."""
    model = net.build()
    before = dict(model.named_modules())
    candidate.replace_linear_with_lora(model, 2, 1.0)
    problem = replacement_problem(before, model,
                                  f"replace_linear_with_lora({net.describe()}, rank=2, alpha=1.0)")
    require(not problem, problem)


@pytest.mark.task(REPLACE, category="properties")
@given(net=nets(), seed=seeds())
@example(net=NESTED_NET, seed=0)
def test_an_adapted_model_computes_exactly_what_the_base_did(candidate, reference, net, seed):
    """B starts at zero, so the adapted model's outputs equal the base model's bit for bit (a
    GPTModel and a drawn MLP)."""
    cfg = gpt_cfg(n_layers=1 + seed % 2, qkv_bias=bool(seed % 3))
    for model, x, what in ((net.build(), net.x(), net.describe()),
                           (tiny_gpt(reference, cfg, seed), gpt_ids(cfg, seed),
                            describe_gpt(cfg))):
        with torch.no_grad():
            expected = model(x)
            candidate.replace_linear_with_lora(model, 3, 2.0)
            got = model.double()(x)  # the adapters' A and B are made float32, as the book's
        require(isinstance(got, Tensor) and torch.equal(got, expected), (
            f"replace_linear_with_lora({what}, rank=3, alpha=2.0): freshly adapted, the model "
            f"must compute exactly what it did (B is zero); {worst(got, expected)}."))


# --- freeze_and_add_lora ------------------------------------------------------------------------


def trainable_problem(model: nn.Module, what: str) -> str:
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    lora = {name for name, _ in model.named_parameters()
            if name.endswith(("lora.A", "lora.B"))}
    if trainable == lora and lora:
        return ""
    base = sorted(trainable - lora)
    frozen_lora = sorted(lora - trainable)
    if base and not frozen_lora:
        return (f"{what}: the base model's parameters are still trainable ({', '.join(base[:4])}"
                f", {len(base)} in all). Likely mistake: the base model was not frozen; set "
                "requires_grad = False on every parameter before adding the adapters.")
    if frozen_lora and not base:
        return (f"{what}: {len(frozen_lora)} of the {len(lora)} adapter parameters are frozen "
                f"({', '.join(frozen_lora[:4])}). Likely mistake: the adapters were frozen too; "
                "freeze the model first, then replace its Linears, so A and B stay trainable.")
    return (f"{what}: the trainable parameters must be exactly the adapters' A and B; trainable "
            f"base parameters: {', '.join(base[:4]) or 'none'}; frozen adapter parameters: "
            f"{', '.join(frozen_lora[:4]) or 'none'}.")


@pytest.mark.task(FREEZE, category="structure")
@pytest.mark.parametrize("seed", [0, 1])
def test_only_A_and_B_are_trainable(candidate, reference, seed):
    """The book's recipe: every base parameter frozen, every adapter's A and B trainable, the
    model returned (adapted in place)."""
    cfg = gpt_cfg(n_layers=1 + seed, qkv_bias=bool(seed))
    model = tiny_gpt(reference, cfg, seed)
    what = f"freeze_and_add_lora({describe_gpt(cfg)}, rank=2, alpha=4.0)"
    result = candidate.freeze_and_add_lora(model, 2, 4.0)
    require(result is model, f"{what} returned {kind(result)}; return the model it adapted.")
    problem = trainable_problem(model, what)
    require(not problem, problem)
    adapters = sum(1 for module in model.modules() if is_adapter(module))
    expected = len(linear_names(tiny_gpt(reference, cfg, seed)))
    require(adapters == expected, (
        f"{what}: the model has {adapters} adapters; expected one per nn.Linear, {expected}."))


@pytest.mark.task(FREEZE, category="training")
def test_a_training_step_moves_only_A_and_B(candidate, reference):
    """Two AdamW steps on the adapted GPT: every A and B moves (B on the first step, A once B is
    no longer zero); every base weight, embedding and LayerNorm parameter stays bit-identical."""
    cfg = gpt_cfg(n_layers=1)
    model = tiny_gpt(reference, cfg, seed=4).train()
    base = {name: p.detach().clone() for name, p in model.named_parameters()}
    what = f"freeze_and_add_lora({describe_gpt(cfg)}, rank=2, alpha=4.0)"
    model = candidate.freeze_and_add_lora(model, 2, 4.0)
    require(isinstance(model, nn.Module), f"{what} returned {kind(model)}; return the model.")
    model = model.double()
    start = {name: p.detach().clone() for name, p in model.named_parameters()}
    params = [p for p in model.parameters() if p.requires_grad]
    require(len(params) > 0, (f"{what}: no parameter is trainable. Likely mistake: the adapters "
                              "were frozen too; freeze the model first, then replace its "
                              "Linears, so A and B stay trainable."))
    optimizer = torch.optim.AdamW(params, lr=0.01, weight_decay=0.1)
    ids = gpt_ids(cfg, 4, B=2, T=6)
    for _ in range(2):
        optimizer.zero_grad()
        logits = model(ids[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten())
        loss.backward()
        optimizer.step()
    moved_base = []
    for name, p in model.named_parameters():
        if name.endswith(("lora.A", "lora.B")):
            continue
        base_name = name.replace(".linear.", ".") if ".linear." in name else name
        original = base.get(base_name, start[name])
        if not torch.equal(p.detach(), original):
            moved_base.append(name)
    require(not moved_base, (
        f"{what}, then two AdamW steps: base parameters moved: {', '.join(moved_base[:4])}. "
        "Only the adapters' A and B may learn; freeze every base parameter."))
    still = [name for name, p in model.named_parameters()
             if name.endswith(("lora.A", "lora.B")) and torch.equal(p.detach(), start[name])]
    if still:
        message = (f"{what}, then two AdamW steps: the adapter parameters "
                   f"{', '.join(still[:4])} ({len(still)} in all) did not move.")
        zero_A = [name for name, p in model.named_parameters()
                  if name.endswith("lora.A") and bool((start[name] == 0).all())]
        if zero_A:
            message += (" Likely mistake: A starts at zeros: with A and B both zero neither ever "
                        "gets a gradient; initialise A with kaiming_uniform_.")
        raise AssertionError(message)


# --- merge_lora ---------------------------------------------------------------------------------


def adapt_by_hand(module: Any, model: nn.Module, rank: int, alpha: float, seed: int,
                  cls: str = ADAPTED) -> dict[str, tuple[Tensor, Tensor, float]]:
    """Put the learner's adapter class on every Linear (the spec's own walk) and set A and B to
    seeded random values; returns name -> (A, B, alpha)."""
    values: dict[str, tuple[Tensor, Tensor, float]] = {}
    for i, name in enumerate(linear_names(model)):
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        linear = getattr(parent, child)
        A = randn((linear.in_features, rank), seed + 2 * i, torch.float64, torch.device("cpu"))
        B = randn((rank, linear.out_features), seed + 2 * i + 1, torch.float64,
                  torch.device("cpu")) / 4
        adapter = getattr(module, cls)(linear, rank, alpha)
        set_lora(adapter, A, B, f"{cls}({name}, rank={rank}, alpha={alpha})")
        setattr(parent, child, adapter)
        values[name] = (A, B, alpha)
    return values


def merged_by_hand(base: nn.Module, values: dict[str, tuple[Tensor, Tensor, float]],
                   transpose: bool = True, with_alpha: bool = True) -> nn.Module:
    """The base model with each Linear's weight replaced by W + alpha * (A @ B).T."""
    merged = copy.deepcopy(base)
    with torch.no_grad():
        for name, (A, B, alpha) in values.items():
            linear = merged.get_submodule(name)
            update = A @ B
            linear.weight += (alpha if with_alpha else 1.0) * (update.T if transpose else update)
    return merged


def square_net(seed: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Sequential(nn.Linear(4, 4)))
    return net.double()


@pytest.mark.task(MERGE, category="values")
@pytest.mark.parametrize("kind_of_model", ["gpt", "square"])
def test_merged_model_computes_what_the_adapted_one_did(candidate, reference, kind_of_model):
    """Every adapter's weight becomes W + alpha * (A @ B).T: the merged model's outputs are the
    adapted model's (float64, rounding only), on a GPTModel and on an MLP of square Linears
    (where a missing transpose has the right shape)."""
    if kind_of_model == "gpt":
        cfg = gpt_cfg(n_layers=2, qkv_bias=True)
        base, x, what = tiny_gpt(reference, cfg, 9), gpt_ids(cfg, 9), describe_gpt(cfg)
    else:
        base, x = square_net(9), randn((3, 4), 9, torch.float64, torch.device("cpu"))
        what = "an MLP of two nn.Linear(4, 4), one nested"
    model = copy.deepcopy(base)
    values = adapt_by_hand(candidate, model, 2, 3.0, seed=9)
    what = f"merge_lora({what} adapted with rank 2, alpha 3.0, A and B set)"
    expected_model = merged_by_hand(base, values)
    merged = candidate.merge_lora(model)
    require(isinstance(merged, nn.Module), f"{what} returned {kind(merged)}; return the model.")
    mistakes = (
        Mistake("the update was added untransposed: nn.Linear's weight is (out, in) and A @ B "
                "is (in, out); add alpha * (A @ B).T",
                lambda x: merged_by_hand(base, values, transpose=False)(x)),
        Mistake("alpha was left out of the merged weight: W + alpha * (A @ B).T",
                lambda x: merged_by_hand(base, values, with_alpha=False)(x)),
        Mistake("the adapters were not merged: the weights are the base model's", base),
    )
    with torch.no_grad():
        assert_matches(merged(x), expected_model, x, what=what, mistakes=mistakes)


@pytest.mark.task(MERGE, category="structure")
@pytest.mark.parametrize("cls", [ADAPTED, MERGED])
def test_merged_model_is_plain_again(candidate, reference, cls):
    """No LoRA module left: each adapter is a plain nn.Linear of the base's dtype, with the
    base's bias; as many parameters as the base model."""
    cfg = gpt_cfg(n_layers=1, qkv_bias=True)
    base = tiny_gpt(reference, cfg, 5)
    model = copy.deepcopy(base)
    values = adapt_by_hand(candidate, model, 2, 2.0, seed=5, cls=cls)
    what = f"merge_lora({describe_gpt(cfg)} adapted with {cls}, rank 2)"
    merged = candidate.merge_lora(model)
    require(merged is model, f"{what} returned {kind(merged)}; merge in place and return model.")
    left = [name for name, module in merged.named_modules()
            if is_adapter(module) or hasattr(module, "A") or hasattr(module, "B")]
    require(not left, (f"{what}: LoRA modules are left in the merged model: {', '.join(left[:4])}"
                       ". Replace each adapter by a plain nn.Linear under its name."))
    n_base = sum(p.numel() for p in base.parameters())
    n_merged = sum(p.numel() for p in merged.parameters())
    require(n_merged == n_base, (f"{what}: the merged model has {n_merged} parameters; the "
                                 f"base has {n_base}: merging adds none."))
    for name in values:
        module = merged.get_submodule(name)
        require(type(module) is nn.Linear, (f"{what}: {name} is {kind(module)}; it must be a "
                                            "plain nn.Linear."))
        original = base.get_submodule(name)
        require(module.weight.dtype == original.weight.dtype, (
            f"{what}: {name}.weight is {module.weight.dtype}; the base's is "
            f"{original.weight.dtype}: keep the dtype."))
        if original.bias is not None:
            bias = module.bias
            change = "it is gone" if bias is None else worst(bias.detach(), original.bias)
            require(bias is not None and torch.equal(bias.detach(), original.bias), (
                f"{what}: {name}.bias changed: {change}. Likely mistake: the bias was changed; "
                "the update goes into the weight only, the bias stays as it was."))


@pytest.mark.task(MERGE, category="properties")
def test_merging_a_fresh_adapter_gives_back_the_base_weights(candidate, reference):
    """B = 0: merging an untrained adapter gives the base weights exactly."""
    cfg = gpt_cfg(n_layers=1)
    base = tiny_gpt(reference, cfg, 6)
    model = copy.deepcopy(base)
    for name in linear_names(model):
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, candidate.LinearWithLoRA(getattr(parent, child), 2, 5.0).double())
    merged = candidate.merge_lora(model)
    for name, p in base.named_parameters():
        got = dict(merged.named_parameters()).get(name)
        require(isinstance(got, Tensor) and torch.equal(got.detach(), p), (
            f"merge_lora({describe_gpt(cfg)} freshly adapted, B zeros): {name} must be the "
            f"base's exactly; {worst(got.detach(), p) if isinstance(got, Tensor) else 'missing'}."))


# --- counts -------------------------------------------------------------------------------------


COUNT_TYPE = (" as a Python int. Likely mistake: the count was summed in a tensor; add up "
              "p.numel() (ints), or return .item().")


def is_count(value: Any) -> bool:
    """A plain int (a tensor or a float compares equal to one, but is not a count)."""
    return isinstance(value, int) and not isinstance(value, bool)


@pytest.mark.task(COUNT, category="values")
@given(seed=seeds(), frozen=st.lists(st.booleans(), min_size=6, max_size=6))
@example(seed=0, frozen=[True, False, True, False, False, True])
def test_count_of_trainable_parameters(candidate, seed, frozen):
    """The entries of the parameters with requires_grad, frozen ones left out."""
    net = Net(widths=(3, 4, 2), nested=(True, False), bias=True, seed=seed).build()
    params = list(net.parameters())  # LayerNorm weight, bias; two Linears' weights, biases
    for p, off in zip(params, frozen, strict=True):
        p.requires_grad_(not off)
    expected = sum(p.numel() for p in params if p.requires_grad)
    got = candidate.count_trainable_parameters(net)
    if is_count(got) and got == expected:
        return
    message = (f"count_trainable_parameters(an MLP with {sum(p.numel() for p in params)} "
               f"parameters, {expected} of them trainable) returned {kind(got)}; expected "
               f"{expected}{COUNT_TYPE if isinstance(got, Tensor) else '.'}")
    if got == sum(p.numel() for p in params) and expected != got:
        message += (" Likely mistake: counted every parameter, frozen ones included; count only "
                    "those with p.requires_grad.")
    raise AssertionError(message)


def closed_form(cfg: dict[str, Any], rank: int) -> int:
    C, V, L = cfg["emb_dim"], cfg["vocab_size"], cfg["n_layers"]
    return rank * (L * (4 * 2 * C + 2 * 5 * C) + C + V)


COUNT_MISTAKES = (
    ("out_head was left out: it is an nn.Linear (emb_dim -> vocab_size) and gets an adapter too",
     lambda cfg, r: closed_form(cfg, r) - r * (cfg["emb_dim"] + cfg["vocab_size"])),
    ("each adapter was counted as a full in x out matrix; A and B have rank * (in + out) entries",
     lambda cfg, r: cfg["n_layers"] * (4 * cfg["emb_dim"] ** 2 + 8 * cfg["emb_dim"] ** 2)
     + cfg["emb_dim"] * cfg["vocab_size"]),
    ("the feed-forward Linears were counted emb_dim wide; their hidden width is 4 * emb_dim",
     lambda cfg, r: r * (cfg["n_layers"] * 12 * cfg["emb_dim"] + cfg["emb_dim"]
                         + cfg["vocab_size"])),
)


@pytest.mark.task(CLOSED_FORM, category="values")
@given(vocab_size=st.integers(2, 60), emb_dim=st.integers(2, 40), n_layers=st.integers(1, 4),
       rank=st.integers(1, 16))
@example(vocab_size=50257, emb_dim=768, n_layers=12, rank=16)
def test_lora_parameter_count_closed_form(candidate, vocab_size, emb_dim, n_layers, rank):
    """rank * (in + out) over every Linear of GPTModel(cfg): the count from the config alone."""
    cfg = gpt_cfg(vocab_size=vocab_size, emb_dim=emb_dim, n_layers=n_layers)
    cfg["n_heads"] = 1
    got = candidate.lora_parameter_count(dict(cfg), rank)
    expected = closed_form(cfg, rank)
    if is_count(got) and got == expected:
        return
    message = (f"lora_parameter_count({cfg}, rank={rank}) returned {kind(got)}; expected "
               f"{expected}{COUNT_TYPE if isinstance(got, Tensor) else '.'}")
    for description, compute in COUNT_MISTAKES:
        if got == compute(cfg, rank):
            message += f" Likely mistake: {description}."
            break
    raise AssertionError(message)


@pytest.mark.task(CLOSED_FORM, category="properties")
def test_lora_parameter_count_is_what_an_adapted_model_trains(candidate, reference):
    """For a built and adapted GPTModel the closed form equals the trainable count."""
    for cfg, rank in ((gpt_cfg(n_layers=2), 3), (gpt_cfg(vocab_size=11, emb_dim=6), 1)):
        model = reference.freeze_and_add_lora(tiny_gpt(reference, cfg, 0), rank, 1.0)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        got = candidate.lora_parameter_count(dict(cfg), rank)
        require(is_count(got) and got == trainable, (
            f"lora_parameter_count({cfg}, rank={rank}) returned {kind(got)}; the adapted model "
            f"trains {trainable} parameters."))


@pytest.mark.task(CLOSED_FORM, category="values")
def test_lora_parameter_count_takes_a_gpt_config(candidate, reference):
    """cfg may be 12's GPTConfig as well as the book's dict: the same count from either."""
    cfg = gpt_cfg(vocab_size=23, emb_dim=6, n_layers=2)
    what = f"lora_parameter_count(GPTConfig(**{cfg}), rank=3)"
    try:
        got = candidate.lora_parameter_count(reference.GPTConfig(**cfg), 3)
    except (TypeError, KeyError, AttributeError) as error:
        raise AssertionError(
            f"{what} raised {type(error).__name__}. Likely mistake: cfg was read as a dict "
            "(cfg[\"emb_dim\"]); it may also be a GPTConfig: read it with GPTConfig.of(cfg)."
        ) from None
    expected = closed_form(cfg, 3)
    require(is_count(got) and got == expected, (
        f"{what} returned {kind(got)}; expected {expected}, what the same config as a dict "
        "gives."))
