"""Spec for 08-attention: scaled dot-product attention, the causal mask, multi-head attention.

Run by `./kata check 08-attention`. Code is reached only through the `candidate` and `reference`
fixtures; values go through the harness's error-ratio rule, so float64 comparisons are as tight
as float64 rounding and float32 ones as tight as the reference's own float32 error.

Every assert carries a message written for the learner, so pytest's assertion rewriting, which
would append its own introspection to it, is off for this module: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from torch import Tensor, nn

from grader.harness import (
    AS_FAST_AS_REFERENCE,
    Mistake,
    assert_grads_match,
    assert_matches,
    assert_module_grads_match,
    assert_no_banned_modules,
    assert_no_banned_ops,
    assert_op_count_constant_in_every_dim,
    assert_speed_within,
)
from grader.strategies import randn, seeds

pytestmark = pytest.mark.rung("08-attention")

SDPA = "scaled_dot_product_attention"
MASK = "causal_mask"
MHA = "MultiHeadAttention"

# Property checks compare float64 outputs that any correct formulation computes from the very
# same numbers, so only float64 rounding may separate them.
FLOAT64_ROUNDING = {"rtol": 1e-9, "atol": 1e-12}

BANNED_OPS = {
    "scaled_dot_product": "Compute softmax(q @ k.transpose(-2, -1) / √d) @ v with matmul and "
    "softmax.",
    "multi_head_attention": "Build the heads yourself from W_query, W_key, W_value and out_proj.",
    "flex_attention": "Compute softmax(q @ k.transpose(-2, -1) / √d) @ v with matmul and "
    "softmax.",
    "_efficient_attention": "Compute softmax(q @ k.transpose(-2, -1) / √d) @ v with matmul and "
    "softmax.",
    "_flash_attention": "Compute softmax(q @ k.transpose(-2, -1) / √d) @ v with matmul and "
    "softmax.",
}
BANNED_MODULES = {
    nn.MultiheadAttention: "Build the heads yourself from W_query, W_key, W_value and out_proj.",
}


# --- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttentionCase:
    """One scaled_dot_product_attention problem: shapes, mask kind and a seed for the values."""

    batch: tuple[int, ...]
    L: int
    S: int
    d: int
    dv: int
    mask: str  # "none", "random" (..., L, S), "causal" (L, S) or "padding" (..., 1, S)
    seed: int
    scale: float = 1.0

    def tensors(
        self, device: torch.device, dtype: torch.dtype = torch.float64
    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        q = randn((*self.batch, self.L, self.d), self.seed, dtype, device, scale=self.scale)
        k = randn((*self.batch, self.S, self.d), self.seed + 1, dtype, device, scale=self.scale)
        v = randn((*self.batch, self.S, self.dv), self.seed + 2, dtype, device)
        return q, k, v, self.make_mask(device)

    def describe(self) -> str:
        """The call in words: shapes of q, k, v and the mask."""
        masks = {"none": "no mask", "random": f"a random mask {(*self.batch, self.L, self.S)}",
                 "causal": f"a causal-style mask ({self.L}, {self.S})",
                 "padding": f"a key-padding mask {(*self.batch, 1, self.S)}"}
        return (f"q {(*self.batch, self.L, self.d)}, k {(*self.batch, self.S, self.d)}, "
                f"v {(*self.batch, self.S, self.dv)}, {masks[self.mask]}")

    def make_mask(self, device: torch.device) -> Tensor | None:
        """A bool mask of this case's kind in which every query may attend to at least one key."""
        L, S = self.L, self.S
        gen = torch.Generator().manual_seed(self.seed + 3)
        if self.mask == "none":
            return None
        if self.mask == "causal":  # the last query sees every key; with L > S the first sees one
            rows = torch.arange(L)[:, None] + max(S - L, 0)
            return (torch.arange(S)[None, :] <= rows).to(device)  # (L, S), broadcast over batch
        if self.mask == "padding":  # each batch element keeps a prefix of its keys
            lengths = torch.randint(1, S + 1, (*self.batch, 1, 1), generator=gen)
            return (torch.arange(S) < lengths).to(device)  # (..., 1, S)
        # random: every row keeps at least one key and, when S > 1, hides at least one
        mask = torch.rand((*self.batch, L, S), generator=gen) < 0.5
        keep = torch.randint(0, S, (*self.batch, L, 1), generator=gen)
        mask.scatter_(-1, keep, True)
        if S > 1:
            hide = (keep + torch.randint(1, S, keep.shape, generator=gen)) % S
            mask.scatter_(-1, hide, False)
        return mask.to(device)


@st.composite
def attention_cases(
    draw: st.DrawFn, masks: tuple[str, ...] = ("none",), min_keys: int = 1, scale: float = 1.0
) -> AttentionCase:
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    L, S = draw(st.integers(1, 6)), draw(st.integers(min_keys, 6))
    d, dv = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    return AttentionCase(batch, L, S, d, dv, draw(st.sampled_from(masks)), draw(seeds()), scale)


@dataclass(frozen=True)
class MHACase:
    """One MultiHeadAttention configuration, an input (B, T, d_in) and a seed for the weights."""

    B: int
    T: int
    d_in: int
    num_heads: int
    head_dim: int
    qkv_bias: bool
    dropout: float
    seed: int

    @property
    def d_out(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kwargs(self) -> dict[str, Any]:
        return {"d_in": self.d_in, "d_out": self.d_out, "context_length": self.T + 2,
                "dropout": self.dropout, "num_heads": self.num_heads, "qkv_bias": self.qkv_bias}

    def x(self, device: torch.device, dtype: torch.dtype = torch.float64, seed: int = 0) -> Tensor:
        return randn((self.B, self.T, self.d_in), self.seed + 100 + seed, dtype, device)

    def describe(self) -> str:
        args = ", ".join(f"{key}={value}" for key, value in self.kwargs.items())
        return f"MultiHeadAttention({args}) on x of shape ({self.B}, {self.T}, {self.d_in})"


@st.composite
def mha_cases(draw: st.DrawFn, min_len: int = 1) -> MHACase:
    return MHACase(
        B=draw(st.integers(1, 3)),
        T=draw(st.integers(min_len, 6)),
        d_in=draw(st.integers(1, 6)),
        num_heads=draw(st.integers(1, 3)),
        head_dim=draw(st.integers(1, 3)),
        qkv_bias=draw(st.booleans()),
        dropout=draw(st.sampled_from([0.1, 0.5])),
        seed=draw(seeds()),
    )


# One case that separates every classic mistake: several heads, L != S, dv != d, batch dims.
TYPICAL_SDPA = AttentionCase((2, 3), L=4, S=5, d=4, dv=3, mask="none", seed=7)
TYPICAL_MHA = MHACase(B=2, T=5, d_in=6, num_heads=3, head_dim=2, qkv_bias=True, dropout=0.5,
                      seed=11)
SUBMODULES = ("W_query", "W_key", "W_value", "out_proj")


def seeded(module: nn.Module, x: Tensor, seed: int) -> Tensor:
    """module(x) with the global RNG seeded, so that code which is random where it should not be
    fails the same way on every run (and Hypothesis can shrink it) instead of now and then."""
    torch.manual_seed(seed)
    return module(x)


def assert_deterministic_in_eval(module: nn.Module, x: Tensor, what: str) -> Tensor:
    """Two eval-mode passes under different seeds must agree; returns the first output."""
    first, second = seeded(module, x, 1), seeded(module, x, 2)
    same = (not isinstance(first, Tensor) or not isinstance(second, Tensor)
            or first.shape != second.shape
            or torch.allclose(first, second, rtol=0, atol=0, equal_nan=True))
    if not same:
        raise AssertionError(
            f"{what}: two forward passes on the same input gave different outputs in eval mode "
            f"(max difference {float((first - second).abs().nan_to_num().max()):.3g}). Dropout "
            "must be off after .eval(): apply the nn.Dropout module (it follows self.training), "
            "not F.dropout(..., training=True)."
        )
    return first


def build_pair(
    candidate: Any, reference: Any, case: MHACase, device: torch.device,
    dtype: torch.dtype = torch.float64,
) -> tuple[nn.Module, nn.Module]:
    """The learner's and the reference MultiHeadAttention holding the same random weights."""
    ref = reference.MultiHeadAttention(**case.kwargs)
    with torch.no_grad():
        for i, (_, param) in enumerate(sorted(ref.named_parameters())):
            param.copy_(randn(tuple(param.shape), case.seed + i, scale=0.5))
    mine = candidate.MultiHeadAttention(**case.kwargs)
    copy_weights(ref, mine)
    return mine.to(device, dtype), ref.to(device, dtype)


def copy_weights(source: nn.Module, target: nn.Module) -> None:
    """Copy W_query, W_key, W_value and out_proj submodule by submodule (buffers may differ)."""
    for name in SUBMODULES:
        if not isinstance(getattr(target, name, None), nn.Module):
            raise AssertionError(
                f"your MultiHeadAttention has no submodule `{name}`. This rung (like the book) "
                f"names the projections W_query, W_key, W_value (nn.Linear(d_in, d_out, "
                f"bias=qkv_bias)) and out_proj (nn.Linear(d_out, d_out)); the grader copies "
                f"weights into them by name."
            )
        # copies: learner code never holds the reference's own tensors
        expected = {key: value.detach().clone()
                    for key, value in getattr(source, name).state_dict().items()}
        try:
            getattr(target, name).load_state_dict(expected)
        except RuntimeError as error:
            shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in expected.items())
            raise AssertionError(
                f"your MultiHeadAttention.{name} cannot take the reference's weights "
                f"({shapes}): {' '.join(str(error).split())[:300]}"
            ) from None


# --- what classic mistakes compute -------------------------------------------------------------


def attention_with(
    *,
    scale: Callable[[Tensor, Tensor], float] = lambda q, v: q.shape[-1] ** -0.5,
    softmax_dim: int = -1,
    mask_mode: str = "-inf",
    causal_when_unmasked: bool = False,
) -> Callable[..., Tensor]:
    """Attention as code with one mistake computes it (the defaults are the correct formula)."""

    def compute(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> Tensor:
        if causal_when_unmasked and (mask is not None or k.shape[-2] == 1):
            # given a mask, or with one key, this mistake computes the right answer: naming it
            # would blame any float32 rounding on a causal mask
            raise ValueError("a causal mask where none is given shows only without a mask")
        scores = q @ k.transpose(-2, -1) * scale(q, v)
        if mask is None and causal_when_unmasked:
            L, S = scores.shape[-2:]
            mask = torch.ones(L, S, dtype=torch.bool, device=q.device).tril()
        if mask is not None and mask_mode == "-inf":
            scores = scores.masked_fill(~mask, float("-inf"))
        elif mask is not None and mask_mode == "inverted":
            scores = scores.masked_fill(mask, float("-inf"))
        elif mask is not None and mask_mode == "zero":
            scores = scores.masked_fill(~mask, 0.0)
        weights = torch.softmax(scores, dim=softmax_dim)
        if mask is not None and mask_mode == "after softmax":
            weights = weights * mask
        return weights @ v

    return compute


SCALE_MISTAKES = (
    Mistake("the scores were not divided by √d; attention is softmax(q kᵀ / √d) v with "
            "d = q.shape[-1]", attention_with(scale=lambda q, v: 1.0)),
    Mistake("the scores were divided by d instead of √d",
            attention_with(scale=lambda q, v: 1 / q.shape[-1])),
    Mistake("the scores were divided by √dv, the last dim of v; the scale uses d, the last dim "
            "of q and k", attention_with(scale=lambda q, v: v.shape[-1] ** -0.5)),
    Mistake("the softmax ran over the queries (dim=-2); it must run over the keys, the last "
            "axis (dim=-1), so that each query's weights sum to 1",
            attention_with(softmax_dim=-2)),
    Mistake("a causal mask was applied although mask=None; scaled_dot_product_attention masks "
            "only with the mask it is given", attention_with(causal_when_unmasked=True)),
)
MASK_MISTAKES = (
    Mistake("the mask was ignored; fill the scores where the mask is False with -inf before "
            "the softmax", attention_with(mask_mode="ignored")),
    Mistake("the mask polarity is inverted: True means 'may attend', so the -inf goes where the "
            "mask is False: scores.masked_fill(~mask, float('-inf'))",
            attention_with(mask_mode="inverted")),
    Mistake("masked scores were set to 0 instead of -inf; a score of 0 still gets weight after "
            "the softmax", attention_with(mask_mode="zero")),
    Mistake("the mask was applied after the softmax, so the remaining weights no longer sum to "
            "1; mask the scores before the softmax", attention_with(mask_mode="after softmax")),
)


def mha_with(
    ref: nn.Module,
    case: MHACase,
    *,
    scale: float | None = None,
    split: str = "transpose",
    merge: str = "transpose",
    mask: str = "causal",
    softmax_dim: int = -1,
    out_proj: bool = True,
) -> Callable[[Tensor], Tensor]:
    """MultiHeadAttention with `ref`'s weights, as code with one mistake computes it."""
    H, hd, d_out = case.num_heads, case.head_dim, case.d_out

    def heads(t: Tensor) -> Tensor:
        B, T, _ = t.shape
        if split == "view":
            return t.reshape(B, H, T, hd)  # (B, H, T, hd) but positions and heads mixed up
        return t.view(B, T, H, hd).transpose(1, 2)  # (B, H, T, hd)

    def compute(x: Tensor) -> Tensor:
        B, T, _ = x.shape
        q, k, v = heads(ref.W_query(x)), heads(ref.W_key(x)), heads(ref.W_value(x))
        scores = q @ k.transpose(-2, -1) * (hd**-0.5 if scale is None else scale)  # (B,H,T,T)
        ones = torch.ones(T, T, dtype=torch.bool, device=x.device)
        allowed = {"causal": ones.tril(), "no diagonal": ones.tril(-1), "upper": ones.triu(),
                   "inverted": ones.triu(1), "none": ones}[mask]
        weights = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=softmax_dim)
        context = weights @ v  # (B, H, T, hd)
        if merge == "view":
            context = context.reshape(B, T, d_out)
        else:
            context = context.transpose(1, 2).reshape(B, T, d_out)
        return ref.out_proj(context) if out_proj else context

    return compute


def mha_mistakes(ref: nn.Module, case: MHACase) -> tuple[Mistake, ...]:
    return (
        Mistake("the scores were divided by √d_out; each head attends in its own head_dim = "
                "d_out // num_heads dimensions, so divide by √head_dim",
                mha_with(ref, case, scale=case.d_out**-0.5)),
        Mistake("the scores were not divided by √head_dim", mha_with(ref, case, scale=1.0)),
        Mistake("the heads were split with .view(B, num_heads, T, head_dim), which cuts across "
                "positions; split with .view(B, T, num_heads, head_dim).transpose(1, 2)",
                mha_with(ref, case, split="view", merge="view")),
        Mistake("the heads were split with .view(B, num_heads, T, head_dim), which cuts across "
                "positions (each 'head' gets features of several positions); split with "
                ".view(B, T, num_heads, head_dim).transpose(1, 2)",
                mha_with(ref, case, split="view")),
        Mistake("the heads were merged with .view(B, T, d_out) straight from (B, num_heads, T, "
                "head_dim); transpose(1, 2) back to (B, T, num_heads, head_dim) first",
                mha_with(ref, case, merge="view")),
        Mistake("there is no causal mask: every position attends to the future",
                mha_with(ref, case, mask="none")),
        Mistake("the causal mask hides the diagonal: a position must attend to itself "
                "(tril(), not tril(-1))", mha_with(ref, case, mask="no diagonal")),
        Mistake("the mask is the upper triangle: positions see the future instead of the past",
                mha_with(ref, case, mask="upper")),
        Mistake("the causal mask's polarity is inverted: True means 'may attend', so the -inf "
                "goes where the mask is False (the future)", mha_with(ref, case, mask="inverted")),
        Mistake("the softmax ran over the queries (dim=-2) instead of the keys (dim=-1)",
                mha_with(ref, case, softmax_dim=-2)),
        Mistake("out_proj was not applied: after merging the heads, pass the result through "
                "self.out_proj", mha_with(ref, case, out_proj=False)),
    )


# --- scaled_dot_product_attention -------------------------------------------------------------


@pytest.mark.task(SDPA, category="shape")
@given(case=attention_cases(masks=("none", "random")), dtype=st.sampled_from(
    [torch.float32, torch.float64]))
@example(case=AttentionCase((), L=3, S=4, d=2, dv=5, mask="random", seed=2), dtype=torch.float64)
def test_sdpa_output_has_one_row_per_query_and_the_width_of_v(candidate, device, case, dtype):
    """q (..., L, d), k (..., S, d), v (..., S, dv) give (..., L, dv) in the dtype of q."""
    q, k, v, mask = case.tensors(device, dtype)
    out = candidate.scaled_dot_product_attention(q, k, v, mask=mask)
    shapes = f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
    assert isinstance(out, Tensor), f"{SDPA}({shapes}) returned {type(out).__name__}, not a tensor"
    expected = (*case.batch, case.L, case.dv)
    assert tuple(out.shape) == expected, (
        f"{SDPA}({shapes}) returned shape {tuple(out.shape)}, expected {expected}: one row per "
        f"query (L = {case.L}), as wide as v (dv = {case.dv}), with q's batch dims in front"
    )
    assert out.dtype == dtype, f"{SDPA} returned {out.dtype} for {dtype} inputs; keep the dtype"
    assert out.device == q.device, f"{SDPA} returned a tensor on {out.device}, not {q.device}"


@pytest.mark.task(SDPA, category="values")
@given(case=attention_cases())
@example(case=TYPICAL_SDPA)
def test_sdpa_matches_the_reference(candidate, reference, device, case):
    """Without a mask, every query averages all values with softmax(q kᵀ / √d) weights."""
    q, k, v, _ = case.tensors(device)
    out = candidate.scaled_dot_product_attention(q, k, v)
    assert_matches(out, reference.scaled_dot_product_attention, q, k, v,
                   what=f"{SDPA} output for {case.describe()}", mistakes=SCALE_MISTAKES)


@pytest.mark.task(SDPA, category="values")
@given(case=attention_cases(masks=("random",), min_keys=2))
@example(case=AttentionCase((2,), L=3, S=4, d=2, dv=3, mask="random", seed=3))
def test_sdpa_applies_the_mask(candidate, reference, device, case):
    """Where the mask is False the query gives the key no weight; the rest renormalise to 1."""
    q, k, v, mask = case.tensors(device)
    out = candidate.scaled_dot_product_attention(q, k, v, mask=mask)
    assert_matches(out, reference.scaled_dot_product_attention, q, k, v, mask=mask,
                   what=f"{SDPA} output for {case.describe()}",
                   mistakes=MASK_MISTAKES + SCALE_MISTAKES)


@pytest.mark.task(SDPA, category="values")
def test_float64_attention_is_float64_throughout(candidate, reference, device):
    """Two keys of almost equal score and values +1000 and -1000: the output, 1000 times the
    difference of the two weights, shows float32 rounding anywhere in the computation hundreds
    of times over the float64 tolerance."""
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64, device=device)  # (2, 2)
    k = torch.tensor([[1.0, 0.5], [0.999, 0.5013]], dtype=torch.float64, device=device)
    v = torch.tensor([[1000.0, 3.0], [-1000.0, 3.0]], dtype=torch.float64, device=device)
    out = candidate.scaled_dot_product_attention(q, k, v)
    in_float32 = Mistake(
        "part of the computation ran in float32 (a .float() cast, a float32 tensor or constant) "
        "although the inputs are float64; keep the input's dtype from start to end",
        lambda q, k, v: torch.softmax((q @ k.T / 2**0.5).float(), -1).double() @ v)
    assert_matches(out, reference.scaled_dot_product_attention, q, k, v,
                   what=(f"{SDPA} output for q (2, 2), k (2, 2), v (2, 2) (float64), two keys "
                         "of nearly equal score and values +1000 and -1000"),
                   mistakes=(in_float32,))


FAR_BELOW = 300.0  # q and k of length 300 in opposite directions: scores near -63640


@pytest.mark.task(SDPA, category="values")
def test_a_masked_key_gets_no_weight_when_every_allowed_score_is_very_negative(candidate,
                                                                             reference, device):
    """A masked score is -inf, below any score: a large finite stand-in (-1e4, -1e9) wins the
    softmax as soon as the allowed scores are lower still."""
    q = torch.tensor([[[FAR_BELOW, 0.0]], [[0.0, FAR_BELOW]]], dtype=torch.float64,
                     device=device)  # (2, 1, 2)
    k = torch.tensor([[[-FAR_BELOW, 0.0], [0.0, 1.0]]] * 2, dtype=torch.float64,
                     device=device)  # (2, 2, 2): key 0 opposite query 0, key 1 at score ~0
    k[1] = k[1].flip(-1)
    v = randn((2, 2, 3), 0, torch.float64, device)
    mask = torch.tensor([[True, False]], device=device)  # (1, 2): only key 0 is allowed
    out = candidate.scaled_dot_product_attention(q, k, v, mask=mask)
    fill = Mistake("masked scores were filled with a large finite number (here -1e4) instead of "
                   "-inf: when the allowed scores are lower still, the masked key wins the "
                   "softmax. Fill with float('-inf')",
                   lambda q, k, v, mask: torch.softmax((q @ k.transpose(-2, -1) / 2**0.5)
                                                       .masked_fill(~mask, -1e4), -1) @ v)
    # here an ignored, an inverted or a zero-filled mask gives the same output as a finite fill
    # (all the weight on key 1): the fill is named only for code that masks ordinary scores right
    assert_matches(out, reference.scaled_dot_product_attention, q, k, v, mask=mask,
                   what=(f"{SDPA} output for q (2, 1, 2), k (2, 2, 2), v (2, 2, 3), mask (1, 2) "
                         "allowing key 0 only, whose score is about -63640 (key 1, masked, "
                         "scores about 0)"),
                   mistakes=(fill,) if masks_ordinary_scores(candidate, reference, device) else ())


def masks_ordinary_scores(candidate: Any, reference: Any, device: torch.device) -> bool:
    """Whether the candidate gets a random mask over scores near 0 right, as a finite fill
    (-1e4, -1e9) does and an ignored, inverted or zero-filled mask does not."""
    q, k, v, mask = AttentionCase((2,), L=3, S=4, d=2, dv=3, mask="random", seed=3).tensors(device)
    try:
        got = candidate.scaled_dot_product_attention(q, k, v, mask=mask)
    except Exception:  # only a diagnosis: the check itself has already failed
        return False
    want = reference.scaled_dot_product_attention(q, k, v, mask=mask)
    return isinstance(got, Tensor) and got.shape == want.shape and bool(
        torch.allclose(got.double(), want, **FLOAT64_ROUNDING))


@pytest.mark.task(SDPA, category="values")
@given(case=attention_cases(masks=("causal", "padding")))
@example(case=AttentionCase((2,), L=4, S=4, d=3, dv=2, mask="causal", seed=5))
def test_sdpa_broadcasts_causal_and_padding_masks(candidate, reference, device, case):
    """A (L, S) mask applies to every batch element; a (..., 1, S) mask to every query."""
    q, k, v, mask = case.tensors(device)
    assert mask is not None
    out = candidate.scaled_dot_product_attention(q, k, v, mask=mask)
    assert_matches(out, reference.scaled_dot_product_attention, q, k, v, mask=mask,
                   what=f"{SDPA} output for {case.describe()} (the mask broadcasts to "
                        f"{(*case.batch, case.L, case.S)})",
                   mistakes=MASK_MISTAKES + SCALE_MISTAKES)


@pytest.mark.task(SDPA, category="values")
@given(case=attention_cases(masks=("none", "random", "causal")))
def test_sdpa_in_float32(candidate, reference, device, case):
    """float32 inputs: within twice the reference's own float32 error of the float64 result."""
    q, k, v, mask = case.tensors(device, torch.float32)
    out = candidate.scaled_dot_product_attention(q, k, v, mask=mask)
    assert_matches(out, reference.scaled_dot_product_attention, q, k, v, mask=mask,
                   what=f"{SDPA} output in float32 for {case.describe()}",
                   mistakes=MASK_MISTAKES + SCALE_MISTAKES)


@pytest.mark.hidden  # an edge case a course may keep for grading; see docs/grading.md
@pytest.mark.task(SDPA, category="values")
@given(case=attention_cases(masks=("none", "causal"), scale=60.0))
@example(case=AttentionCase((2,), L=3, S=4, d=4, dv=3, mask="causal", seed=1, scale=60.0))
def test_sdpa_is_stable_for_large_scores(candidate, reference, device, case):
    """Scores in the thousands must not overflow: softmax(s) equals softmax(s - max(s)).

    float64, so that exp overflows (past ~709) while the rounding of such huge scores stays far
    below the tolerance: this checks stability, not float32 precision (test_sdpa_in_float32 does).
    """
    q, k, v, mask = case.tensors(device)
    out = candidate.scaled_dot_product_attention(q, k, v, mask=mask)
    assert isinstance(out, Tensor) and bool(torch.isfinite(out).all()), (
        f"{SDPA} returned NaN or Inf for {case.describe()} with q and k scaled by 60, so that "
        "the scores are in the thousands. exp() overflowed: subtract each row's maximum score "
        "before exp, or use torch.softmax, which does."
    )
    assert_matches(out, reference.scaled_dot_product_attention, q, k, v, mask=mask,
                   what=f"{SDPA} output for large scores, {case.describe()}")


@pytest.mark.task(SDPA, category="grad")
@given(case=attention_cases(masks=("none", "random", "causal", "padding")))
@example(case=TYPICAL_SDPA)
def test_sdpa_gradients_match(candidate, reference, device, case):
    """Gradients reach q, k and v and equal the reference's (random upstream gradient)."""
    q, k, v, mask = case.tensors(device)
    assert_grads_match(candidate.scaled_dot_product_attention,
                       reference.scaled_dot_product_attention, q, k, v, mask=mask,
                       what=f"{SDPA} for {case.describe()}", seed=case.seed)


@pytest.mark.task(SDPA, category="properties")
@given(case=attention_cases(masks=("none", "random", "causal", "padding")))
def test_attention_weights_are_a_distribution_over_the_allowed_keys(candidate, device, case):
    """With v = identity the output is the weights: >= 0, 0 where masked, each row sums to 1."""
    q, k, _, mask = case.tensors(device)
    eye = torch.eye(case.S, dtype=q.dtype, device=device).expand(*case.batch, case.S, case.S)
    weights = candidate.scaled_dot_product_attention(q, k, eye.contiguous(), mask=mask)
    where = (f"(for {case.describe()} but v = identity, so that the output is the attention "
             "weights)")
    assert isinstance(weights, Tensor) and bool(torch.isfinite(weights).all()), (
        f"{SDPA} returned NaN or Inf {where}")
    assert bool((weights >= 0).all()), f"{SDPA}: some attention weights are negative {where}"
    sums = weights.sum(-1)
    worst = int((sums - 1).abs().flatten().argmax())
    off = float((sums - 1).abs().max())
    assert torch.allclose(sums, torch.ones_like(sums), **FLOAT64_ROUNDING), (
        f"{SDPA}: a query's weights sum to {sums.flatten()[worst].item():.17g}, not 1 {where}. "
        + ("They are 1 to float32 precision only: part of the float64 computation ran in "
           "float32 (a .float() cast, a float32 tensor or constant); keep the input's dtype."
           if off < 1e-5 else "The softmax runs over the keys, the last axis (dim=-1).")
    )
    if mask is not None:
        leaked = weights.masked_select(~mask.expand_as(weights))
        assert leaked.numel() == 0 or float(leaked.abs().max()) <= 1e-12, (
            f"{SDPA}: weight {float(leaked.abs().max()):.3g} on a key the mask hides {where}. "
            "Masked scores must be -inf before the softmax, so their weight is exactly 0."
        )


@pytest.mark.task(SDPA, category="structure")
def test_sdpa_does_not_call_the_builtin(candidate, device):
    """F.scaled_dot_product_attention and friends are off limits: this rung is about writing it."""
    q, k, v, mask = AttentionCase((2,), 4, 4, 8, 8, "causal", seed=1).tensors(device)
    assert_no_banned_ops(candidate.scaled_dot_product_attention, q, k, v, mask=mask,
                         banned=BANNED_OPS)


@pytest.mark.task(SDPA, category="structure")
def test_sdpa_has_no_loop_over_positions_or_batch(candidate, reference, device):
    """The number of tensor ops must not grow with any dimension of q, k and v (batch, heads,
    queries, keys, head size, value size), nor be many times the reference's (a loop padded to
    a fixed number of rounds)."""

    def at(impl: Any) -> Callable[..., Callable[[], Tensor]]:
        def make(B: int, H: int, L: int, S: int, d: int, dv: int) -> Callable[[], Tensor]:
            case = AttentionCase((B, H), L, S, d, dv, "random", seed=B + H + L + S + d + dv)
            q, k, v, mask = case.tensors(device)
            return lambda: impl.scaled_dot_product_attention(q, k, v, mask=mask)
        return make

    assert_op_count_constant_in_every_dim(at(candidate), {
        "L": ("sequence length (queries, L)", (4, 8, 32)),
        "S": ("number of keys (S)", (4, 8, 32)),
        "B": ("batch size", (2, 5, 20)),
        "H": ("number of heads", (2, 5, 20)),
        "d": ("query/key size (d)", (3, 6, 24)),
        "dv": ("value size (dv)", (3, 6, 24)),
    }, reference=at(reference))


# --- causal_mask ------------------------------------------------------------------------------


def on_device(tensor: Tensor, device: torch.device) -> bool:
    """torch.device("cuda") names whichever GPU is current; tensors always carry an index."""
    return tensor.device.type == device.type and device.index in (None, tensor.device.index)


def describe_mask_mistake(got: Tensor, T: int) -> str:
    ones = torch.ones(T, T, dtype=torch.bool, device=got.device)
    for wrong, mistake in (
        (ones.tril(1), "it also lets each query see the next key (tril(1)); the key at or "
                       "before the query, tril(), diagonal included"),
        (ones.tril(-1), "it leaves out the diagonal; a position may attend to itself (tril())"),
        (ones.triu(), "it is the upper triangle: True must mark keys at or *before* the query "
                      "(the past), not after it"),
        (ones.triu(1), "its polarity is inverted: True marks the keys a query *may* see"),
        (ones, "it is all True: nothing is hidden"),
    ):
        if torch.equal(got, wrong):
            return f" Likely mistake: {mistake}."
    return ""


@pytest.mark.task(MASK, category="shape")
@pytest.mark.parametrize("T", [1, 5])
def test_causal_mask_is_a_square_bool_tensor(candidate, device, T):
    """causal_mask(T, device) is a (T, T) torch.bool tensor on that device."""
    got = candidate.causal_mask(T, device=device)
    assert isinstance(got, Tensor), f"causal_mask({T}) returned {type(got).__name__}, not a tensor"
    assert tuple(got.shape) == (T, T), (
        f"causal_mask({T}) has shape {tuple(got.shape)}, not ({T}, {T})")
    assert got.dtype == torch.bool, (
        f"causal_mask({T}) has dtype {got.dtype}; it must be torch.bool (True = may attend), so "
        "that ~mask and masked_fill work. Pass dtype=torch.bool or compare (e.g. j <= i)."
    )
    assert on_device(got, device), f"causal_mask({T}, device={device}) is on {got.device}"


@pytest.mark.task(MASK, category="values")
@pytest.mark.parametrize("T", [1, 2, 3, 7, 16])
def test_causal_mask_marks_the_past_and_the_present(candidate, device, T):
    """Row i (a query) is True exactly in columns 0..i (the keys at or before it)."""
    got = candidate.causal_mask(T, device=device)
    expected = torch.ones(T, T, dtype=torch.bool, device=device).tril()
    assert isinstance(got, Tensor) and tuple(got.shape) == (T, T), (
        f"causal_mask({T}) must be a ({T}, {T}) tensor")
    got = got.to(device=device, dtype=torch.bool)
    if not torch.equal(got, expected):
        i, j = (int(n) for n in (got != expected).nonzero()[0])
        raise AssertionError(
            f"causal_mask({T}) is wrong at query {i}, key {j}: got {bool(got[i, j])}, expected "
            f"{bool(expected[i, j])} (key {j} is {'at or before' if j <= i else 'after'} query "
            f"{i}).{diagnose_mask(candidate, got, T, device)}"
            + (f"\n  got:\n{got.cpu()}" if T <= 7 else "")
        )


def diagnose_mask(candidate: Any, got: Tensor, T: int, device: torch.device) -> str:
    """The likely mistake, read off a larger mask when T is too small to tell them apart (at
    T=1 a mask that hides the diagonal and an inverted one are the same [[False]])."""
    if T < 4:
        try:
            larger = candidate.causal_mask(5, device=device)
            if isinstance(larger, Tensor) and tuple(larger.shape) == (5, 5):
                found = describe_mask_mistake(larger.to(device=device, dtype=torch.bool), 5)
                if found:
                    return found + " (seen on causal_mask(5))"
        except Exception:  # the larger call is only a diagnosis; the check already failed
            pass
    return describe_mask_mistake(got, T)


@pytest.mark.task(MASK, category="shape")
@pytest.mark.parametrize("where", ["meta", "cpu"])
def test_causal_mask_is_built_on_the_device_it_is_given(candidate, where):
    """causal_mask(T, device=...) builds the mask there (the meta device has no data: it shows
    where a tensor is made without computing it), and device=None means the default device."""
    target = torch.device(where)
    got = candidate.causal_mask(4, device=target if where == "meta" else None)
    assert isinstance(got, Tensor), f"causal_mask(4) returned {type(got).__name__}"
    expected = target if where == "meta" else torch.empty(0).device
    assert got.device == expected, (
        f"causal_mask(4, device={where if where == 'meta' else None!r}) is on {got.device}, not "
        f"{expected}. Create it there: torch.ones(T, T, dtype=torch.bool, device=device), so that "
        "attention on a GPU does not copy the mask over at every forward (or fail).")


@pytest.mark.task(MASK, category="properties")
def test_each_causal_mask_is_a_fresh_tensor(candidate, device):
    """Two calls give two tensors: a caller that edits its mask in place (say, & a padding mask)
    does not change the mask anybody else gets."""
    first = candidate.causal_mask(4, device=device)
    assert isinstance(first, Tensor) and first.dtype == torch.bool and first.shape == (4, 4), (
        "causal_mask(4) must be a (4, 4) bool tensor")
    expected = first.clone()
    first.fill_(False)  # the caller's own tensor, changed in place
    second = candidate.causal_mask(4, device=device)
    assert isinstance(second, Tensor) and torch.equal(second.to(torch.bool), expected), (
        "causal_mask(4) returned a tensor that a previous caller had edited in place (filled "
        "with False): every call hands out the same tensor. Build a new mask at every call (it "
        "costs one small op), or hand out a copy of a cached one.")


# --- MultiHeadAttention -----------------------------------------------------------------------


@pytest.mark.task(MHA, category="shape")
@given(case=mha_cases())
def test_mha_maps_d_in_to_d_out(candidate, device, case):
    """forward maps (B, T, d_in) to (B, T, d_out) and keeps float32."""
    module = candidate.MultiHeadAttention(**case.kwargs).to(device)
    out = module(case.x(device, torch.float32))
    assert isinstance(out, Tensor), f"{case.describe()} returned {type(out).__name__}"
    expected = (case.B, case.T, case.d_out)
    assert tuple(out.shape) == expected, (
        f"{case.describe()} returned shape {tuple(out.shape)}, expected {expected}")
    assert out.dtype == torch.float32, f"{case.describe()} returned {out.dtype}, not float32"


@pytest.mark.task(MHA, category="shape")
@pytest.mark.parametrize("qkv_bias", [False, True])
def test_mha_has_the_book_submodules(candidate, qkv_bias):
    """W_query, W_key, W_value: Linear(d_in, d_out, bias=qkv_bias); out_proj: Linear(d_out, d_out);
    an nn.Dropout(dropout)."""
    d_in, d_out = 5, 6
    module = candidate.MultiHeadAttention(d_in, d_out, context_length=8, dropout=0.25,
                                          num_heads=2, qkv_bias=qkv_bias)
    expected = {"W_query": (d_out, d_in, qkv_bias), "W_key": (d_out, d_in, qkv_bias),
                "W_value": (d_out, d_in, qkv_bias), "out_proj": (d_out, d_out, True)}
    for name, (rows, cols, has_bias) in expected.items():
        sub = getattr(module, name, None)
        assert isinstance(sub, nn.Module), (
            f"MultiHeadAttention({d_in}, {d_out}, ...) has no submodule `{name}`; the projections "
            f"are W_query, W_key, W_value and out_proj, each an nn.Linear")
        weight = getattr(sub, "weight", None)
        assert isinstance(weight, Tensor) and tuple(weight.shape) == (rows, cols), (
            f"`{name}.weight` should have shape ({rows}, {cols}) (nn.Linear({cols}, {rows})), "
            f"got {None if weight is None else tuple(weight.shape)}")
        bias = getattr(sub, "bias", None)
        assert (bias is not None) == has_bias, (
            f"`{name}` {'has' if bias is not None else 'has no'} bias, but with "
            f"qkv_bias={qkv_bias} it should {'' if has_bias else 'not '}have one"
            + (" (qkv_bias applies to W_query, W_key and W_value only)"
               if name != "out_proj" else " (out_proj always has a bias)"))
    dropouts = [m for m in module.modules() if isinstance(m, nn.Dropout)]
    assert dropouts, ("MultiHeadAttention has no nn.Dropout submodule; create "
                      "nn.Dropout(dropout) in __init__ and apply it to the attention weights")
    assert any(m.p == 0.25 for m in dropouts), (
        f"the nn.Dropout in MultiHeadAttention has p={dropouts[0].p}, but dropout=0.25 was asked")


@pytest.mark.task(MHA, category="shape")
def test_mha_constructor_defaults_to_no_qkv_bias(candidate):
    """MultiHeadAttention(d_in, d_out, context_length, dropout, num_heads), as the book calls it:
    qkv_bias defaults to False, so W_query, W_key and W_value have no bias; out_proj has one."""
    module = candidate.MultiHeadAttention(5, 6, 8, 0.25, 2)
    with_bias = [name for name in ("W_query", "W_key", "W_value")
                 if getattr(getattr(module, name, None), "bias", None) is not None]
    assert not with_bias, (
        f"MultiHeadAttention(5, 6, 8, 0.25, 2), qkv_bias not given: {', '.join(with_bias)} "
        "have a bias. qkv_bias defaults to False (the book's signature): "
        "def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False)")
    assert getattr(getattr(module, "out_proj", None), "bias", None) is not None, (
        "MultiHeadAttention(5, 6, 8, 0.25, 2): out_proj has no bias; it is nn.Linear(d_out, "
        "d_out), with its bias whatever qkv_bias says")


@pytest.mark.task(MHA, category="properties")
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_mha_moves_with_to_device(candidate, mode):
    """After module.to(device) forward runs on that device: every tensor it uses moves with the
    module or is made on x.device. Checked on the meta device, which has no data but refuses a
    tensor left on the CPU, as a GPU does."""
    case = TYPICAL_MHA
    module = candidate.MultiHeadAttention(**case.kwargs).to("meta").train(mode == "train")
    x = torch.empty(case.B, case.T, case.d_in, device="meta")
    what = f"{case.describe()}, module and x moved to the meta device, {mode} mode"
    try:
        out = module(x)
    except (NotImplementedError, AssertionError):
        raise
    except Exception as exc:
        raise AssertionError(
            f"{what}: forward raised {type(exc).__name__}: {' '.join(str(exc).split())[:300]}. "
            "A tensor made in __init__ and kept as a plain attribute (a mask) stays behind when "
            "the module moves: register it with self.register_buffer(...), or build it in "
            "forward on x.device (causal_mask(T, device=x.device)).") from None
    assert isinstance(out, Tensor) and out.device.type == "meta" and \
        tuple(out.shape) == (case.B, case.T, case.d_out), (
            f"{what}: returned {type(out).__name__} "
            f"{tuple(out.shape) if isinstance(out, Tensor) else ''} on "
            f"{out.device if isinstance(out, Tensor) else '-'}; expected a ({case.B}, {case.T}, "
            f"{case.d_out}) tensor on meta")


@pytest.mark.task(MHA, category="values")
@given(case=mha_cases())
@example(case=TYPICAL_MHA)
def test_mha_matches_the_reference(candidate, reference, device, case):
    """Same weights, eval mode (dropout > 0 but off): the output equals the reference's."""
    mine, ref = build_pair(candidate, reference, case, device)
    mine.eval()
    ref.eval()
    x = case.x(device)
    what = f"output of {case.describe()}, eval mode"
    out = assert_deterministic_in_eval(mine, x, what)
    assert_matches(out, ref, x, what=what, mistakes=mha_mistakes(ref, case))


@pytest.mark.task(MHA, category="values")
@given(case=mha_cases())
@example(case=TYPICAL_MHA)
def test_mha_in_float32(candidate, reference, device, case):
    """A float32 module is within twice the reference's own float32 error of the float64 result."""
    mine, ref = build_pair(candidate, reference, case, device, torch.float32)
    mine.eval()
    ref.eval()
    ref64 = build_pair(reference, reference, case, device)[1].eval()
    x = case.x(device, torch.float32)
    assert_matches(seeded(mine, x, 0), float32_reference(ref, ref64), x,
                   what=f"output of {case.describe()} in float32")


@pytest.mark.task(MHA, category="grad")
@given(case=mha_cases())
@example(case=TYPICAL_MHA)
def test_mha_gradients_match(candidate, reference, device, case):
    """Gradients w.r.t. x and every weight equal the reference's (random upstream gradient)."""
    mine, ref = build_pair(candidate, reference, case, device)
    mine.eval()
    ref.eval()
    torch.manual_seed(case.seed)  # randomness where there should be none fails reproducibly
    assert_module_grads_match(mine, ref, case.x(device), what=case.describe(), seed=case.seed)


@pytest.mark.task(MHA, category="values")
@pytest.mark.parametrize("T", [1, 5])
def test_mha_takes_a_sequence_as_long_as_its_context(candidate, reference, device, T):
    """T = context_length is allowed (the stub: T <= context_length): the output matches."""
    case = MHACase(B=2, T=T, d_in=6, num_heads=3, head_dim=2, qkv_bias=True, dropout=0.5,
                   seed=13)
    kwargs = {**case.kwargs, "context_length": T}
    args = ", ".join(f"{key}={value}" for key, value in kwargs.items())
    what = f"MultiHeadAttention({args}) on x of shape ({case.B}, {T}, {case.d_in}), eval mode"
    ref = reference.MultiHeadAttention(**kwargs)
    with torch.no_grad():
        for i, (_, param) in enumerate(sorted(ref.named_parameters())):
            param.copy_(randn(tuple(param.shape), case.seed + i, scale=0.5))
    mine = candidate.MultiHeadAttention(**kwargs)
    copy_weights(ref, mine)
    mine, ref = mine.to(device, torch.float64).eval(), ref.to(device, torch.float64).eval()
    x = case.x(device)
    try:
        out = seeded(mine, x, 0)
    except (ValueError, IndexError, RuntimeError) as error:
        raise AssertionError(
            f"{what} raised {type(error).__name__} ({' '.join(str(error).split())[:200]}); T may "
            f"equal context_length: refuse only T > context_length (T = {T} fits a "
            f"context_length of {T})") from None
    assert_matches(out, ref, x, what=what)


@pytest.mark.task(MHA, category="properties")
@given(case=mha_cases(min_len=2), cut=st.integers(0, 4))
@example(case=TYPICAL_MHA, cut=1)
def test_the_future_does_not_leak(candidate, device, case, cut):
    """Changing the input after position t leaves the output at positions 0..t unchanged."""
    t = min(cut, case.T - 2)
    module = candidate.MultiHeadAttention(**case.kwargs).to(device, torch.float64).eval()
    x = case.x(device)
    changed = x.clone()
    changed[:, t + 1:] = case.x(device, seed=1)[:, t + 1:]
    # the same seed for both passes: dropout wrongly left on in eval must not pass for a leak
    before, after = seeded(module, x, 0)[:, : t + 1], seeded(module, changed, 0)[:, : t + 1]
    if not torch.allclose(before, after, **FLOAT64_ROUNDING):
        position = int((before - after).abs().amax(dim=(0, 2)).argmax())
        raise AssertionError(
            f"{case.describe()}: changing only positions {t + 1}..{case.T - 1} of x changed the "
            f"output at position {position} by up to "
            f"{float((before - after).abs().max()):.3g}. The future leaks: position i may only "
            f"attend to positions 0..i. Mask the scores with causal_mask(T) (-inf where it is "
            f"False) before the softmax, in every head."
        )


@pytest.mark.task(MHA, category="properties")
def test_dropout_is_off_in_eval_mode(candidate, device):
    """After .eval() forward passes on the same input give the same output, whatever the seed."""
    case = TYPICAL_MHA
    module = candidate.MultiHeadAttention(**case.kwargs).to(device, torch.float64).eval()
    assert_deterministic_in_eval(module, case.x(device), case.describe())


@pytest.mark.task(MHA, category="properties")
def test_dropout_in_training_mode_drops_attention_weights(candidate, device):
    """In training mode an nn.Dropout zeroes some attention weights (the softmax output)."""
    case = MHACase(B=2, T=6, d_in=8, num_heads=2, head_dim=4, qkv_bias=False, dropout=0.5,
                   seed=3)
    module = candidate.MultiHeadAttention(**case.kwargs).to(device, torch.float64).train()
    dropouts = [m for m in module.modules() if isinstance(m, nn.Dropout)]
    assert dropouts, ("MultiHeadAttention has no nn.Dropout submodule; create "
                      "nn.Dropout(dropout) in __init__ and apply it to the attention weights")
    seen: list[tuple[Tensor, Tensor]] = []
    hooks = [m.register_forward_hook(lambda _, args, out: seen.append((args[0], out)))
             for m in dropouts]
    try:
        x = case.x(device)
        first, second = module(x), module(x)
    finally:
        for hook in hooks:
            hook.remove()
    assert not torch.equal(first, second), (
        f"{case.describe()} with dropout=0.5 gave the same output twice in training mode: "
        "dropout is not applied. Apply self.dropout to the attention weights in forward."
    )
    assert seen, ("your nn.Dropout was never called in training mode; apply self.dropout to the "
                  "attention weights, between the softmax and `@ v`")
    T = case.T
    weights = [(inp, out) for inp, out in seen if tuple(inp.shape[-2:]) == (T, T)
               and torch.allclose(inp.sum(-1), torch.ones((), dtype=inp.dtype, device=device))]
    assert weights, (
        f"your nn.Dropout received tensors of shapes {[tuple(i.shape) for i, _ in seen]}, none "
        f"of them the attention weights (a (..., {T}, {T}) softmax output whose rows sum to 1). "
        "Dropout belongs on the weights, between the softmax and `@ v`, as in the book."
    )
    inp, out = weights[0]
    assert bool(((out == 0) & (inp > 0)).any()), (
        "in training mode with p=0.5 the dropout zeroed none of the attention weights")


@pytest.mark.task(MHA, category="properties")
@pytest.mark.parametrize(("d_out", "num_heads"), [(6, 4), (5, 2), (8, 3)])
def test_heads_must_split_d_out_evenly(candidate, d_out, num_heads):
    """d_out not divisible by num_heads is refused at construction (ValueError; assert accepted)."""
    try:
        candidate.MultiHeadAttention(4, d_out, context_length=8, dropout=0.0,
                                     num_heads=num_heads)
    except (ValueError, AssertionError):
        return
    raise AssertionError(
        f"MultiHeadAttention(d_in=4, d_out={d_out}, context_length=8, dropout=0.0, "
        f"num_heads={num_heads}) was built without complaint, but {d_out} features do not split "
        f"into {num_heads} equal heads. Raise ValueError in __init__ when d_out % num_heads != 0."
    )


@pytest.mark.task(MHA, category="structure")
def test_mha_does_not_use_builtin_attention(candidate, device):
    """No nn.MultiheadAttention inside, no built-in attention op in forward, trained or not."""
    module = candidate.MultiHeadAttention(8, 8, context_length=8, dropout=0.1, num_heads=2)
    module = module.to(device)
    assert_no_banned_modules(module, BANNED_MODULES, what="your MultiHeadAttention")
    x = randn((2, 6, 8), 0, torch.float32, device)

    def train_step() -> None:
        module.train()
        module(x).sum().backward()

    def inference() -> None:
        module.eval()
        with torch.no_grad():
            module(x)

    assert_no_banned_ops(train_step, banned=BANNED_OPS)
    assert_no_banned_ops(inference, banned=BANNED_OPS)


@pytest.mark.task(MHA, category="structure")
def test_mha_has_no_loop_over_positions(candidate, reference, device):
    """The number of tensor ops in forward must not grow with any dimension: the sequence
    length, the batch size, the number of heads, the input and the output features."""
    # context_length above every size: slicing a mask buffer to its full length dispatches no op
    def at(impl: Any) -> Callable[..., Callable[[], Tensor]]:
        def make(B: int, T: int, H: int, d_in: int, head_dim: int) -> Callable[[], Tensor]:
            module = impl.MultiHeadAttention(d_in, H * head_dim, context_length=40, dropout=0.1,
                                             num_heads=H)
            module = module.to(device).eval()
            x = randn((B, T, d_in), B + T + H + d_in + head_dim, torch.float32, device)
            return lambda: module(x)
        return make

    assert_op_count_constant_in_every_dim(at(candidate), {
        "T": ("sequence length", (4, 8, 32)),
        "B": ("batch size", (2, 5, 20)),
        "H": ("number of heads", (2, 4, 8)),
        "d_in": ("input features (d_in)", (3, 6, 24)),
        "head_dim": ("features per head (d_out / num_heads)", (2, 4, 8)),
    }, reference=at(reference))


def forward_backward(module: nn.Module) -> Callable[[Tensor, Tensor], None]:
    """One training step's worth of attention: forward, then backward from a given gradient."""

    def step(x: Tensor, upstream: Tensor) -> None:
        module(x).backward(upstream)

    return step


def rotated_inputs(case: MHACase, device: torch.device) -> Callable[[int], tuple[Tensor, Tensor]]:
    """Input and upstream gradient for timing slot i: fresh values per slot, nothing to cache."""
    shape = (case.B, case.T, case.d_in)

    def make_inputs(slot: int) -> tuple[Tensor, Tensor]:
        return (randn(shape, 1000 + slot, torch.float32, device),
                randn((case.B, case.T, case.d_out), 2000 + slot, torch.float32, device))

    return make_inputs


def float32_reference(ref: nn.Module, ref64: nn.Module) -> Callable[[Tensor], Tensor]:
    """The reference at the input's dtype, so the error-ratio rule can run it in float64 too."""
    return lambda x: (ref64 if x.dtype == torch.float64 else ref)(x)


CPU_TIMING = MHACase(B=4, T=64, d_in=64, num_heads=4, head_dim=16, qkv_bias=False, dropout=0.1,
                     seed=5)
GPU_TIMING = MHACase(B=4, T=1024, d_in=256, num_heads=8, head_dim=32, qkv_bias=False,
                     dropout=0.1, seed=5)


@pytest.mark.task(MHA, category="speed")
def test_mha_forward_backward_is_as_fast_as_the_reference(candidate, reference, device):
    """Forward + backward (B=4, T=64, d=64, 4 heads, training mode) within the reference's band."""
    mine, ref = build_pair(candidate, reference, CPU_TIMING, device, torch.float32)
    mine.train()
    ref.train()
    assert_speed_within(forward_backward(mine), forward_backward(ref),
                        rotated_inputs(CPU_TIMING, device), band=AS_FAST_AS_REFERENCE,
                        what="MultiHeadAttention forward + backward (B=4, T=64, d=64, 4 heads)")


@pytest.mark.task(MHA, category="gpu")
def test_mha_on_cuda_at_1024_positions(candidate, reference, device):
    """On CUDA at T=1024: float32 values match, then forward + backward within the band."""
    case = GPU_TIMING
    mine, ref = build_pair(candidate, reference, case, device, torch.float32)
    ref64 = build_pair(reference, reference, case, device)[1]
    for module in (mine, ref, ref64):
        module.eval()
    x = case.x(device, torch.float32)
    with torch.no_grad():
        assert_matches(mine(x), float32_reference(ref, ref64), x,
                       what=f"output of {case.describe()} on {device}")
    del ref64
    mine.train()
    ref.train()
    assert_speed_within(forward_backward(mine), forward_backward(ref),
                        rotated_inputs(case, device), band=AS_FAST_AS_REFERENCE,
                        what=f"MultiHeadAttention forward + backward on {device} (B=4, T=1024, "
                             "d=256, 8 heads)")
