"""Spec for 12-gpt: the GPT model of chapter 4 of "Build a Large Language Model (From Scratch)".

Run by `./kata check 12-gpt`. Code is reached only through the `candidate` and `reference`
fixtures. Modules are compared in float64 with the reference's weights copied in by parameter
name, so two correct formulations (and two correct sets of 07/08 blocks) differ only by float64
rounding. Models are tiny (emb_dim up to 32, two layers) so the whole rung runs in seconds.

Every assert carries a message written for the learner, so pytest's assertion rewriting, which
would append its own introspection to it, is off for this module: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import dataclasses
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

from grader.harness import (
    Mistake,
    assert_matches,
    assert_module_grads_match,
    assert_op_count_constant_in_every_dim,
    skip_check,
)
from grader.strategies import randn, seeds

try:  # the hf extra: only the check against a Hugging Face GPT-2 needs it
    from transformers import GPT2Config, GPT2LMHeadModel
except ImportError:  # pragma: no cover - depends on the install
    GPT2Config = GPT2LMHeadModel = None

pytestmark = pytest.mark.rung("12-gpt")

CONFIG, FF, BLOCK, MODEL = "GPTConfig", "FeedForward", "TransformerBlock", "GPTModel"
COUNT, MEMORY = "param_count", "memory_mb"

BOOK_124M = {"vocab_size": 50257, "context_length": 1024, "emb_dim": 768, "n_heads": 12,
             "n_layers": 12, "drop_rate": 0.1, "qkv_bias": False}
FIELDS = tuple(BOOK_124M)

# Property checks compare float64 outputs that any correct model computes from the very same
# numbers, so only float64 rounding may separate them.
FLOAT64_ROUNDING = {"rtol": 1e-9, "atol": 1e-12}


# --- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One tiny configuration, an input of (B, T) and a seed for weights and inputs."""

    vocab_size: int
    context_length: int
    n_heads: int
    head_dim: int
    n_layers: int
    drop_rate: float
    qkv_bias: bool
    B: int
    T: int
    seed: int

    @property
    def cfg(self) -> dict[str, Any]:
        """The book's dict for this case."""
        return {"vocab_size": self.vocab_size, "context_length": self.context_length,
                "emb_dim": self.n_heads * self.head_dim, "n_heads": self.n_heads,
                "n_layers": self.n_layers, "drop_rate": self.drop_rate, "qkv_bias": self.qkv_bias}

    @property
    def emb_dim(self) -> int:
        return self.n_heads * self.head_dim

    def ids(self, device: torch.device, seed: int = 0) -> Tensor:
        gen = torch.Generator().manual_seed(self.seed + 50 + seed)
        return torch.randint(0, self.vocab_size, (self.B, self.T), generator=gen).to(device)

    def x(self, device: torch.device, seed: int = 0) -> Tensor:
        return randn((self.B, self.T, self.emb_dim), self.seed + 100 + seed, torch.float64,
                     device)

    def describe(self, kind: str, on: str = "ids") -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.cfg.items())
        shape = (self.B, self.T) if on == "ids" else (self.B, self.T, self.emb_dim)
        return f"{kind}(GPTConfig({args})) on {'in_idx' if on == 'ids' else 'x'} of shape {shape}"


@st.composite
def cases(draw: st.DrawFn, min_len: int = 1) -> Case:
    context = draw(st.integers(max(min_len, 2), 8))
    return Case(
        vocab_size=draw(st.integers(2, 30)),
        context_length=context,
        n_heads=draw(st.integers(1, 3)),
        head_dim=draw(st.integers(1, 4)),
        n_layers=draw(st.integers(1, 2)),
        drop_rate=draw(st.sampled_from([0.1, 0.5])),
        qkv_bias=draw(st.booleans()),
        B=draw(st.integers(1, 3)),
        T=draw(st.integers(min_len, context)),
        seed=draw(seeds()),
    )


# One case that separates every classic mistake: several heads and layers, T < context_length.
TYPICAL = Case(vocab_size=23, context_length=9, n_heads=2, head_dim=3, n_layers=2, drop_rate=0.5,
               qkv_bias=True, B=2, T=6, seed=11)
# The brief's size for a quick whole-model check: emb 32, 2 layers, vocab 97.
SMALL = Case(vocab_size=97, context_length=16, n_heads=4, head_dim=8, n_layers=2, drop_rate=0.1,
             qkv_bias=False, B=2, T=16, seed=5)


def config_of(module: Any, cfg: dict[str, Any]) -> Any:
    """module.GPTConfig built from the dict's keys (through GPTConfig.of, as every class does)."""
    return module.GPTConfig.of(dict(cfg))


def parameter_problem(model: nn.Module, expected: dict[str, Tensor], kind: str) -> str:
    """Why `model`'s parameters cannot take `expected` by name, or ''."""
    got = dict(model.named_parameters())
    missing = [name for name in expected if name not in got]
    unexpected = [name for name in got if name not in expected]
    if missing or unexpected:
        problem = (f"your {kind}'s parameter names differ from the book's: missing "
                   f"{', '.join(missing[:6]) or 'none'}; unexpected "
                   f"{', '.join(unexpected[:6]) or 'none'}.")
        out_head = getattr(model, "out_head", None)
        tok_emb = getattr(model, "tok_emb", None)
        if ("out_head.weight" in missing and isinstance(out_head, nn.Module)
                and isinstance(tok_emb, nn.Module)
                and getattr(out_head, "weight", None) is getattr(tok_emb, "weight", None)):
            problem += (" Likely mistake: out_head shares tok_emb's weight (weight tying), which "
                        "this GPTModel does not do: give out_head its own weight; param_count "
                        "only counts what tying would save.")
        elif any(name.endswith("out_head.bias") for name in unexpected):
            problem += (" Likely mistake: out_head has a bias; it is nn.Linear(emb_dim, "
                        "vocab_size, bias=False).")
        elif any(name.endswith((".scale", ".shift")) for name in unexpected):
            problem += (" Likely mistake: the book's own LayerNorm (scale, shift); use 07's "
                        "LayerNorm from grader.blocks, whose parameters are weight and bias.")
        else:
            problem += " The stub's docstring lists every name."
        return problem
    for name, tensor in expected.items():
        if tuple(got[name].shape) != tuple(tensor.shape):
            problem = (f"your {kind}'s parameter {name} has shape {tuple(got[name].shape)}, "
                       f"expected {tuple(tensor.shape)}.")
            if "ff.layers" in name or name.startswith("layers."):
                problem += " The feed-forward hidden layer is 4 * emb_dim wide."
            return problem
    return ""


def copy_parameters(source: nn.Module, target: nn.Module, kind: str) -> None:
    """Copy the reference's parameters into the learner's module by name (buffers may differ)."""
    expected = {name: param.detach().clone() for name, param in source.named_parameters()}
    problem = parameter_problem(target, expected, kind)
    if problem:
        raise AssertionError(problem)
    got = dict(target.named_parameters())
    with torch.no_grad():
        for name, tensor in expected.items():
            got[name].copy_(tensor)


def build_pair(candidate: Any, reference: Any, kind: str, case: Case, device: torch.device,
               cfg: Any = None) -> tuple[nn.Module, nn.Module]:
    """The learner's and the reference `kind` with the same random weights, float64, eval mode.
    `cfg` is what the learner's constructor gets (their GPTConfig unless a test says)."""
    ref = getattr(reference, kind)(config_of(reference, case.cfg))
    with torch.no_grad():
        for i, (_, param) in enumerate(sorted(ref.named_parameters())):
            param.copy_(randn(tuple(param.shape), case.seed + i, scale=0.5, offset=0.1))
    mine = getattr(candidate, kind)(config_of(candidate, case.cfg) if cfg is None else cfg)
    copy_parameters(ref, mine, kind)
    return (mine.to(device, torch.float64).eval(), ref.to(device, torch.float64).eval())


def seeded(module: nn.Module, x: Tensor, seed: int) -> Tensor:
    """module(x) with the global RNG seeded, so randomness where there should be none fails
    the same way on every run."""
    torch.manual_seed(seed)
    return module(x)


def assert_deterministic_in_eval(module: nn.Module, x: Tensor, what: str) -> Tensor:
    """Two eval-mode passes under different seeds must agree; returns the first output."""
    first, second = seeded(module, x, 1), seeded(module, x, 2)
    if (isinstance(first, Tensor) and isinstance(second, Tensor)
            and first.shape == second.shape
            and not torch.equal(first, second)):
        raise AssertionError(
            f"{what}: two forward passes on the same input gave different outputs in eval mode "
            f"(max difference {float((first - second).abs().nan_to_num().max()):.3g}). Dropout "
            "must be off after .eval(): use nn.Dropout modules (they follow self.training), "
            "not F.dropout(..., training=True).")
    return first


# --- what classic mistakes compute -------------------------------------------------------------


def feed_forward_with(ff: nn.Module, *, activation: str = "tanh") -> Callable[[Tensor], Tensor]:
    first, last = ff.layers[0], ff.layers[2]
    act = {"tanh": lambda h: F.gelu(h, approximate="tanh"), "none": F.gelu, "relu": F.relu}
    return lambda x: last(act[activation](first(x)))


def block_with(block: nn.Module, *, order: str = "pre", residual: bool = True,
               activation: str = "tanh") -> Callable[[Tensor], Tensor]:
    """TransformerBlock with `block`'s weights, as code with one mistake computes it (eval)."""
    ff = feed_forward_with(block.ff, activation=activation)

    def compute(x: Tensor) -> Tensor:
        if order == "post":
            x = block.norm1(x + block.att(x))
            return block.norm2(x + ff(x))
        if order == "swapped":
            x = x + block.att(block.norm2(x))
            return x + ff(block.norm1(x))
        if order == "one norm":
            x = x + block.att(block.norm1(x))
            return x + ff(block.norm1(x))
        if not residual:
            return ff(block.norm2(block.att(block.norm1(x))))
        x = x + block.att(block.norm1(x))
        return x + ff(block.norm2(x))

    return compute


def model_with(model: nn.Module, *, positions: str = "arange", final_norm: bool = True,
               **block_mistake: Any) -> Callable[[Tensor], Tensor]:
    """GPTModel with `model`'s weights, as code with one mistake computes it (eval)."""
    blocks = [block_with(block, **block_mistake) for block in model.trf_blocks]

    def compute(ids: Tensor) -> Tensor:
        T = ids.shape[1]
        x = model.tok_emb(ids)
        if positions == "arange":
            x = x + model.pos_emb(torch.arange(T, device=ids.device))
        elif positions == "reversed":
            x = x + model.pos_emb(torch.arange(T - 1, -1, -1, device=ids.device))
        elif positions == "from one":
            x = x + model.pos_emb(torch.arange(1, T + 1, device=ids.device))
        elif positions == "ids":
            x = x + model.pos_emb(ids.clamp(max=model.pos_emb.weight.shape[0] - 1))
        for block in blocks:
            x = block(x)
        return model.out_head(model.final_norm(x) if final_norm else x)

    return compute


def ff_mistakes(ff: nn.Module) -> tuple[Mistake, ...]:
    return (
        Mistake("the exact (erf) GELU was used; GPT-2 uses its tanh approximation: "
                "GELU(approximate=\"tanh\")", feed_forward_with(ff, activation="none")),
        Mistake("ReLU was used between the two Linears; GPT-2 uses GELU(approximate=\"tanh\")",
                feed_forward_with(ff, activation="relu")),
    )


def block_mistakes(block: nn.Module) -> tuple[Mistake, ...]:
    return (
        Mistake("post-norm: the block normalised after the residual addition (norm(x + f(x))); "
                "GPT-2 is pre-norm, x + f(norm(x)), and never normalises x itself",
                block_with(block, order="post")),
        Mistake("no residual connections: each branch's result must be added back onto its "
                "input, x = x + drop_shortcut(att(norm1(x)))", block_with(block, residual=False)),
        Mistake("norm1 and norm2 are swapped: norm1 goes before att, norm2 before ff",
                block_with(block, order="swapped")),
        Mistake("norm1 normalises both branches and norm2 is never used: the feed-forward "
                "branch reads norm2(x)", block_with(block, order="one norm")),
        Mistake("the exact (erf) GELU was used in the feed-forward; GPT-2 uses its tanh "
                "approximation: GELU(approximate=\"tanh\")", block_with(block, activation="none")),
    )


def model_mistakes(model: nn.Module) -> tuple[Mistake, ...]:
    return (
        Mistake("the position embeddings were not added: x = tok_emb(in_idx) + "
                "pos_emb(torch.arange(T))", model_with(model, positions="none")),
        Mistake("the position embeddings were looked up in reverse order; position t gets "
                "pos_emb row t, torch.arange(T)", model_with(model, positions="reversed")),
        Mistake("the positions start at 1; they are 0..T-1, torch.arange(T)",
                model_with(model, positions="from one")),
        Mistake("the position embeddings were looked up with the token ids; look them up with "
                "the positions 0..T-1, torch.arange(T)", model_with(model, positions="ids")),
        Mistake("final_norm was not applied before out_head",
                model_with(model, final_norm=False)),
        Mistake("post-norm blocks: each block normalised after the residual addition; GPT-2 is "
                "pre-norm, x + f(norm(x))", model_with(model, order="post")),
        Mistake("the blocks have no residual connections: x = x + drop_shortcut(att(norm1(x)))",
                model_with(model, residual=False)),
        Mistake("the exact (erf) GELU was used in the feed-forward; GPT-2 uses its tanh "
                "approximation", model_with(model, activation="none")),
    )


# --- GPTConfig ---------------------------------------------------------------------------------


@pytest.mark.task(CONFIG, category="values")
def test_the_defaults_are_the_books_124m_configuration(candidate):
    """GPTConfig() is GPT_CONFIG_124M, and GPTConfig.of turns the book's dict into the same."""
    from_dict = candidate.GPTConfig.of(dict(BOOK_124M))
    assert dataclasses.is_dataclass(from_dict), (
        f"GPTConfig.of(GPT_CONFIG_124M) returned {type(from_dict).__name__}, not a GPTConfig "
        "dataclass: for a dict, return cls(**cfg)")
    names = tuple(field.name for field in dataclasses.fields(from_dict))
    assert set(names) == set(FIELDS), (
        f"GPTConfig has the fields {', '.join(names) or 'none'}; expected the book's keys "
        f"{', '.join(FIELDS)}")
    got = {name: getattr(from_dict, name) for name in FIELDS}
    assert got == BOOK_124M, (
        f"GPTConfig.of(GPT_CONFIG_124M) gave {got}, expected {BOOK_124M}: copy every key")
    defaults = {name: getattr(candidate.GPTConfig(), name) for name in FIELDS}
    wrong = {name: value for name, value in defaults.items() if value != BOOK_124M[name]}
    assert not wrong, (
        f"GPTConfig()'s defaults differ from GPT_CONFIG_124M in {wrong}; expected "
        f"{ {name: BOOK_124M[name] for name in wrong} }")


@pytest.mark.task(CONFIG, category="properties")
@given(case=cases())
@example(case=TYPICAL)
def test_of_keeps_every_key_and_passes_a_config_through(candidate, case):
    """GPTConfig.of(dict) has the dict's values; GPTConfig.of(a GPTConfig) is that object."""
    cfg = candidate.GPTConfig.of(dict(case.cfg))
    got = {name: getattr(cfg, name, None) for name in FIELDS}
    assert got == case.cfg, f"GPTConfig.of({case.cfg}) gave {got}"
    built = candidate.GPTConfig(**case.cfg)
    assert candidate.GPTConfig.of(built) is built, (
        "GPTConfig.of(cfg) with cfg already a GPTConfig must return cfg itself")


@pytest.mark.task(CONFIG, category="properties")
def test_of_takes_defaults_for_missing_keys_and_refuses_unknown_ones(candidate):
    """A partial dict takes the defaults; a key the config does not have is an error."""
    partial = candidate.GPTConfig.of({"emb_dim": 64, "n_layers": 2})
    assert partial == candidate.GPTConfig(emb_dim=64, n_layers=2), (
        f"GPTConfig.of({{'emb_dim': 64, 'n_layers': 2}}) gave {partial!r}; the missing keys take "
        "the defaults, as GPTConfig(**cfg) does")
    try:
        candidate.GPTConfig.of({**BOOK_124M, "emb_size": 768})
    except (TypeError, ValueError):
        return
    raise AssertionError("GPTConfig.of accepted the unknown key 'emb_size': a misspelt key must "
                         "be an error (cls(**cfg) raises TypeError), not silently ignored")


# --- FeedForward -------------------------------------------------------------------------------


@pytest.mark.task(FF, category="shape")
def test_feed_forward_has_the_books_layers(candidate, reference):
    """layers = Sequential(Linear(C, 4C), GELU, Linear(4C, C)): names and shapes as the book's."""
    cfg = TYPICAL.cfg
    ref = reference.FeedForward(config_of(reference, cfg))
    mine = candidate.FeedForward(config_of(candidate, cfg))
    problem = parameter_problem(mine, dict(ref.named_parameters()), FF)
    assert not problem, problem
    layers = getattr(mine, "layers", None)
    assert isinstance(layers, nn.Sequential) and len(layers) == 3, (
        "FeedForward.layers must be nn.Sequential(Linear, GELU, Linear)")


@pytest.mark.task(FF, category="values")
@given(case=cases())
@example(case=TYPICAL)
def test_feed_forward_matches_the_reference(candidate, reference, device, case):
    """Same weights: the output equals the reference's, position by position."""
    mine, ref = build_pair(candidate, reference, FF, case, device)
    x = case.x(device) * 2  # wide enough that the two GELUs differ clearly
    assert_matches(mine(x), ref, x, what=f"output of {case.describe(FF, on='x')}",
                   mistakes=ff_mistakes(ref))


@pytest.mark.task(FF, category="values")
def test_feed_forward_accepts_the_books_dict(candidate, reference, device):
    """FeedForward(cfg) with cfg the book's dict gives the same module."""
    case = TYPICAL
    mine, ref = build_pair(candidate, reference, FF, case, device, cfg=dict(case.cfg))
    x = case.x(device)
    assert_matches(mine(x), ref, x, what=f"output of FeedForward({case.cfg}) (a dict)")


@pytest.mark.task(FF, category="grad")
@given(case=cases())
@example(case=TYPICAL)
def test_feed_forward_gradients_match(candidate, reference, device, case):
    """Gradients w.r.t. x and every weight equal the reference's."""
    mine, ref = build_pair(candidate, reference, FF, case, device)
    assert_module_grads_match(mine, ref, case.x(device), what=case.describe(FF, on="x"),
                              seed=case.seed)


# --- TransformerBlock --------------------------------------------------------------------------


@pytest.mark.task(BLOCK, category="shape")
def test_block_has_the_books_submodules(candidate, reference):
    """att, ff, norm1, norm2 and drop_shortcut, with the parameter names and shapes of the book."""
    cfg = TYPICAL.cfg
    mine = candidate.TransformerBlock(config_of(candidate, cfg))
    missing = [name for name in ("att", "ff", "norm1", "norm2", "drop_shortcut")
               if not isinstance(getattr(mine, name, None), nn.Module)]
    assert not missing, (f"your TransformerBlock has no submodule {', '.join(missing)}; the book "
                         "names them att, ff, norm1, norm2 and drop_shortcut")
    ref = reference.TransformerBlock(config_of(reference, cfg))
    problem = parameter_problem(mine, dict(ref.named_parameters()), BLOCK)
    assert not problem, problem


@pytest.mark.task(BLOCK, category="values")
@given(case=cases())
@example(case=TYPICAL)
def test_block_matches_the_reference(candidate, reference, device, case):
    """Same weights, eval mode (dropout > 0 but off): the output equals the reference's."""
    mine, ref = build_pair(candidate, reference, BLOCK, case, device)
    x = case.x(device)
    what = f"output of {case.describe(BLOCK, on='x')}, eval mode"
    out = assert_deterministic_in_eval(mine, x, what)
    assert_matches(out, ref, x, what=what, mistakes=block_mistakes(ref))


@pytest.mark.task(BLOCK, category="values")
def test_block_accepts_the_books_dict(candidate, reference, device):
    """TransformerBlock(cfg) with cfg the book's dict gives the same module."""
    case = TYPICAL
    mine, ref = build_pair(candidate, reference, BLOCK, case, device, cfg=dict(case.cfg))
    x = case.x(device)
    assert_matches(seeded(mine, x, 0), ref, x,
                   what=f"output of TransformerBlock({case.cfg}) (a dict), eval mode")


@pytest.mark.task(BLOCK, category="grad")
@given(case=cases())
@example(case=TYPICAL)
def test_block_gradients_match(candidate, reference, device, case):
    """Gradients w.r.t. x and every weight equal the reference's (eval mode)."""
    mine, ref = build_pair(candidate, reference, BLOCK, case, device)
    torch.manual_seed(case.seed)
    assert_module_grads_match(mine, ref, case.x(device), what=case.describe(BLOCK, on="x"),
                              seed=case.seed)


@pytest.mark.task(BLOCK, category="properties")
def test_training_mode_drops_each_branch_before_it_is_added(candidate, reference, device):
    """drop_rate = 1 in training mode drops every branch whole: x + 0 + 0, the block returns x
    itself. Dropout on the sum, on the shortcut or on only one branch gives something else."""
    case = dataclasses.replace(TYPICAL, drop_rate=1.0)
    mine, ref = build_pair(candidate, reference, BLOCK, case, device)
    mine.train()
    x = case.x(device)
    out = seeded(mine, x, 0)
    what = f"output of {case.describe(BLOCK, on='x')} in training mode"
    if isinstance(out, Tensor) and out.shape == x.shape and not torch.allclose(
            out, x, **FLOAT64_ROUNDING):
        worst = (out - x).abs().flatten().argmax()
        hint = ("it is all zeros: the dropout was applied to the sum x + branch; apply "
                "drop_shortcut to the branch before adding it back"
                if bool((out == 0).all()) else
                "each branch goes through drop_shortcut before it is added, x = x + "
                "drop_shortcut(att(norm1(x))) and the same for ff, and the shortcut x itself is "
                "never dropped")
        raise AssertionError(
            f"{what}, drop_rate=1.0: expected x unchanged (every branch dropped), got a "
            f"difference of {float((out - x).abs().max()):.3g} at flat index {int(worst)}: "
            f"{hint}")
    assert_matches(out, ref.train(), x, what=what)


@pytest.mark.task(BLOCK, category="properties")
def test_the_attention_gets_the_drop_rate(candidate, device):
    """att is built with dropout=drop_rate: in training mode it drops attention weights, so two
    passes of block.att differ."""
    case = TYPICAL
    block = candidate.TransformerBlock(config_of(candidate, case.cfg)).to(device, torch.float64)
    att = getattr(block, "att", None)
    assert isinstance(att, nn.Module), "your TransformerBlock has no submodule att"
    att.train()
    x = case.x(device)
    first, second = att(x), att(x)
    assert not torch.equal(first, second), (
        f"{case.describe(BLOCK, on='x')}: block.att gave the same output twice in training "
        "mode, so its attention dropout is off: build it as MultiHeadAttention(emb_dim, "
        "emb_dim, context_length, dropout=drop_rate, num_heads=n_heads, qkv_bias=qkv_bias)")


@pytest.mark.task(BLOCK, category="properties")
@given(case=cases(min_len=2), cut=st.integers(0, 6))
@example(case=TYPICAL, cut=1)
def test_the_block_keeps_the_future_out(candidate, device, case, cut):
    """Changing x after position t leaves the block's output at positions 0..t unchanged."""
    t = min(cut, case.T - 2)
    module = candidate.TransformerBlock(config_of(candidate, case.cfg)).to(device,
                                                                           torch.float64).eval()
    x = case.x(device)
    changed = x.clone()
    changed[:, t + 1:] = case.x(device, seed=1)[:, t + 1:]
    before, after = seeded(module, x, 0)[:, : t + 1], seeded(module, changed, 0)[:, : t + 1]
    assert torch.allclose(before, after, **FLOAT64_ROUNDING), (
        f"{case.describe(BLOCK, on='x')}: changing only positions {t + 1}..{case.T - 1} changed "
        f"the output at positions up to {t} by {float((before - after).abs().max()):.3g}: the "
        "future leaks; only the causal attention may mix positions")


# --- GPTModel ----------------------------------------------------------------------------------


@pytest.mark.task(MODEL, category="shape")
def test_model_has_the_books_parameters(candidate, reference):
    """tok_emb, pos_emb, drop_emb, trf_blocks, final_norm, out_head: names and shapes."""
    cfg = TYPICAL.cfg
    mine = candidate.GPTModel(config_of(candidate, cfg))
    missing = [name for name in ("tok_emb", "pos_emb", "drop_emb", "trf_blocks", "final_norm",
                                 "out_head") if not isinstance(getattr(mine, name, None),
                                                               nn.Module)]
    assert not missing, (f"your GPTModel has no submodule {', '.join(missing)}; the book names "
                         "them tok_emb, pos_emb, drop_emb, trf_blocks, final_norm, out_head")
    ref = reference.GPTModel(config_of(reference, cfg))
    problem = parameter_problem(mine, dict(ref.named_parameters()), MODEL)
    assert not problem, problem


@pytest.mark.task(MODEL, category="shape")
@given(case=cases())
@example(case=TYPICAL)
def test_a_built_model_has_as_many_parameters_as_the_book_counts(candidate, reference, case):
    """sum(p.numel() for p in GPTModel(cfg).parameters()) is the reference's param_count."""
    mine = candidate.GPTModel(config_of(candidate, case.cfg))
    count = sum(p.numel() for p in mine.parameters())
    expected = reference.param_count(config_of(reference, case.cfg))
    assert count == expected, (
        f"GPTModel(GPTConfig({case.cfg})) has {count} parameters, expected {expected} "
        f"({count - expected:+d}); compare its named_parameters with the stub's list")


@pytest.mark.task(MODEL, category="values")
@given(case=cases())
@example(case=TYPICAL)
def test_model_matches_the_reference(candidate, reference, device, case):
    """Same weights, eval mode (dropout > 0 but off): the logits equal the reference's."""
    mine, ref = build_pair(candidate, reference, MODEL, case, device)
    ids = case.ids(device)
    what = f"logits of {case.describe(MODEL)}, eval mode"
    out = assert_deterministic_in_eval(mine, ids, what)
    assert_matches(out, ref, ids, what=what, mistakes=model_mistakes(ref))


@pytest.mark.task(MODEL, category="values")
def test_model_accepts_the_books_dict(candidate, reference, device):
    """GPTModel(cfg) with cfg the book's dict gives the same model."""
    case = SMALL
    mine, ref = build_pair(candidate, reference, MODEL, case, device, cfg=dict(case.cfg))
    ids = case.ids(device)
    assert_matches(seeded(mine, ids, 0), ref, ids,
                   what=f"logits of GPTModel({case.cfg}) (a dict) on in_idx {tuple(ids.shape)}",
                   mistakes=model_mistakes(ref))


@pytest.mark.task(MODEL, category="grad")
@given(case=cases())
@example(case=TYPICAL)
def test_model_gradients_match(candidate, reference, device, case):
    """Gradients of every weight equal the reference's (random upstream gradient, eval mode)."""
    mine, ref = build_pair(candidate, reference, MODEL, case, device)
    torch.manual_seed(case.seed)
    assert_module_grads_match(mine, ref, case.ids(device), what=case.describe(MODEL),
                              seed=case.seed)


@pytest.mark.task(MODEL, category="properties")
@given(case=cases(min_len=2), cut=st.integers(0, 6))
@example(case=TYPICAL, cut=1)
def test_a_token_never_changes_the_logits_before_it(candidate, device, case, cut):
    """Changing the tokens after position t leaves the logits at 0..t unchanged, through every
    block."""
    t = min(cut, case.T - 2)
    model = candidate.GPTModel(config_of(candidate, case.cfg)).to(device, torch.float64).eval()
    ids = case.ids(device)
    changed = ids.clone()
    changed[:, t + 1:] = (ids[:, t + 1:] + 1) % case.vocab_size
    before, after = seeded(model, ids, 0)[:, : t + 1], seeded(model, changed, 0)[:, : t + 1]
    if not torch.allclose(before, after, **FLOAT64_ROUNDING):
        position = int((before - after).abs().amax(dim=(0, 2)).argmax())
        raise AssertionError(
            f"{case.describe(MODEL)}: changing only the tokens at {t + 1}..{case.T - 1} changed "
            f"the logits at position {position} by up to "
            f"{float((before - after).abs().max()):.3g}. The future leaks: only the causal "
            "attention may mix positions, and nothing may pool over the sequence.")


@pytest.mark.task(MODEL, category="properties")
def test_model_dropout_is_off_in_eval_and_on_in_training(candidate, reference, device):
    """Eval mode is deterministic; training mode with drop_rate 0.5 is not; training mode with
    drop_rate 1 zeros the embeddings and every branch, as the reference does."""
    case = SMALL
    mine, _ = build_pair(candidate, reference, MODEL, dataclasses.replace(case, drop_rate=0.5),
                         device)
    ids = case.ids(device)
    assert_deterministic_in_eval(mine, ids, f"logits of {case.describe(MODEL)}")
    mine.train()
    first, second = mine(ids), mine(ids)
    assert not torch.equal(first, second), (
        f"{case.describe(MODEL)} with drop_rate=0.5 gave the same logits twice in training mode: "
        "dropout is not applied (drop_emb on the embeddings, drop_shortcut in every block)")
    full = dataclasses.replace(case, drop_rate=1.0)
    mine, ref = build_pair(candidate, reference, MODEL, full, device)
    mine.train()
    ref.train()
    assert_matches(seeded(mine, ids, 0), ref, ids,
                   what=f"logits of {full.describe(MODEL)} in training mode (drop_rate=1.0 "
                        "zeros drop_emb's output and every branch)")


@pytest.mark.task(MODEL, category="structure")
def test_model_has_no_loop_over_positions_or_the_batch(candidate, reference, device):
    """The number of tensor ops in forward must not grow with the sequence length or the batch."""
    def at(impl: Any) -> Callable[..., Callable[[], Tensor]]:
        def make(B: int, T: int) -> Callable[[], Tensor]:
            model = impl.GPTModel(config_of(impl, {**SMALL.cfg, "context_length": 16}))
            model = model.to(device).eval()
            gen = torch.Generator().manual_seed(B + T)
            ids = torch.randint(0, SMALL.vocab_size, (B, T), generator=gen).to(device)
            return lambda: model(ids)
        return make

    assert_op_count_constant_in_every_dim(at(candidate), {
        "T": ("sequence length", (2, 4, 16)),
        "B": ("batch size", (2, 4, 12)),
    }, advice="Embed, attend and project all positions and batch rows at once; only the blocks "
              "run one after another.", reference=at(reference))


def gpt2_weights_into(model: nn.Module, hf: Any) -> None:
    """Copy a Hugging Face GPT2LMHeadModel's weights into a GPTModel, by the book's names.
    GPT-2's Conv1D stores (in, out), the transpose of nn.Linear's weight; c_attn is W_query,
    W_key and W_value side by side."""
    state = {name: tensor.detach().clone() for name, tensor in hf.state_dict().items()}
    C = hf.config.n_embd
    mapped = {"tok_emb.weight": state["transformer.wte.weight"],
              "pos_emb.weight": state["transformer.wpe.weight"],
              "final_norm.weight": state["transformer.ln_f.weight"],
              "final_norm.bias": state["transformer.ln_f.bias"],
              "out_head.weight": state["lm_head.weight"]}
    for i in range(hf.config.n_layer):
        hf_block, ours = f"transformer.h.{i}.", f"trf_blocks.{i}."
        q, k, v = state[hf_block + "attn.c_attn.weight"].split(C, dim=-1)  # (C, C) each
        qb, kb, vb = state[hf_block + "attn.c_attn.bias"].split(C, dim=-1)
        for name, weight, bias in (("W_query", q, qb), ("W_key", k, kb), ("W_value", v, vb)):
            mapped[f"{ours}att.{name}.weight"] = weight.T
            mapped[f"{ours}att.{name}.bias"] = bias
        for hf_name, our_name in (("attn.c_proj", "att.out_proj"), ("mlp.c_fc", "ff.layers.0"),
                                  ("mlp.c_proj", "ff.layers.2")):
            mapped[f"{ours}{our_name}.weight"] = state[f"{hf_block}{hf_name}.weight"].T
            mapped[f"{ours}{our_name}.bias"] = state[f"{hf_block}{hf_name}.bias"]
        for hf_name, our_name in (("ln_1", "norm1"), ("ln_2", "norm2")):
            mapped[f"{ours}{our_name}.weight"] = state[f"{hf_block}{hf_name}.weight"]
            mapped[f"{ours}{our_name}.bias"] = state[f"{hf_block}{hf_name}.bias"]
    problem = parameter_problem(model, mapped, MODEL)
    if problem:
        raise AssertionError(f"copying a Hugging Face GPT-2 into {problem}")
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, tensor in mapped.items():
            params[name].copy_(tensor)


@pytest.mark.task(MODEL, category="values")
def test_gpt2_weights_give_gpt2s_logits(candidate, device):
    """A tiny Hugging Face GPT2LMHeadModel with random weights, copied in by name, gives the
    same logits: the model is GPT-2, not only something like it."""
    if GPT2LMHeadModel is None:
        skip_check("transformers is not installed (the hf extra: pip install -e '.[hf]'); "
                   "the check against a Hugging Face GPT-2 needs it")
    case = SMALL
    torch.manual_seed(case.seed)
    hf_config = GPT2Config(vocab_size=case.vocab_size, n_positions=case.context_length,
                           n_embd=case.emb_dim, n_layer=case.n_layers, n_head=case.n_heads,
                           layer_norm_epsilon=1e-5, activation_function="gelu_new",
                           bos_token_id=case.vocab_size - 1, eos_token_id=case.vocab_size - 1)
    hf = GPT2LMHeadModel(hf_config).to(device, torch.float64).eval()
    with torch.no_grad():  # GPT-2's init leaves the biases and norms trivial: randomise all
        for i, (_, param) in enumerate(sorted(hf.named_parameters())):
            param.copy_(randn(tuple(param.shape), case.seed + i, scale=0.3, offset=0.05))
    cfg = {**case.cfg, "qkv_bias": True}
    mine = candidate.GPTModel(config_of(candidate, cfg)).to(device, torch.float64).eval()
    gpt2_weights_into(mine, hf)  # into float64 parameters: no float32 rounding on the way
    ids = case.ids(device)
    with torch.no_grad():
        out = seeded(mine, ids, 0)
    assert_matches(out, lambda idx: hf(idx).logits, ids,
                   what=f"logits of GPTModel({cfg}) holding a Hugging Face GPT-2's weights, on "
                        f"in_idx {tuple(ids.shape)}")


# --- param_count and memory_mb -----------------------------------------------------------------


def counted(reference: Any, cfg: dict[str, Any], tie_weights: bool) -> int:
    """The parameters of the reference GPTModel(cfg) built on the meta device (no memory),
    with out_head sharing tok_emb's weight when tied: what the count must say."""
    with torch.device("meta"):
        model = reference.GPTModel(config_of(reference, cfg))
    if tie_weights:
        model.out_head.weight = model.tok_emb.weight
    return sum(p.numel() for p in model.parameters())  # a shared parameter counts once


def count_with(*, head: str = "right", qkv_bias: str = "right", out_proj_bias: bool = True,
               positions: bool = True, final_norm: bool = True, block_norms: bool = True,
               hidden: int = 4) -> Callable[..., int]:
    """param_count as code with one mistake computes it."""
    def compute(cfg: Any, tie_weights: bool = False) -> int:
        c = dict(cfg) if isinstance(cfg, dict) else dataclasses.asdict(cfg)
        C, V = c["emb_dim"], c["vocab_size"]
        bias = {"right": c["qkv_bias"], "always": True, "never": False}[qkv_bias]
        att = 3 * (C * C + (C if bias else 0)) + C * C + (C if out_proj_bias else 0)
        ff = 2 * hidden * C * C + hidden * C + C
        block = att + ff + (4 * C if block_norms else 0)
        total = V * C + (c["context_length"] * C if positions else 0) + c["n_layers"] * block
        total += 2 * C if final_norm else 0
        untied_head = V * C
        tied = tie_weights if head == "right" else {"ignores tying": False,
                                                    "inverted": not tie_weights,
                                                    "tied twice": tie_weights}[head]
        total += 0 if tied else untied_head
        if head == "tied twice" and tie_weights:
            total -= untied_head
        return total
    return compute


COUNT_MISTAKES = (
    Mistake("tie_weights was ignored: tied, out_head reuses tok_emb's weight, so one "
            "vocab_size x emb_dim matrix is not counted twice", count_with(head="ignores tying")),
    Mistake("tie_weights is inverted: the untied model has its own out_head weight, counted; the "
            "tied one does not", count_with(head="inverted")),
    Mistake("the tied count subtracted the shared matrix twice: tying removes one vocab_size x "
            "emb_dim matrix, the head's", count_with(head="tied twice")),
    Mistake("W_query, W_key and W_value were counted with biases; they have one only when "
            "qkv_bias is True", count_with(qkv_bias="always")),
    Mistake("W_query, W_key and W_value were counted without biases; with qkv_bias=True each "
            "has emb_dim of them", count_with(qkv_bias="never")),
    Mistake("out_proj's bias was left out; out_proj = nn.Linear(emb_dim, emb_dim) has one "
            "whatever qkv_bias says", count_with(out_proj_bias=False)),
    Mistake("the position embeddings were left out: pos_emb has context_length x emb_dim "
            "parameters", count_with(positions=False)),
    Mistake("final_norm was left out: a weight and a bias of emb_dim each",
            count_with(final_norm=False)),
    Mistake("the blocks' norm1 and norm2 were left out: 4 x emb_dim per block",
            count_with(block_norms=False)),
    Mistake("the feed-forward was counted 2 x emb_dim wide; its hidden layer is 4 x emb_dim",
            count_with(hidden=2)),
)


@pytest.mark.task(COUNT, category="values")
@given(case=cases(), tie_weights=st.booleans())
@example(case=TYPICAL, tie_weights=False)
@example(case=TYPICAL, tie_weights=True)
@example(case=dataclasses.replace(TYPICAL, qkv_bias=False), tie_weights=False)
def test_param_count_counts_a_built_model(candidate, reference, case, tie_weights):
    """param_count(cfg, tie_weights) equals the parameters of the model built from cfg."""
    got = candidate.param_count(config_of(candidate, case.cfg), tie_weights=tie_weights)
    assert_matches(got, lambda cfg, tie_weights: counted(reference, case.cfg, tie_weights),
                   config_of(candidate, case.cfg), tie_weights=tie_weights,
                   what=f"param_count(GPTConfig({case.cfg}), tie_weights={tie_weights})",
                   mistakes=COUNT_MISTAKES)


@pytest.mark.task(COUNT, category="values")
@pytest.mark.parametrize("tie_weights", [False, True])
def test_param_count_of_the_124m_configuration(candidate, reference, tie_weights):
    """The book's numbers: 163,009,536 parameters untied, 124,412,160 tied."""
    cfg = config_of(candidate, BOOK_124M)
    got = candidate.param_count(cfg, tie_weights=tie_weights)
    assert_matches(got, lambda cfg, tie_weights: counted(reference, BOOK_124M, tie_weights), cfg,
                   tie_weights=tie_weights,
                   what=f"param_count(GPT_CONFIG_124M, tie_weights={tie_weights})",
                   mistakes=COUNT_MISTAKES)


@pytest.mark.task(COUNT, category="values")
def test_param_count_accepts_the_books_dict_and_defaults_to_untied(candidate, reference):
    """param_count(the book's dict) is the untied count of that configuration."""
    got = candidate.param_count(dict(TYPICAL.cfg))
    expected = counted(reference, TYPICAL.cfg, False)
    assert got == expected, (f"param_count({TYPICAL.cfg}) (a dict, tie_weights not given) gave "
                             f"{got}, expected {expected}: the default is the untied model")


BYTES = {torch.float32: 4, torch.float64: 8, torch.bfloat16: 2, torch.float16: 2, torch.int8: 1}


def memory_mistakes(reference: Any, cfg: dict[str, Any], dtype: torch.dtype) -> list[str]:
    """What the classic mistakes give, with the description of each."""
    untied, tied = counted(reference, cfg, False), counted(reference, cfg, True)
    size = BYTES[dtype]
    return [
        (untied * size / 1e6, "MB was taken as 10**6 bytes; the book (and this rung) divides by "
                              "1024 ** 2"),
        (tied * size / 1024**2, "the tied count was used; memory_mb is for the untied model, "
                                "param_count(cfg)"),
        (untied * 4 / 1024**2, "4 bytes per parameter whatever the dtype; take the element "
                               "size of dtype (torch.empty((), dtype=dtype).element_size())"),
        (untied * size * 8 / 1024**2, "bits were counted, not bytes"),
        (untied * size / 1024, "the count was divided by 1024 once (KB), not by 1024 ** 2"),
    ]  # type: ignore[list-item]


@pytest.mark.task(MEMORY, category="values")
@given(case=cases(), dtype=st.sampled_from(list(BYTES)))
@example(case=TYPICAL, dtype=torch.bfloat16)
@example(case=TYPICAL, dtype=torch.float32)
def test_memory_mb_is_the_parameters_bytes_in_mebibytes(candidate, reference, case, dtype):
    """memory_mb(cfg, dtype) = param_count(cfg) x bytes per element / 1024 ** 2."""
    got = candidate.memory_mb(config_of(candidate, case.cfg), dtype)
    expected = counted(reference, case.cfg, False) * BYTES[dtype] / 1024**2
    check_memory(got, expected, memory_mistakes(reference, case.cfg, dtype),
                 f"memory_mb(GPTConfig({case.cfg}), {dtype})")


@pytest.mark.task(MEMORY, category="values")
def test_memory_of_the_124m_configuration(candidate, reference):
    """The book's number: 621.83 MB in float32 (the default dtype), from a dict too."""
    got = candidate.memory_mb(dict(BOOK_124M))
    expected = counted(reference, BOOK_124M, False) * 4 / 1024**2
    check_memory(got, expected, memory_mistakes(reference, BOOK_124M, torch.float32),
                 "memory_mb(GPT_CONFIG_124M) (a dict, dtype not given)")


def check_memory(got: Any, expected: float, mistakes: list[Any], what: str) -> None:
    if isinstance(got, (int, float)) and not isinstance(got, bool) and math.isclose(
            got, expected, rel_tol=1e-9):
        return
    message = f"{what} gave {got!r}, expected {expected:.6g}"
    for value, description in mistakes:
        if isinstance(got, (int, float)) and math.isclose(got, value, rel_tol=1e-9):
            message += f". Likely mistake: {description}"
            break
    raise AssertionError(message)
