"""Spec for 13-generation: greedy and sampled decoding, and a KV cache (book chapters 4 and 5).

Run by `./kata check 13-generation`. Code is reached only through the `candidate` and `reference`
fixtures. Models are tiny (emb_dim 32, two layers, vocab 97, context 64) and float64, built here
from a seed, so a near-tie between two logits never turns one correct argmax into another.
Sampling is compared with the reference draw for draw (the same torch.Generator seed, the same
multinomial call) and statistically: over many draws from fixed logits, the frequencies must
match the filtered distribution, by a chi-square bound whose false-positive rate is 1e-6 (the
seeds are fixed, so a verdict never changes from run to run).

Every assert carries a message written for the learner, so pytest's assertion rewriting, which
would append its own introspection to it, is off for this module: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from torch import Tensor, nn

from grader.blocks import GPTConfig, GPTModel, MultiHeadAttention
from grader.harness import assert_matches, assert_op_count_constant
from grader.strategies import randn, seeds

pytestmark = pytest.mark.rung("13-generation")

GREEDY, GENERATE = "generate_text_simple", "generate"
MHA_CACHE, GPT_CACHE, CACHED = ("MultiHeadAttentionWithKVCache", "GPTModelWithKVCache",
                                "generate_text_simple_cached")

VOCAB, CONTEXT, EMB, HEADS, LAYERS = 97, 64, 32, 4, 2
# Chi-square bound: the (1 - 1e-6) quantile, by Wilson and Hilferty's cube-root approximation
# (within a few per cent of the exact quantile for every df >= 1 used here).
Z_ONE_IN_A_MILLION = 4.753
DRAWS = 20000  # draws per statistical check: one multinomial over 20000 identical rows


def chi_square_bound(df: int) -> float:
    """The value a chi-square statistic with df degrees of freedom exceeds with probability 1e-6."""
    a = 2.0 / (9.0 * df)
    return df * (1.0 - a + Z_ONE_IN_A_MILLION * math.sqrt(a)) ** 3


# --- models ----------------------------------------------------------------------------------


def tiny_config(context: int = CONTEXT, qkv_bias: bool = False) -> GPTConfig:
    return GPTConfig(vocab_size=VOCAB, context_length=context, emb_dim=EMB, n_heads=HEADS,
                     n_layers=LAYERS, drop_rate=0.1, qkv_bias=qkv_bias)


def book_config(context: int = CONTEXT) -> dict[str, Any]:
    """The same configuration as the book's dict: what the learner's classes are built from (a
    GPTConfig of this module is another class than the one their module imported)."""
    return dataclasses.asdict(tiny_config(context))


def seed_parameters(model: nn.Module, seed: int) -> nn.Module:
    """Random weights from private generators (never torch's global RNG), float64, eval mode."""
    model = model.to(torch.float64)
    with torch.no_grad():
        for i, (_, param) in enumerate(sorted(model.named_parameters())):
            param.copy_(randn(tuple(param.shape), seed + i, scale=0.6, offset=0.05))
    return model.eval()


def tiny_gpt(seed: int, device: torch.device, context: int = CONTEXT) -> nn.Module:
    """12's GPTModel (the reference's during collection) with seeded float64 weights."""
    return seed_parameters(GPTModel(tiny_config(context)), seed).to(device)


def ids(B: int, T: int, seed: int, device: torch.device) -> Tensor:
    gen = torch.Generator().manual_seed(seed + 7)
    return torch.randint(0, VOCAB, (B, T), generator=gen).to(device)


class Bigram(nn.Module):
    """A stand-in model whose next-token logits depend on the last token only: table[token].

    It records, at every forward, the input's shape, whether grad mode was on and its own
    training flag, so a check can ask what generate did with it.
    """

    def __init__(self, table: Tensor) -> None:
        super().__init__()
        self.table = nn.Parameter(table.clone())
        self.calls: list[tuple[tuple[int, ...], bool, bool]] = []

    def forward(self, idx: Tensor) -> Tensor:
        self.calls.append((tuple(idx.shape), torch.is_grad_enabled(), self.training))
        return self.table[idx]  # (B, T) -> (B, T, V)


def fixed_logits_model(row: Tensor) -> Bigram:
    """Every position's next-token logits are `row` (V,), whatever the token."""
    return Bigram(row.to(torch.float64).expand(VOCAB, -1).clone()).eval()


def chain_model(chain: dict[int, int], device: torch.device) -> Bigram:
    """Greedy from token a goes to chain[a] (a clear winner); other tokens go to 0."""
    table = randn((VOCAB, VOCAB), 3, scale=0.1)
    for a, b in chain.items():
        table[a, b] = 5.0
    return Bigram(table).to(device).eval()


# --- messages --------------------------------------------------------------------------------


def first_difference(got: Tensor, expected: Tensor, prompt_len: int) -> str:
    """Where two id tensors first differ, in words."""
    if tuple(got.shape) != tuple(expected.shape):
        return (f"your result has shape {tuple(got.shape)}, expected {tuple(expected.shape)} "
                f"(the prompt of {prompt_len} tokens and then the generated ones)")
    diff = (got != expected).nonzero()
    row, col = (int(v) for v in diff[0])
    step = col - prompt_len
    where = f"prompt position {col}" if step < 0 else f"generated token {step}"
    return (f"first difference at row {row}, {where}: got id {int(got[row, col])}, expected "
            f"{int(expected[row, col])} ({len(diff)} ids differ)")


def check_ids(got: Any, expected: Tensor, what: str, prompt: Tensor,
              mistakes: tuple[tuple[str, Callable[[], Tensor]], ...] = ()) -> None:
    """got must be an int64 tensor equal to expected; else name the first differing token and
    the first mistake whose ids got equals."""
    assert isinstance(got, Tensor), f"{what}: returned {type(got).__name__}, expected a Tensor"
    assert got.dtype == torch.int64, f"{what}: returned ids of dtype {got.dtype}, expected int64"
    if tuple(got.shape) == tuple(expected.shape) and torch.equal(got.cpu(), expected.cpu()):
        return
    message = f"{what}: {first_difference(got.cpu(), expected.cpu(), prompt.shape[1])}."
    for description, compute in mistakes:
        try:
            theirs = compute()
        except Exception:  # a mistake that cannot even run on this input is not this one
            continue
        if tuple(theirs.shape) == tuple(got.shape) and torch.equal(theirs.cpu(), got.cpu()):
            message += f" Likely mistake: {description}."
            break
    raise AssertionError(message)


@contextmanager
def global_rng_watched(what: str) -> Iterator[None]:
    """Fail when the body draws from torch's global CPU RNG."""
    before = torch.get_rng_state()
    yield
    assert torch.equal(torch.get_rng_state(), before), (
        f"{what}: torch's global random state moved although a generator was given. Likely "
        "mistake: torch.multinomial without generator=generator, so the draws come from torch's "
        "global RNG and two runs with the same generator differ.")


# --- a decoding loop the mistakes are written in ---------------------------------------------


@dataclass(frozen=True)
class Decoding:
    """How a step chooses its token; each field off its default is one classic mistake."""

    crop: bool = True
    position: int = -1  # the position whose logits are used
    temperature_first: bool = True  # divide the logits before the softmax (else: no effect)
    top_k_extra: int = 0  # keep k + top_k_extra tokens
    top_k_ties: bool = True  # keep tokens tied with the k-th
    top_p_crossing: bool = True  # keep the token that crosses top_p
    top_p_tempered: bool = True  # the nucleus of softmax(logits / temperature)
    eos: str = "stop"  # "stop", "keep" (append then stop) or "ignore"


def decode(model: nn.Module, idx: Tensor, max_new_tokens: int, context_size: int,
           temperature: float = 0.0, top_k: int | None = None, top_p: float | None = None,
           eos_id: int | None = None, seed: int | None = None,
           how: Decoding = Decoding()) -> Tensor:
    """The stub's decoding rule, or one mistake of it (`how`), drawing from a generator seeded
    with `seed` exactly as the reference does."""
    generator = None if seed is None else torch.Generator(device=idx.device).manual_seed(seed)
    for _ in range(max_new_tokens):
        idx_cond = idx[:, -context_size:] if how.crop else idx
        with torch.no_grad():
            logits = model(idx_cond)[:, how.position, :]
        if temperature > 0.0:
            scaled = logits / temperature if how.temperature_first else logits
            if top_k is not None:
                k = min(top_k + how.top_k_extra, scaled.shape[-1])
                if how.top_k_ties:
                    kth = torch.topk(scaled, k, dim=-1).values[:, -1:]
                    scaled = scaled.masked_fill(scaled < kth, float("-inf"))
                else:
                    keep = torch.zeros_like(scaled, dtype=torch.bool)
                    keep.scatter_(-1, torch.topk(scaled, k, dim=-1).indices, True)
                    scaled = scaled.masked_fill(~keep, float("-inf"))
            if top_p is not None:
                measured = scaled if how.top_p_tempered else scaled * temperature
                probs = torch.softmax(measured, dim=-1)
                ordered = torch.sort(probs, dim=-1, descending=True).values
                if how.top_p_crossing:
                    kept = ((ordered.cumsum(-1) - ordered) < top_p).sum(-1, keepdim=True)
                else:
                    kept = (ordered.cumsum(-1) <= top_p).sum(-1, keepdim=True).clamp(min=1)
                threshold = ordered.gather(-1, kept - 1)
                scaled = scaled.masked_fill(probs < threshold, float("-inf"))
            probs = torch.softmax(scaled, dim=-1)
            idx_next = torch.multinomial(probs, num_samples=1, generator=generator)
        else:
            idx_next = torch.argmax(logits, dim=-1, keepdim=True)
        done = eos_id is not None and bool((idx_next == eos_id).all())
        if done and how.eos == "stop":
            break
        idx = torch.cat((idx, idx_next), dim=1)
        if done and how.eos == "keep":
            break
    return idx


GREEDY_MISTAKES = (
    ("the context is not cropped to its last context_size tokens (idx[:, -context_size:])",
     Decoding(crop=False)),
    ("the logits of the first position, not the last (logits[:, -1, :])", Decoding(position=0)),
)
SAMPLING_MISTAKES = (
    ("the temperature has no effect: it must divide the logits before the softmax (dividing "
     "the probabilities, or the logits after the softmax, only rescales what multinomial "
     "renormalises)", Decoding(temperature_first=False)),
    ("top-k keeps k + 1 tokens", Decoding(top_k_extra=1)),
    ("top-k keeps exactly k tokens, dropping those tied with the k-th largest logit (keep "
     "every logit >= torch.topk(logits, k).values[:, -1:])", Decoding(top_k_ties=False)),
    ("top-p drops the token that crosses top_p: keep each token whose likelier tokens' total "
     "is still below top_p", Decoding(top_p_crossing=False)),
    ("top-p measured on softmax(logits) before the temperature: the nucleus is taken of the "
     "distribution that is sampled, softmax(logits / temperature)",
     Decoding(top_p_tempered=False)),
)
EOS_MISTAKES = (
    ("the eos_id token is appended before stopping; stop before appending it",
     Decoding(eos="keep")),
    ("eos_id is ignored: generation must stop at a step whose tokens are all eos_id",
     Decoding(eos="ignore")),
)


def mistakes_of(table: tuple[tuple[str, Decoding], ...], model: nn.Module, prompt: Tensor,
                *args: Any, **kwargs: Any) -> tuple[tuple[str, Callable[[], Tensor]], ...]:
    return tuple((text, lambda how=how: decode(model, prompt, *args, how=how, **kwargs))
                 for text, how in table)


# --- generate_text_simple --------------------------------------------------------------------


@dataclass(frozen=True)
class GreedyCase:
    B: int
    T: int
    new: int
    context_size: int
    seed: int


@st.composite
def greedy_cases(draw: st.DrawFn) -> GreedyCase:
    return GreedyCase(B=draw(st.integers(1, 3)), T=draw(st.integers(1, 12)),
                      new=draw(st.integers(0, 6)), context_size=draw(st.integers(2, 16)),
                      seed=draw(seeds()))


LONG_PROMPT = GreedyCase(B=2, T=10, new=5, context_size=4, seed=3)


@pytest.mark.task(GREEDY, category="values")
@given(case=greedy_cases())
@example(case=LONG_PROMPT)
@example(case=GreedyCase(B=3, T=3, new=4, context_size=16, seed=1))
def test_greedy_ids_match_the_reference(candidate, reference, device, case):
    """The book's greedy loop: crop, last position, argmax, append, max_new_tokens times."""
    model = tiny_gpt(case.seed, device)
    prompt = ids(case.B, case.T, case.seed, device)
    expected = reference.generate_text_simple(model, prompt, case.new, case.context_size)
    got = candidate.generate_text_simple(model, prompt, case.new, case.context_size)
    check_ids(got, expected, f"generate_text_simple(model, idx of shape {tuple(prompt.shape)}, "
              f"max_new_tokens={case.new}, context_size={case.context_size})", prompt,
              mistakes_of(GREEDY_MISTAKES, model, prompt, case.new, case.context_size))


@pytest.mark.task(GREEDY, category="values")
def test_greedy_runs_on_prompts_longer_than_the_context(candidate, reference, device):
    """A prompt longer than the model's context_length must be cropped, or the model refuses it."""
    model = tiny_gpt(4, device, context=8)
    prompt = ids(1, 12, 4, device)
    expected = reference.generate_text_simple(model, prompt, 3, 8)
    got = candidate.generate_text_simple(model, prompt, 3, 8)
    check_ids(got, expected, "generate_text_simple on a 12-token prompt with context_size=8 "
              "(the model's context_length)", prompt,
              mistakes_of(GREEDY_MISTAKES, model, prompt, 3, 8))


@pytest.mark.task(GREEDY, category="properties")
def test_greedy_runs_the_model_without_grad_and_as_handed(candidate, device):
    """The model runs under no_grad, once per new token, and its mode is left alone."""
    for training in (False, True):
        model = chain_model({1: 2, 2: 3}, device).train(training)
        candidate.generate_text_simple(model, torch.tensor([[1]], device=device), 3, 4)
        assert len(model.calls) == 3, (
            f"generate_text_simple with max_new_tokens=3 ran the model {len(model.calls)} times; "
            "expected once per new token")
        assert not any(grad for _, grad, _ in model.calls), (
            "generate_text_simple ran the model with grad enabled. Likely mistake: no "
            "`with torch.no_grad():` around model(idx_cond): generation needs no graph")
        assert all(mode == training for _, _, mode in model.calls), (
            f"generate_text_simple ran a model handed in {'training' if training else 'eval'} "
            "mode in another mode: the caller chooses it (model.eval() before generating)")


# --- generate --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleCase:
    B: int
    T: int
    new: int
    temperature: float
    top_k: int | None
    top_p: float | None
    seed: int


@st.composite
def sample_cases(draw: st.DrawFn) -> SampleCase:
    return SampleCase(B=draw(st.integers(1, 3)), T=draw(st.integers(1, 8)),
                      new=draw(st.integers(1, 6)),
                      temperature=draw(st.sampled_from([0.4, 1.0, 1.8])),
                      top_k=draw(st.sampled_from([None, 1, 3, 20, VOCAB])),
                      top_p=draw(st.sampled_from([None, 0.2, 0.6, 0.95, 1.0])),
                      seed=draw(seeds()))


def sampling_call(case: SampleCase, prompt: Tensor) -> str:
    return (f"generate(model, idx of shape {tuple(prompt.shape)}, max_new_tokens={case.new}, "
            f"context_size=6, temperature={case.temperature}, top_k={case.top_k}, "
            f"top_p={case.top_p}, generator seeded {case.seed})")


@pytest.mark.task(GENERATE, category="values")
@given(case=sample_cases())
@example(case=SampleCase(B=2, T=5, new=6, temperature=0.4, top_k=None, top_p=None, seed=1))
@example(case=SampleCase(B=2, T=3, new=6, temperature=1.0, top_k=3, top_p=None, seed=2))
@example(case=SampleCase(B=2, T=3, new=6, temperature=1.8, top_k=None, top_p=0.6, seed=3))
@example(case=SampleCase(B=1, T=3, new=6, temperature=1.8, top_k=20, top_p=0.2, seed=4))
def test_sampled_ids_match_the_reference_with_the_same_generator(candidate, reference, device,
                                                                 case):
    """softmax(filtered logits / temperature), one torch.multinomial draw per row from the
    generator: the same seed gives the reference's ids, draw for draw."""
    model = tiny_gpt(case.seed, device)
    prompt = ids(case.B, case.T, case.seed, device)
    args = (prompt, case.new, 6)
    options = {"temperature": case.temperature, "top_k": case.top_k, "top_p": case.top_p}
    expected = reference.generate(model, *args, **options,
                                  generator=torch.Generator(device).manual_seed(case.seed))
    with global_rng_watched(sampling_call(case, prompt)):
        got = candidate.generate(model, *args, **options,
                                 generator=torch.Generator(device).manual_seed(case.seed))
    check_ids(got, expected, sampling_call(case, prompt), prompt,
              mistakes_of(SAMPLING_MISTAKES + GREEDY_MISTAKES, model, prompt, case.new, 6,
                          seed=case.seed, **options))


@pytest.mark.task(GENERATE, category="values")
@pytest.mark.parametrize("top_k, top_p", [(None, None), (1, None), (5, 0.5)])
def test_temperature_zero_is_greedy(candidate, reference, device, top_k, top_p):
    """temperature=0.0 takes the argmax, whatever top_k and top_p say, and draws nothing."""
    model = tiny_gpt(8, device)
    prompt = ids(2, 9, 8, device)
    expected = reference.generate_text_simple(model, prompt, 5, 4)
    what = f"generate(..., max_new_tokens=5, context_size=4, temperature=0.0, top_k={top_k}, " \
           f"top_p={top_p})"
    with global_rng_watched(what):
        got = candidate.generate(model, prompt, 5, 4, temperature=0.0, top_k=top_k, top_p=top_p,
                                 generator=torch.Generator(device).manual_seed(0))
    check_ids(got, expected, what, prompt, mistakes_of(GREEDY_MISTAKES, model, prompt, 5, 4))


def nucleus(probs: Tensor, top_p: float) -> Tensor:
    """The stub's top-p rule on one row of probabilities: the kept tokens as a bool (V,)."""
    ordered = torch.sort(probs, descending=True).values
    kept = int(((ordered.cumsum(0) - ordered) < top_p).sum())
    return probs >= ordered[kept - 1]


def filtered_distribution(logits: Tensor, temperature: float, top_k: int | None,
                          top_p: float | None) -> Tensor:
    """What one sampling step draws from, computed from the stub's rules in float64."""
    scaled = logits.to(torch.float64) / temperature
    if top_k is not None:
        kth = torch.sort(scaled, descending=True).values[top_k - 1]
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    if top_p is not None:
        scaled = scaled.masked_fill(~nucleus(torch.softmax(scaled, 0), top_p), float("-inf"))
    return torch.softmax(scaled, 0)


def spread_logits(seed: int, ties_at: int | None = None) -> Tensor:
    """A row of logits from 3 down to -3 in a shuffled order; with ties_at=k the k-th and the
    next two largest are equal (a tie across the top-k boundary)."""
    values = torch.linspace(3.0, -3.0, VOCAB, dtype=torch.float64)
    if ties_at is not None:
        values[ties_at - 1:ties_at + 2] = values[ties_at - 1]
    order = torch.randperm(VOCAB, generator=torch.Generator().manual_seed(seed))
    return values[order]


@dataclass(frozen=True)
class Sampling:
    temperature: float
    top_k: int | None = None
    top_p: float | None = None
    ties_at: int | None = None
    seed: int = 0


SAMPLINGS = [
    Sampling(1.0),
    Sampling(0.5, seed=1),
    Sampling(2.0, seed=2),
    Sampling(1.5, top_k=10, seed=3),
    Sampling(1.0, top_k=5, ties_at=5, seed=4),
    Sampling(1.0, top_p=0.7, seed=5),
    Sampling(0.6, top_p=0.9, seed=6),
    Sampling(2.0, top_k=30, top_p=0.5, seed=7),
]


@pytest.mark.task(GENERATE, category="properties")
@pytest.mark.parametrize("sampling", SAMPLINGS, ids=lambda s: repr(s)[8:])
def test_draw_frequencies_match_the_filtered_distribution(candidate, device, sampling):
    """Over 20000 draws from fixed logits, no filtered token appears and the frequencies pass a
    chi-square test against softmax(filtered logits / temperature) at a 1e-6 false-positive
    rate (bins with fewer than 5 expected draws pooled)."""
    logits = spread_logits(sampling.seed, sampling.ties_at)
    expected = filtered_distribution(logits, sampling.temperature, sampling.top_k, sampling.top_p)
    model = fixed_logits_model(logits).to(device)
    prompt = torch.zeros(DRAWS, 1, dtype=torch.int64, device=device)
    what = (f"generate with temperature={sampling.temperature}, top_k={sampling.top_k}, "
            f"top_p={sampling.top_p} on fixed logits ({DRAWS} rows, one new token each)")
    generator = torch.Generator(device).manual_seed(1000 + sampling.seed)
    out = candidate.generate(model, prompt, 1, 1, temperature=sampling.temperature,
                             top_k=sampling.top_k, top_p=sampling.top_p, generator=generator)
    assert isinstance(out, Tensor) and tuple(out.shape) == (DRAWS, 2), (
        f"{what}: expected ids of shape ({DRAWS}, 2), got "
        f"{tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__}")
    counts = torch.bincount(out[:, 1].cpu(), minlength=VOCAB).to(torch.float64)
    kept = expected > 0
    stray = (counts > 0) & ~kept
    if stray.any():
        token = int(stray.nonzero()[0])
        raise AssertionError(
            f"{what}: drew token {token} {int(counts[token])} times, but the filtering drops it "
            f"(its logit {float(logits[token]):.3f} is outside the {int(kept.sum())} kept "
            "tokens). Likely mistake: " + stray_reason(sampling))
    means = expected * DRAWS
    small = means < 5
    observed = torch.cat([counts[~small], counts[small].sum().reshape(1)])
    mean = torch.cat([means[~small], means[small].sum().reshape(1)])
    keep_bins = mean > 0
    observed, mean = observed[keep_bins], mean[keep_bins]
    statistic = float(((observed - mean) ** 2 / mean).sum())
    df = len(mean) - 1
    if df >= 1 and statistic > chi_square_bound(df):
        worst = int(((counts - means).abs() / means.clamp(min=1).sqrt()).argmax())
        raise AssertionError(
            f"{what}: the draw frequencies do not follow softmax(filtered logits / "
            f"temperature): chi-square {statistic:.1f} over {df} degrees of freedom, above "
            f"{chi_square_bound(df):.1f} "
            f"(a correct sampler exceeds it once in a million). Worst token {worst}: drawn "
            f"{int(counts[worst])} times, expected {float(means[worst]):.1f}. "
            + frequency_reason(sampling, logits, counts))


def stray_reason(sampling: Sampling) -> str:
    if sampling.top_p is not None:
        return ("the nucleus is too wide: keep the fewest most likely tokens whose total "
                "probability reaches top_p, measured on softmax(logits / temperature)")
    return ("top-k keeps too many tokens: only logits >= the k-th largest (torch.topk(logits, "
            "k).values[:, -1:]) survive")


def frequency_reason(sampling: Sampling, logits: Tensor, counts: Tensor) -> str:
    """Name the mistake whose distribution the counts fit, when one does."""
    candidates = [
        ("the temperature has no effect: divide the logits by it before the softmax",
         filtered_distribution(logits, 1.0, sampling.top_k, sampling.top_p)),
    ]
    if sampling.top_k is not None and sampling.ties_at is not None:
        exact = torch.softmax(logits / sampling.temperature, 0)
        top = torch.topk(exact, sampling.top_k).indices
        mask = torch.zeros(VOCAB, dtype=torch.bool)
        mask[top] = True
        candidates.append(("top-k keeps exactly k tokens, dropping those tied with the k-th "
                           "largest logit", torch.where(mask, exact, 0.0) / exact[mask].sum()))
    for description, probs in candidates:
        if sampling.temperature == 1.0 and description.startswith("the temperature"):
            continue
        means = probs * DRAWS
        if bool(((counts > 0) <= (means > 0)).all()):
            fit = float(((counts - means) ** 2 / means.clamp(min=1e-12))[means > 0].sum())
            if fit < chi_square_bound(max(int((means > 0).sum()) - 1, 1)):
                return f"Likely mistake: {description}."
    return "Sample with torch.multinomial(softmax(filtered logits / temperature), 1, generator)."


@pytest.mark.task(GENERATE, category="values")
def test_top_k_and_top_p_at_their_boundaries(candidate, reference, device):
    """Ties at the k-th logit are all kept; the token that crosses top_p is kept; top_k=1 and a
    tiny top_p are greedy."""
    row = torch.full((VOCAB,), -4.0, dtype=torch.float64)
    row[[10, 20, 30]] = 2.0  # three tied best tokens: top_k=1 and 2 keep all three
    row[40], row[50] = 1.0, 0.5
    model = fixed_logits_model(row).to(device)
    prompt = torch.zeros(4000, 1, dtype=torch.int64, device=device)
    # p = 0.262 for each of the three best, 0.096 for 40, 0.058 for 50: top_p=0.85 is crossed
    # by 40 (0.785 before it, 0.882 with it)
    for top_k, top_p, allowed in [(1, None, {10, 20, 30}), (2, None, {10, 20, 30}),
                                  (4, None, {10, 20, 30, 40}), (None, 0.05, {10, 20, 30}),
                                  (None, 0.85, {10, 20, 30, 40})]:
        what = f"generate on logits with three tied best tokens, top_k={top_k}, top_p={top_p}"
        out = candidate.generate(model, prompt, 1, 1, temperature=1.0, top_k=top_k, top_p=top_p,
                                 generator=torch.Generator(device).manual_seed(5))
        drawn = set(out[:, 1].cpu().tolist())
        assert drawn <= allowed, (
            f"{what}: drew {sorted(drawn - allowed)}, which the filtering drops (kept: "
            f"{sorted(allowed)}). Likely mistake: "
            + ("top-k keeps more than the tokens >= the k-th largest logit" if top_k else
               "the nucleus is too wide"))
        assert drawn == allowed, (
            f"{what}: never drew {sorted(allowed - drawn)} in 4000 draws, which the filtering "
            "keeps. Likely mistake: "
            + ("top-k keeps exactly k tokens, dropping those tied with the k-th largest logit "
               "(keep every logit >= torch.topk(logits, k).values[:, -1:])" if top_k else
               "top-p drops the token that crosses top_p (or tokens tied with it)"))
        expected = reference.generate(model, prompt, 1, 1, temperature=1.0, top_k=top_k,
                                      top_p=top_p,
                                      generator=torch.Generator(device).manual_seed(5))
        check_ids(out, expected, what, prompt)


@pytest.mark.task(GENERATE, category="values")
def test_a_top_p_reached_exactly_keeps_only_the_tokens_that_reach_it(candidate, device):
    """top_p equal to the best token's probability: that token alone reaches it (>= top_p), so
    it is the only one kept. (Logits chosen so that p1 + p2 - p2 == p1 in float64: every way
    of summing the likelier tokens gives exactly top_p.)"""
    row = torch.full((VOCAB,), -3.0, dtype=torch.float64)
    row[7], row[8] = 2.0, 1.5
    best = float(torch.softmax(row, 0)[7])  # the same float64 softmax any correct code takes
    model = fixed_logits_model(row).to(device)
    prompt = torch.zeros(2000, 1, dtype=torch.int64, device=device)
    out = candidate.generate(model, prompt, 1, 1, temperature=1.0, top_p=best,
                             generator=torch.Generator(device).manual_seed(3))
    drawn = sorted(set(out[:, 1].cpu().tolist()))
    assert drawn == [7], (
        f"generate with temperature=1.0 and top_p={best!r}, the best token's own probability: "
        f"drew {drawn[:8]}, expected only token 7. The nucleus is the fewest most likely tokens "
        "whose total reaches top_p (>= top_p); token 7 reaches it alone, so nothing after it "
        "is kept (compare the total before a token with < top_p, not <=)")


@pytest.mark.task(GENERATE, category="properties")
def test_the_same_generator_seed_gives_the_same_text(candidate, device):
    """Two calls with generators seeded alike return the same ids; torch's global RNG is left
    as it was."""
    model = tiny_gpt(9, device)
    prompt = ids(2, 4, 9, device)
    runs = []
    for _ in range(2):
        with global_rng_watched("generate(..., temperature=1.0, top_k=20, generator=...)"):
            runs.append(candidate.generate(model, prompt, 8, 16, temperature=1.0, top_k=20,
                                           generator=torch.Generator(device).manual_seed(77)))
    assert torch.equal(runs[0], runs[1]), (
        "generate with two generators seeded 77 returned different ids: every draw must come "
        "from the generator (torch.multinomial(probs, 1, generator=generator))")


@pytest.mark.task(GENERATE, category="values")
def test_generation_stops_before_the_end_token(candidate, reference, device):
    """One row: when the chosen token is eos_id, stop and do not append it."""
    model = chain_model({1: 2, 2: 3, 3: 4, 4: 5, 5: 6}, device)
    prompt = torch.tensor([[1]], device=device)
    for eos_id in (4, 9):
        expected = reference.generate(model, prompt, 6, 4, eos_id=eos_id)
        got = candidate.generate(model, prompt, 6, 4, eos_id=eos_id)
        check_ids(got, expected, f"greedy generate from [[1]] along 1 -> 2 -> 3 -> 4 -> ... "
                  f"with eos_id={eos_id}, max_new_tokens=6", prompt,
                  mistakes_of(EOS_MISTAKES, model, prompt, 6, 4, eos_id=eos_id))


@pytest.mark.task(GENERATE, category="values")
def test_several_rows_stop_only_when_every_row_ends(candidate, reference, device):
    """Several rows: a step whose tokens are all eos_id ends the loop; a row's eos_id at a step
    where another row chose something else is appended."""
    # row 0: 1 -> 2 -> 9 (eos) -> 1 ...; row 1: 5 -> 6 -> 7 -> 9 (eos) ...; row 2: 8 -> 9
    model = chain_model({1: 2, 2: 9, 9: 1, 5: 6, 6: 7, 7: 9, 8: 9, 11: 12, 12: 9}, device)
    for rows, what in [([[1], [5]], "rows 0 and 1 reach eos at different steps"),
                       ([[2], [7], [8]], "every row chooses eos at the first step"),
                       ([[11], [1]], "both rows choose eos at the second step")]:
        prompt = torch.tensor(rows, device=device)
        expected = reference.generate(model, prompt, 6, 4, eos_id=9)
        got = candidate.generate(model, prompt, 6, 4, eos_id=9)
        check_ids(got, expected, f"greedy generate with eos_id=9 on {rows} ({what})", prompt,
                  mistakes_of(EOS_MISTAKES, model, prompt, 6, 4, eos_id=9))


@pytest.mark.task(GENERATE, category="values")
def test_sampling_stops_at_the_end_token(candidate, reference, device):
    """eos_id ends sampled generation too (the draws before it are the reference's)."""
    row = torch.zeros(VOCAB, dtype=torch.float64)
    row[3] = 2.5  # eos 3 is drawn about one time in ten
    model = fixed_logits_model(row).to(device)
    prompt = torch.zeros(1, 1, dtype=torch.int64, device=device)
    for seed in range(6):
        expected = reference.generate(model, prompt, 30, 1, temperature=1.0, eos_id=3,
                                      generator=torch.Generator(device).manual_seed(seed))
        got = candidate.generate(model, prompt, 30, 1, temperature=1.0, eos_id=3,
                                 generator=torch.Generator(device).manual_seed(seed))
        check_ids(got, expected, f"sampled generate with eos_id=3, generator seeded {seed}",
                  prompt, mistakes_of(EOS_MISTAKES, model, prompt, 30, 1, temperature=1.0,
                                      eos_id=3, seed=seed))


@pytest.mark.task(GENERATE, category="properties")
def test_generate_runs_the_model_without_grad_and_as_handed(candidate, device):
    """The model runs under no_grad, once per new token, in the mode it was handed."""
    for training in (False, True):
        for temperature in (0.0, 1.0):
            model = chain_model({1: 2, 2: 3}, device).train(training)
            candidate.generate(model, torch.tensor([[1]], device=device), 3, 4,
                               temperature=temperature,
                               generator=torch.Generator(device).manual_seed(0))
            what = f"generate(..., max_new_tokens=3, temperature={temperature})"
            assert len(model.calls) == 3, (
                f"{what} ran the model {len(model.calls)} times; expected once per new token")
            assert not any(grad for _, grad, _ in model.calls), (
                f"{what} ran the model with grad enabled. Likely mistake: no `with "
                "torch.no_grad():` around model(idx_cond)")
            assert all(mode == training for _, _, mode in model.calls), (
                f"{what} ran a model handed in {'training' if training else 'eval'} mode in "
                "another mode: the caller chooses it (model.eval() before generating)")


# --- the KV cache: attention -----------------------------------------------------------------


def attention_pair(candidate: Any, seed: int, device: torch.device,
                   qkv_bias: bool | None = True, context: int = 24,
                   d_in: int = EMB) -> tuple[nn.Module, nn.Module]:
    """The learner's cached attention and 08's (the reference's) with the same weights;
    qkv_bias=None leaves it to the constructors' default."""
    flags = () if qkv_bias is None else (qkv_bias,)
    plain = seed_parameters(MultiHeadAttention(d_in, EMB, context, 0.1, HEADS, *flags), seed)
    mine = candidate.MultiHeadAttentionWithKVCache(d_in, EMB, context, 0.1, HEADS, *flags)
    mine = mine.to(torch.float64)
    copy_by_name(plain, mine, MHA_CACHE)
    return mine.to(device).eval(), plain.to(device)


def copy_by_name(source: nn.Module, target: nn.Module, what: str) -> None:
    expected = dict(source.named_parameters())
    got = dict(target.named_parameters())
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    assert not missing and not extra, (
        f"{what}: the parameter names differ from 12's GPTModel / 08's MultiHeadAttention: "
        f"missing {missing[:5] or 'none'}, unexpected {extra[:5] or 'none'}")
    with torch.no_grad():
        for name, tensor in expected.items():
            assert tuple(got[name].shape) == tuple(tensor.shape), (
                f"{what}: parameter {name} has shape {tuple(got[name].shape)}, expected "
                f"{tuple(tensor.shape)}")
            got[name].copy_(tensor)


@st.composite
def chunkings(draw: st.DrawFn) -> tuple[int, ...]:
    """How a sequence is fed to the cache: a prompt chunk and then a few more chunks."""
    return tuple(draw(st.lists(st.integers(1, 4), min_size=2, max_size=5)))


def chunked(module: nn.Module, x: Tensor, sizes: tuple[int, ...]) -> Tensor:
    """Feed x (B, T, ...) to module in chunks of `sizes` with use_cache=True; concatenate."""
    outs, start = [], 0
    with torch.no_grad():
        for size in sizes:
            outs.append(module(x[:, start:start + size], use_cache=True))
            start += size
    return torch.cat(outs, dim=1)


@pytest.mark.task(MHA_CACHE, category="values")
@pytest.mark.parametrize("d_in, qkv_bias", [(EMB, True), (16, None)])
def test_uncached_attention_is_08s(candidate, device, d_in, qkv_bias):
    """use_cache=False is 08's MultiHeadAttention on the same weights, with 08's constructor
    (d_in may differ from d_out; qkv_bias defaults to False)."""
    mine, plain = attention_pair(candidate, 1, device, qkv_bias=qkv_bias, d_in=d_in)
    x = randn((2, 7, d_in), 11, device=device)
    bias = "" if qkv_bias is None else f", qkv_bias={qkv_bias}"
    with torch.no_grad():
        assert_matches(mine(x), plain, x, what=f"MultiHeadAttentionWithKVCache({d_in}, 32, 24, "
                       f"0.1, 4{bias})(x of shape (2, 7, {d_in})), use_cache=False")


@pytest.mark.task(MHA_CACHE, category="values")
@given(sizes=chunkings(), seed=seeds())
@example(sizes=(3, 1, 1, 1), seed=2)
@example(sizes=(2, 3, 2), seed=3)
def test_cached_attention_equals_attention_over_the_whole_sequence(candidate, device, sizes,
                                                                   seed):
    """Fed chunk by chunk with use_cache=True, the outputs are those of one uncached pass."""
    mine, plain = attention_pair(candidate, seed, device)
    x = randn((2, sum(sizes), EMB), seed + 1, device=device)
    with torch.no_grad():
        expected = plain(x)
    got = chunked(mine, x, sizes)
    what = f"MultiHeadAttentionWithKVCache fed x of shape (2, {sum(sizes)}, 32) in chunks {sizes}"
    assert_matches(got, lambda _: expected, x, what=what, mistakes=attention_mistakes(plain, sizes))


def attention_mistakes(plain: nn.Module, sizes: tuple[int, ...]) -> tuple[Any, ...]:
    """What a cache with a classic mistake computes on chunks `sizes`."""
    from grader.harness import Mistake

    def each_chunk_alone(x: Tensor) -> Tensor:
        outs, start = [], 0
        for size in sizes:
            outs.append(plain(x[:, start:start + size]))
            start += size
        return torch.cat(outs, dim=1)

    def mask_from_zero(x: Tensor) -> Tensor:
        # every chunk's queries masked as if they sat at positions 0..T-1 of the keys
        B, _, _ = x.shape
        H, hd = plain.num_heads, plain.head_dim
        k = plain.W_key(x).view(B, -1, H, hd).transpose(1, 2)
        v = plain.W_value(x).view(B, -1, H, hd).transpose(1, 2)
        q = plain.W_query(x).view(B, -1, H, hd).transpose(1, 2)
        outs, start = [], 0
        for size in sizes:
            S = start + size
            mask = torch.ones(size, S, dtype=torch.bool, device=x.device).tril()
            scores = q[:, :, start:S] @ k[:, :, :S].transpose(-2, -1) / hd**0.5
            w = torch.softmax(scores.masked_fill(~mask, float("-inf")), -1)
            outs.append((w @ v[:, :, :S]).transpose(1, 2).reshape(B, size, -1))
            start = S
        return plain.out_proj(torch.cat(outs, dim=1))

    with torch.no_grad():
        return (Mistake("each chunk attends only to itself: the cached keys and values are not "
                        "used (torch.cat them onto cache_k and cache_v)", each_chunk_alone),
                Mistake("the causal mask of a cached step starts at position 0: query i of a "
                        "chunk sits at ptr_current_pos + i and sees keys 0..ptr_current_pos + i "
                        "(tril(diagonal=ptr_current_pos))", mask_from_zero))


@pytest.mark.task(MHA_CACHE, category="properties")
def test_reset_cache_forgets_every_position(candidate, device):
    """After reset_cache() the next cached call starts a new sequence at position 0."""
    mine, plain = attention_pair(candidate, 4, device)
    first, second = randn((1, 5, EMB), 1, device=device), randn((1, 4, EMB), 2, device=device)
    chunked(mine, first, (3, 2))
    mine.reset_cache()
    assert mine.cache_k is None and mine.cache_v is None and mine.ptr_current_pos == 0, (
        "MultiHeadAttentionWithKVCache.reset_cache() left cache_k, cache_v or ptr_current_pos "
        f"set (ptr_current_pos={mine.ptr_current_pos}); expected None, None and 0")
    with torch.no_grad():
        expected = plain(second)
    assert_matches(chunked(mine, second, (2, 1, 1)), lambda _: expected, second,
                   what="MultiHeadAttentionWithKVCache after reset_cache(), fed a new sequence "
                   "of 4 positions in chunks (2, 1, 1)")


@pytest.mark.task(MHA_CACHE, category="properties")
def test_the_pointer_counts_the_cached_positions(candidate, device):
    """A new instance starts empty (cache_k = cache_v = None, ptr_current_pos = 0); the pointer
    counts the cached positions."""
    mine, _ = attention_pair(candidate, 5, device)
    assert mine.cache_k is None and mine.cache_v is None and mine.ptr_current_pos == 0, (
        "a new MultiHeadAttentionWithKVCache must start with cache_k = cache_v = None and "
        "ptr_current_pos = 0")
    chunked(mine, randn((3, 6, EMB), 3, device=device), (4, 1, 1))
    assert mine.ptr_current_pos == 6, (
        f"ptr_current_pos is {mine.ptr_current_pos} after 6 cached positions (chunks 4, 1, 1), "
        "expected 6")


@pytest.mark.task(MHA_CACHE, category="properties")
def test_a_cache_past_the_context_is_refused(candidate, device):
    """ValueError when the cached positions plus the new ones exceed context_length."""
    mine, _ = attention_pair(candidate, 6, device, context=16)
    chunked(mine, randn((1, 14, EMB), 4, device=device), (14,))
    with pytest.raises(ValueError):
        chunked(mine, randn((1, 3, EMB), 5, device=device), (3,))


def projection_inputs(module: nn.Module) -> tuple[list[tuple[str, tuple[int, ...]]], Callable]:
    """Record the input shape of every nn.Linear under module; returns (log, remove)."""
    log: list[tuple[str, tuple[int, ...]]] = []
    handles = [sub.register_forward_pre_hook(
        lambda _m, args, name=name: log.append((name, tuple(args[0].shape))))
        for name, sub in module.named_modules() if isinstance(sub, nn.Linear)]
    return log, lambda: [h.remove() for h in handles]


@pytest.mark.task(MHA_CACHE, category="structure")
def test_a_cached_step_projects_only_the_new_token(candidate, device):
    """A step of one new token after 9 cached ones runs every projection on one position."""
    mine, _ = attention_pair(candidate, 7, device)
    chunked(mine, randn((2, 9, EMB), 6, device=device), (9,))
    log, remove = projection_inputs(mine)
    try:
        chunked(mine, randn((2, 1, EMB), 7, device=device), (1,))
    finally:
        remove()
    wide = [(name, shape) for name, shape in log if shape[1] != 1]
    assert not wide, (
        f"a cached step with one new token after 9 cached ones ran {wide[0][0]} on an input of "
        f"shape {wide[0][1]}. Likely mistake: the cache recomputes the prefix: keep the "
        "projected keys and values in cache_k and cache_v and project only the new x")


def primed(build: Callable[[], nn.Module], prompt: Tensor, step: Tensor,
           copies: int = 2) -> Callable[[], Any]:
    """A call running one cached step on `step`, each time on a fresh module that has cached
    `prompt` (assert_op_count_constant calls it twice: a warm-up, then the one it counts)."""
    modules = []
    for _ in range(copies):
        module = build()
        with torch.no_grad():
            module(prompt, use_cache=True)
        modules.append(module)

    def call() -> Any:
        module = modules.pop(0) if len(modules) > 1 else modules[0]
        with torch.no_grad():
            return module(step, use_cache=True)

    return call


PREFIXES = (4, 16, 48)


@pytest.mark.task(MHA_CACHE, category="structure")
def test_a_cached_attention_step_costs_the_same_at_every_prefix(candidate, device):
    """The tensor operations of one cached step do not grow with the cached prefix."""

    def make_call(prefix: int) -> Callable[[], Any]:
        def build() -> nn.Module:
            module = candidate.MultiHeadAttentionWithKVCache(EMB, EMB, CONTEXT, 0.1, HEADS)
            return module.to(device, torch.float64).eval()
        return primed(build, randn((1, prefix, EMB), 8, device=device),
                      randn((1, 1, EMB), 9, device=device))

    assert_op_count_constant(make_call, sizes=PREFIXES, dim="cached prefix length",
                             advice="Append the new keys and values to the cache with one "
                             "torch.cat and attend over it with one matmul: no loop over the "
                             "cached positions.")


# --- the KV cache: the model -----------------------------------------------------------------


def model_pair(candidate: Any, seed: int, device: torch.device,
               context: int = CONTEXT) -> tuple[nn.Module, nn.Module]:
    """The learner's cached GPT and 12's GPTModel (the reference's) with the same weights."""
    plain = tiny_gpt(seed, device, context)
    mine = candidate.GPTModelWithKVCache(book_config(context)).to(torch.float64)
    copy_by_name(plain, mine, GPT_CACHE)
    return mine.to(device).eval(), plain


def positions_from_zero(plain: nn.Module, sizes: tuple[int, ...]) -> Callable[[Tensor], Tensor]:
    """What a cached model whose every chunk embeds positions 0..T-1 computes (ids -> logits):
    each chunk's tokens get the embedding of the positions 0..size-1 over the right keys."""

    def compute(in_idx: Tensor) -> Tensor:
        shifted = []
        start = 0
        for size in sizes:
            shifted.append(torch.arange(size, device=in_idx.device))
            start += size
        positions = torch.cat(shifted)
        x = plain.drop_emb(plain.tok_emb(in_idx) + plain.pos_emb(positions))
        for block in plain.trf_blocks:
            x = x + block.drop_shortcut(block.att(block.norm1(x)))
            x = x + block.drop_shortcut(block.ff(block.norm2(x)))
        return plain.out_head(plain.final_norm(x))

    return compute


@pytest.mark.task(GPT_CACHE, category="values")
def test_uncached_logits_are_gptmodels(candidate, device):
    """GPTModelWithKVCache takes GPTModel's parameters by name; use_cache=False gives its
    logits."""
    mine, plain = model_pair(candidate, 1, device)
    in_idx = ids(2, 9, 1, device)
    with torch.no_grad():
        assert_matches(mine(in_idx), plain, in_idx,
                       what="GPTModelWithKVCache(in_idx of shape (2, 9)), use_cache=False")


@pytest.mark.task(GPT_CACHE, category="values")
@given(sizes=chunkings(), seed=seeds())
@example(sizes=(3, 1, 1, 1), seed=2)
@example(sizes=(4, 2, 3), seed=3)
def test_cached_logits_equal_one_pass_over_the_whole_sequence(candidate, device, sizes, seed):
    """Fed chunk by chunk with use_cache=True, the logits are those of one uncached pass."""
    mine, plain = model_pair(candidate, seed, device)
    in_idx = ids(2, sum(sizes), seed, device)
    with torch.no_grad():
        expected = plain(in_idx)
        from grader.harness import Mistake
        mistakes = (Mistake("the positions of a cached step restart at 0: embed "
                            "torch.arange(current_pos, current_pos + T) and advance current_pos",
                            positions_from_zero(plain, sizes)),)
    mine.reset_kv_cache()
    got = chunked(mine, in_idx, sizes)
    assert_matches(got, lambda _: expected, in_idx, mistakes=mistakes,
                   what=f"GPTModelWithKVCache fed in_idx of shape (2, {sum(sizes)}) in chunks "
                   f"{sizes} with use_cache=True")


@pytest.mark.task(GPT_CACHE, category="properties")
def test_reset_kv_cache_starts_a_new_sequence(candidate, device):
    """After reset_kv_cache() a new prompt gives the logits of a fresh model; current_pos
    counts the cached positions and is 0 again after the reset."""
    mine, plain = model_pair(candidate, 4, device)
    assert mine.current_pos == 0, f"a new GPTModelWithKVCache has current_pos {mine.current_pos}"
    chunked(mine, ids(1, 7, 1, device), (5, 2))
    assert mine.current_pos == 7, (
        f"current_pos is {mine.current_pos} after 7 cached positions (chunks 5, 2), expected 7")
    mine.reset_kv_cache()
    assert mine.current_pos == 0, (
        f"GPTModelWithKVCache.reset_kv_cache() left current_pos at {mine.current_pos}")
    second = ids(1, 5, 2, device)
    with torch.no_grad():
        expected = plain(second)
    assert_matches(chunked(mine, second, (3, 1, 1)), lambda _: expected, second,
                   what="GPTModelWithKVCache after 7 cached positions and reset_kv_cache(), "
                   "fed a new in_idx of shape (1, 5) in chunks (3, 1, 1)")


@pytest.mark.task(GPT_CACHE, category="structure")
def test_a_cached_model_step_projects_only_the_new_token(candidate, device):
    """A step of one new token after 12 cached ones runs every Linear on one position."""
    mine, _ = model_pair(candidate, 5, device)
    chunked(mine, ids(2, 12, 5, device), (12,))
    log, remove = projection_inputs(mine)
    try:
        chunked(mine, ids(2, 1, 6, device), (1,))
    finally:
        remove()
    wide = [(name, shape) for name, shape in log if shape[1] != 1]
    assert log and not wide, (
        f"a cached step of GPTModelWithKVCache with one new token after 12 cached ones ran "
        f"{wide[0][0] if wide else 'no Linear'} on an input of shape "
        f"{wide[0][1] if wide else '-'}. Likely mistake: the cache recomputes the prefix")


@pytest.mark.task(GPT_CACHE, category="structure")
def test_a_cached_model_step_costs_the_same_at_every_prefix(candidate, device):
    """The tensor operations of one cached step of the whole model do not grow with the prefix
    (4, 16 and 48 cached tokens)."""

    def make_call(prefix: int) -> Callable[[], Any]:
        def build() -> nn.Module:
            module = candidate.GPTModelWithKVCache(book_config())
            return module.to(device, torch.float64).eval()
        return primed(build, ids(1, prefix, 8, device), ids(1, 1, 9, device))

    assert_op_count_constant(make_call, sizes=PREFIXES, dim="cached prefix length",
                             advice="Feed only the new token through the blocks; each "
                             "attention appends its keys and values with one torch.cat.")


# --- generate_text_simple_cached -------------------------------------------------------------


@pytest.mark.task(CACHED, category="values")
@given(B=st.integers(1, 3), T=st.integers(1, 10), new=st.integers(0, 8), seed=seeds())
@example(B=2, T=5, new=8, seed=1)
def test_cached_greedy_ids_equal_the_uncached_ones(candidate, reference, device, B, T, new,
                                                   seed):
    """The cached loop gives generate_text_simple's ids, with and without use_cache."""
    mine, plain = model_pair(candidate, seed, device)
    prompt = ids(B, T, seed, device)
    expected = reference.generate_text_simple(plain, prompt, new, CONTEXT)
    for use_cache in (True, False):
        got = candidate.generate_text_simple_cached(mine, prompt, new, use_cache=use_cache)
        check_ids(got, expected, f"generate_text_simple_cached(model, idx of shape "
                  f"{tuple(prompt.shape)}, max_new_tokens={new}, use_cache={use_cache})",
                  prompt)


@pytest.mark.task(CACHED, category="values")
def test_a_cache_left_by_another_prompt_does_not_leak_in(candidate, reference, device):
    """A second prompt on the same model gives its own ids: the cache is reset first."""
    mine, plain = model_pair(candidate, 6, device)
    candidate.generate_text_simple_cached(mine, ids(1, 6, 1, device), 4)
    prompt = ids(1, 5, 2, device)
    expected = reference.generate_text_simple(plain, prompt, 6, CONTEXT)
    got = candidate.generate_text_simple_cached(mine, prompt, 6)
    check_ids(got, expected, "generate_text_simple_cached on a second prompt (1, 5) after a "
              "first one on the same model", prompt,
              (("the cache is not reset between prompts: call model.reset_kv_cache() before "
                "the prompt", lambda: stale_cache_ids(plain, ids(1, 6, 1, device), prompt)),))


def stale_cache_ids(plain: nn.Module, first: Tensor, prompt: Tensor) -> Tensor:
    """The ids a cached loop gives on `prompt` when the cache still holds the first prompt and
    the 4 tokens it generated (each fed back): attention over all of it."""
    earlier = reference_greedy(plain, first, 4)
    both = torch.cat((earlier, prompt), dim=1)
    out = reference_greedy(plain, both, 6)
    return torch.cat((prompt, out[:, both.shape[1]:]), dim=1)


def reference_greedy(model: nn.Module, idx: Tensor, new: int) -> Tensor:
    return decode(model, idx, new, CONTEXT)


@pytest.mark.task(CACHED, category="values")
def test_the_prompt_is_cropped_to_the_context(candidate, reference, device):
    """The prompt is cropped once to its last context_size tokens (default
    model.pos_emb.num_embeddings); the generated tokens then attend over it all."""
    mine, plain = model_pair(candidate, 7, device, context=16)
    prompt = ids(2, 20, 7, device)
    for context_size, new in ((None, 0), (6, 5), (10, 6)):
        size = 16 if context_size is None else context_size
        tail = reference.generate_text_simple(plain, prompt[:, -size:], new, 16)
        expected = torch.cat((prompt[:, :-size], tail), dim=1)
        got = candidate.generate_text_simple_cached(mine, prompt, new, context_size=context_size)
        check_ids(got, expected, f"generate_text_simple_cached on a 20-token prompt, model "
                  f"context_length 16, context_size={context_size}, max_new_tokens={new}",
                  prompt)


@pytest.mark.task(CACHED, category="structure")
def test_each_step_feeds_the_model_one_token(candidate, device):
    """The prompt is fed once, then each step only the token it chose, under no_grad."""
    mine, _ = model_pair(candidate, 8, device)
    calls: list[tuple[tuple[int, ...], bool]] = []
    handle = mine.register_forward_pre_hook(
        lambda _m, args: calls.append((tuple(args[0].shape), torch.is_grad_enabled())))
    try:
        candidate.generate_text_simple_cached(mine, ids(2, 7, 8, device), 4)
    finally:
        handle.remove()
    shapes = [shape for shape, _ in calls]
    assert shapes and shapes[0] == (2, 7) and all(s == (2, 1) for s in shapes[1:]) \
        and len(shapes) in (4, 5), (
            f"generate_text_simple_cached with a (2, 7) prompt and 4 new tokens fed the model "
            f"inputs of shapes {shapes}; expected (2, 7) once and then (2, 1) per step. Likely "
            "mistake: the whole sequence is fed again each step, appending the prefix to the "
            "cache a second time")
    assert not any(grad for _, grad in calls), (
        "generate_text_simple_cached ran the model with grad enabled: wrap the loop in "
        "torch.no_grad()")
