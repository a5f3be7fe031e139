"""Spec for 18-preference: token log-probabilities under a mask, the DPO loss (the book's), the
reward model's pairwise loss and PPO's clipped objective.

Run by `./kata check 18-preference`. Code is reached only through the `candidate` and `reference`
fixtures. Every loss is compared in float64 with the spec's own closed form on Hypothesis-drawn
inputs (the error-ratio rule: only float64 rounding may separate two correct formulations), its
gradient with the closed form's derivative or with the reference's autograd, and then held to the
properties the losses are known by: DPO is log 2 when the policy is the reference, the reward
loss is log 2 at equal rewards, PPO's objective is mean(advantages) at ratio 1, the clip is
one-sided. Masked positions are tested with logits of 1e4 there: a mask applied one position
off, or a log of a softmax that underflows, cannot hide behind small numbers.
compute_dpo_loss_batch runs on tiny GPTModels (12-gpt's reference) in float64.

Every check fails with a message written for the learner, so pytest's assertion rewriting, which
would append its own introspection, is off for this module: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st
from torch import Tensor, nn

from grader.harness import Mistake, assert_grads_match, assert_matches
from grader.strategies import randn, seeds, small_shapes

pytestmark = pytest.mark.rung("18-preference")

LOGPROBS, SEQUENCE, DPO, DPO_BATCH, REWARD, PPO = (
    "compute_logprobs", "sequence_logprob", "compute_dpo_loss", "compute_dpo_loss_batch",
    "pairwise_reward_loss", "ppo_clipped_objective")

# Properties compare float64 numbers that correct code computes by different routes (a sum of
# products against a mean, clamp against where): only float64 rounding may separate them.
FLOAT64_ROUNDING = {"rel_tol": 1e-9, "abs_tol": 1e-12}
LOG2 = math.log(2.0)
HUGE = 1e4  # logits where the mask says "not counted": any of them counted shows at once


def require(condition: bool, message: str) -> None:
    """Fail with `message` alone."""
    if not condition:
        raise AssertionError(message)


def kind(value: Any) -> str:
    """A value's type in words, with shape and dtype for a tensor."""
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)} ({value.dtype})"
    return f"a {type(value).__name__}"


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, **FLOAT64_ROUNDING)


def scalar(value: Any, call: str) -> float:
    """A 0-dim floating tensor's value; anything else fails naming what came back."""
    require(isinstance(value, Tensor) and value.dim() == 0 and value.is_floating_point(),
            f"{call} returned {kind(value)}; return a 0-dim floating tensor (a mean, not .item()).")
    return float(value.item())


def three(value: Any, call: str) -> tuple[Tensor, Tensor, Tensor]:
    require(isinstance(value, tuple) and len(value) == 3, (
        f"{call} returned {kind(value)}; return the book's tuple (loss, chosen_rewards, "
        "rejected_rewards)."))
    return value


# --- token log-probabilities -------------------------------------------------------------------


@dataclass(frozen=True)
class TokenCase:
    """Logits (B, T, V), labels (B, T) and, when masked, a mask with a prompt, an answer and
    padding in every row (at least one counted token after the shift)."""

    B: int
    T: int
    V: int
    seed: int
    masked: bool = True
    dtype: torch.dtype = torch.float64  # float32 in one example each: no dtype is the probe

    def tensors(self, device: torch.device) -> tuple[Tensor, Tensor, Tensor | None]:
        gen = torch.Generator().manual_seed(self.seed)
        logits = randn((self.B, self.T, self.V), self.seed, self.dtype, device, scale=2.0)
        labels = torch.randint(0, self.V, (self.B, self.T), generator=gen).to(device)
        return logits, labels, self.mask(device) if self.masked else None

    def mask(self, device: torch.device) -> Tensor:
        gen = torch.Generator().manual_seed(self.seed + 1)
        prompt = torch.randint(1, self.T, (self.B, 1), generator=gen)  # 1 .. T-1 prompt tokens
        room = self.T - prompt  # >= 1
        answer = 1 + (torch.rand(self.B, 1, generator=gen) * room).long().clamp(max=room - 1)
        t = torch.arange(self.T)[None, :]
        return ((t >= prompt) & (t < prompt + answer)).to(device)  # (B, T) bool

    def describe(self) -> str:
        mask = "a prompt/answer/padding mask (B, T)" if self.masked else "no mask"
        dtype = "" if self.dtype == torch.float64 else f" {self.dtype}"
        return f"logits ({self.B}, {self.T}, {self.V}){dtype}, labels ({self.B}, {self.T}), {mask}"


token_cases = st.builds(TokenCase, B=st.integers(1, 4), T=st.integers(2, 7), V=st.integers(2, 9),
                        seed=seeds(), masked=st.booleans())


def gathered(logits: Tensor, labels: Tensor, *, shift_labels: bool = True,
             log: bool = True) -> Tensor:
    """Per-token log-probabilities (B, T - 1), as code with one mistake gathers them."""
    scores = logits[:, :-1]
    probs = F.log_softmax(scores, dim=-1) if log else F.softmax(scores, dim=-1)
    targets = labels[:, 1:] if shift_labels else labels[:, :-1]
    return probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def masked_logprob(logits: Tensor, labels: Tensor, mask: Tensor | None, *, mean: bool,
                   shift_labels: bool = True, shift_mask: bool = True, log: bool = True,
                   use_mask: bool = True, divide_by_all: bool = False) -> Tensor:
    """The closed form of both tasks (the defaults), and what one mistake computes instead."""
    per_token = gathered(logits, labels, shift_labels=shift_labels, log=log)  # (B, T-1)
    if mask is None or not use_mask:
        keep = torch.ones_like(per_token, dtype=torch.bool)
    else:
        keep = mask[:, 1:] if shift_mask else mask[:, :-1]
    total = (per_token * keep).sum(-1)
    if not mean:
        return total
    return total / (per_token.shape[-1] if divide_by_all else keep.sum(-1))


LOGPROB_MISTAKES = {
    "labels": "the labels were not shifted: the logits at position t score the token at t + 1, "
              "so logits[:, :-1] pair with labels[:, 1:]",
    "mask": "the mask was not shifted with the labels: it belongs to the tokens, so the counted "
            "positions are selection_mask[:, 1:]",
    "softmax": "the probabilities were gathered, not their logarithms: F.log_softmax, not "
               "F.softmax",
    "unmasked": "the mask was ignored: prompt and padding tokens were counted too",
    "sum": "the log-probabilities were summed: compute_logprobs is the book's mean over the "
           "counted tokens (the sum is sequence_logprob)",
    "all": "the masked sum was divided by all T - 1 positions, not by the number of counted "
           "tokens (selection_mask[:, 1:].sum(-1))",
    "mean": "the log-probabilities were averaged: sequence_logprob is their sum over the counted "
            "tokens, not the book's mean",
}


def logprob_mistakes(mean: bool) -> list[Mistake]:
    def wrong(**changes: Any):
        return lambda logits, labels, mask=None: masked_logprob(logits, labels, mask,
                                                                **{"mean": mean, **changes})
    found = [Mistake(LOGPROB_MISTAKES["labels"], wrong(shift_labels=False)),
             Mistake(LOGPROB_MISTAKES["mask"], wrong(shift_mask=False)),
             Mistake(LOGPROB_MISTAKES["softmax"], wrong(log=False)),
             Mistake(LOGPROB_MISTAKES["unmasked"], wrong(use_mask=False))]
    if mean:
        found += [Mistake(LOGPROB_MISTAKES["sum"], wrong(mean=False)),
                  Mistake(LOGPROB_MISTAKES["all"], wrong(divide_by_all=True))]
    else:
        found.append(Mistake(LOGPROB_MISTAKES["mean"], wrong(mean=True)))
    return found


def book_logprobs(logits: Tensor, labels: Tensor, selection_mask: Tensor | None = None) -> Tensor:
    return masked_logprob(logits, labels, selection_mask, mean=True)


def summed_logprob(logits: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
    return masked_logprob(logits, labels, mask, mean=False)


def with_huge_logits_where_masked(logits: Tensor, mask: Tensor, seed: int) -> Tensor:
    """The logits at every position whose next token is not counted set to ±1e4-sized values."""
    hidden = ~mask[:, 1:]  # (B, T-1): logits[:, t] score token t + 1
    noise = randn(tuple(logits.shape), seed + 7, device=logits.device) * HUGE
    out = logits.clone()
    out[:, :-1] = torch.where(hidden[..., None], noise[:, :-1], logits[:, :-1])
    return out


@pytest.mark.task(LOGPROBS, category="values")
@given(case=token_cases)
@example(case=TokenCase(2, 5, 4, 0))
@example(case=TokenCase(3, 6, 5, 1, masked=False))
@example(case=TokenCase(3, 6, 5, 2, dtype=torch.float32))
def test_compute_logprobs_is_the_mean_over_counted_tokens(candidate, device, case):
    """compute_logprobs is the book's: the mean, over the tokens the shifted mask counts, of
    log_softmax(logits[:, :-1])[labels[:, 1:]] (over all T - 1 tokens without a mask)."""
    logits, labels, mask = case.tensors(device)
    got = candidate.compute_logprobs(logits, labels, mask)
    assert_matches(got, book_logprobs, logits, labels, mask,
                   what=f"compute_logprobs({case.describe()})",
                   mistakes=logprob_mistakes(mean=True))


@pytest.mark.task(SEQUENCE, category="values")
@given(case=token_cases.map(lambda c: TokenCase(c.B, c.T, c.V, c.seed)))
@example(case=TokenCase(2, 5, 4, 0))
@example(case=TokenCase(1, 7, 3, 5))
@example(case=TokenCase(3, 6, 5, 2, dtype=torch.float32))
def test_sequence_logprob_is_the_sum_over_counted_tokens(candidate, device, case):
    """sequence_logprob is log p(answer | prompt): the same per-token log-probabilities as
    compute_logprobs, summed over the counted tokens."""
    logits, labels, mask = case.tensors(device)
    got = candidate.sequence_logprob(logits, labels, mask)
    assert_matches(got, summed_logprob, logits, labels, mask,
                   what=f"sequence_logprob({case.describe()})",
                   mistakes=logprob_mistakes(mean=False))


@pytest.mark.task(LOGPROBS, category="properties")
@given(case=token_cases.map(lambda c: TokenCase(c.B, c.T, c.V, c.seed)))
@example(case=TokenCase(2, 6, 5, 3))
def test_compute_logprobs_never_reads_masked_positions(candidate, device, case):
    """Huge logits where the next token is not counted (prompt and padding) change nothing: the
    mask is shifted with the labels, and log_softmax stays finite where log(softmax) is log 0."""
    logits, labels, mask = case.tensors(device)
    huge = with_huge_logits_where_masked(logits, mask, case.seed)
    got = candidate.compute_logprobs(huge, labels, mask)
    assert_matches(got, book_logprobs, logits, labels, mask,
                   what=f"compute_logprobs({case.describe()}, the logits of every position "
                   f"whose next token is masked out set to values of size {HUGE:g})",
                   mistakes=[Mistake(m.description, lambda lg, lb, mk, c=m.compute:
                                     c(huge, lb, mk)) for m in logprob_mistakes(mean=True)])


@pytest.mark.task(SEQUENCE, category="properties")
@given(case=token_cases.map(lambda c: TokenCase(c.B, c.T, c.V, c.seed)))
@example(case=TokenCase(2, 6, 5, 3))
def test_sequence_logprob_never_reads_masked_positions(candidate, device, case):
    """The same for the sum: prompt and padding positions hold logits of 1e4 and change nothing."""
    logits, labels, mask = case.tensors(device)
    huge = with_huge_logits_where_masked(logits, mask, case.seed)
    got = candidate.sequence_logprob(huge, labels, mask)
    assert_matches(got, summed_logprob, logits, labels, mask,
                   what=f"sequence_logprob({case.describe()}, the logits of every position "
                   f"whose next token is masked out set to values of size {HUGE:g})",
                   mistakes=[Mistake(m.description, lambda lg, lb, mk, c=m.compute:
                                     c(huge, lb, mk)) for m in logprob_mistakes(mean=False)])


@pytest.mark.task(SEQUENCE, category="properties")
@given(case=token_cases.map(lambda c: TokenCase(c.B, c.T, c.V, c.seed)))
def test_sequence_logprob_is_the_mean_times_the_count(candidate, reference, device, case):
    """sequence_logprob = compute_logprobs * (number of counted tokens), row by row."""
    logits, labels, mask = case.tensors(device)
    got = candidate.sequence_logprob(logits, labels, mask)
    assert_matches(got, lambda lg, lb, mk: reference.compute_logprobs(lg, lb, mk)
                   * mk[:, 1:].sum(-1), logits, labels, mask,
                   what=f"sequence_logprob({case.describe()}) against the reference's "
                   "compute_logprobs times the counted tokens",
                   mistakes=logprob_mistakes(mean=False))


@pytest.mark.task(LOGPROBS, category="grad")
@given(case=token_cases)
def test_compute_logprobs_gradient(candidate, reference, device, case):
    """The gradient reaching the logits is the reference's (zero where nothing is counted)."""
    logits, labels, mask = case.tensors(device)
    assert_grads_match(lambda lg: candidate.compute_logprobs(lg, labels, mask),
                       lambda lg: reference.compute_logprobs(lg, labels, mask), logits,
                       what=f"compute_logprobs({case.describe()})")


@pytest.mark.task(SEQUENCE, category="grad")
@given(case=token_cases.map(lambda c: TokenCase(c.B, c.T, c.V, c.seed)))
def test_sequence_logprob_gradient(candidate, reference, device, case):
    """The gradient of the summed log-probability reaching the logits is the reference's."""
    logits, labels, mask = case.tensors(device)
    assert_grads_match(lambda lg: candidate.sequence_logprob(lg, labels, mask),
                       lambda lg: reference.sequence_logprob(lg, labels, mask), logits,
                       what=f"sequence_logprob({case.describe()})")


# --- the DPO loss ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DPOCase:
    """Four (B,) log-probabilities (sequence means, so negative) and a beta."""

    B: int
    seed: int
    beta: float = 0.1
    scale: float = 1.0
    dtype: torch.dtype = torch.float64  # float32 in one example: no dtype is the probe

    def tensors(self, device: torch.device) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return tuple(-randn((self.B,), self.seed + i, self.dtype, device, self.scale).abs()
                     for i in range(4))  # type: ignore[return-value]

    def describe(self) -> str:
        return (f"four ({self.B},) {str(self.dtype)[6:]} log-probabilities of size about "
                f"{self.scale:g}, beta={self.beta:g}")


dpo_cases = st.builds(DPOCase, B=st.integers(1, 6), seed=seeds(),
                      beta=st.sampled_from([0.1, 0.5, 1.0, 2.5]),
                      scale=st.sampled_from([1.0, 5.0, 30.0]))


def dpo_z(mc: Tensor, mr: Tensor, rc: Tensor, rr: Tensor) -> Tensor:
    return (mc - mr) - (rc - rr)


def dpo_loss(mc: Tensor, mr: Tensor, rc: Tensor, rr: Tensor, beta: float = 0.1) -> Tensor:
    """The closed form: mean(-logsigmoid(beta * z)), written as softplus(-beta * z)."""
    return F.softplus(-beta * dpo_z(mc, mr, rc, rr)).mean()


DPO_MISTAKES = {
    "sign": "the sign is flipped: the loss is -logsigmoid(beta * z), so it falls as the policy "
            "prefers the chosen answer more than the reference does",
    "beta_outside": "beta multiplies the loss outside the logsigmoid; it scales z inside: "
                    "-logsigmoid(beta * z)",
    "no_beta": "beta was ignored: the loss is -logsigmoid(beta * z)",
    "no_reference": "the reference log-probabilities were left out: z = (model_chosen - "
                    "model_rejected) - (reference_chosen - reference_rejected)",
    "reference_added": "the reference log-ratio was added, not subtracted: z = (model_chosen - "
                       "model_rejected) - (reference_chosen - reference_rejected)",
    "summed": "the per-pair losses were summed over the batch, not averaged",
    "scaled_rewards": "the rewards were scaled by beta; the book reports the log-ratios "
                      "themselves, mean(model - reference), unscaled",
    "ratio_rewards": "the rewards were computed from the chosen-minus-rejected log-ratios; the "
                     "chosen reward is mean(model_chosen - reference_chosen)",
}


def dpo_loss_mistakes() -> list[Mistake]:
    def with_z(z_of, outer: float = 1.0, reduce=torch.mean, use_beta: bool = True):
        def compute(mc, mr, rc, rr, beta=0.1):
            z = z_of(mc, mr, rc, rr)
            return outer * reduce(F.softplus(-(beta if use_beta else 1.0) * z))
        return compute

    return [
        Mistake(DPO_MISTAKES["sign"], with_z(lambda *a: -dpo_z(*a))),
        Mistake(DPO_MISTAKES["beta_outside"],
                lambda mc, mr, rc, rr, beta=0.1: beta * F.softplus(-dpo_z(mc, mr, rc, rr)).mean()),
        Mistake(DPO_MISTAKES["no_beta"], with_z(dpo_z, use_beta=False)),
        Mistake(DPO_MISTAKES["no_reference"], with_z(lambda mc, mr, rc, rr: mc - mr)),
        Mistake(DPO_MISTAKES["reference_added"],
                with_z(lambda mc, mr, rc, rr: (mc - mr) + (rc - rr))),
        Mistake(DPO_MISTAKES["summed"], with_z(dpo_z, reduce=torch.sum)),
    ]


def reward_mistakes(chosen: bool) -> list[Mistake]:
    def pick(mc, mr, rc, rr):
        return (mc, rc) if chosen else (mr, rr)
    return [
        Mistake(DPO_MISTAKES["scaled_rewards"], lambda mc, mr, rc, rr, beta=0.1:
                beta * (pick(mc, mr, rc, rr)[0] - pick(mc, mr, rc, rr)[1]).mean()),
        Mistake(DPO_MISTAKES["ratio_rewards"], lambda mc, mr, rc, rr, beta=0.1:
                ((mc - mr) if chosen else (rc - rr)).mean()),
    ]


def chosen_reward(mc: Tensor, mr: Tensor, rc: Tensor, rr: Tensor, beta: float = 0.1) -> Tensor:
    return (mc - rc).mean()


def rejected_reward(mc: Tensor, mr: Tensor, rc: Tensor, rr: Tensor,
                    beta: float = 0.1) -> Tensor:
    return (mr - rr).mean()


def call_dpo(candidate: Any, case: DPOCase, tensors: tuple[Tensor, ...]) -> tuple[Any, str]:
    call = f"compute_dpo_loss({case.describe()})"
    return three(candidate.compute_dpo_loss(*tensors, beta=case.beta), call), call


@pytest.mark.task(DPO, category="values")
@given(case=dpo_cases)
@example(case=DPOCase(4, 0, 0.1))
@example(case=DPOCase(3, 11, 2.5, 5.0))
@example(case=DPOCase(4, 3, 0.5, 5.0, dtype=torch.float32))
def test_dpo_loss_is_the_books(candidate, device, case):
    """loss = mean(-logsigmoid(beta * z)), z = (model_chosen - model_rejected) - (reference_chosen
    - reference_rejected)."""
    tensors = case.tensors(device)
    (loss, _, _), call = call_dpo(candidate, case, tensors)
    assert_matches(loss, dpo_loss, *tensors, beta=case.beta, what=f"{call}: the loss",
                   mistakes=dpo_loss_mistakes())


@pytest.mark.task(DPO, category="values")
def test_dpo_beta_defaults_to_0_1(candidate, device):
    """Without beta the loss uses the book's beta=0.1."""
    case = DPOCase(4, 0, 0.1, 5.0)
    tensors = case.tensors(device)
    call = "compute_dpo_loss(four (4,) float64 log-probabilities, no beta)"
    default = scalar(three(candidate.compute_dpo_loss(*tensors), call)[0], call)
    explicit = scalar(candidate.compute_dpo_loss(*tensors, beta=0.1)[0], call)
    expected = float(dpo_loss(*tensors, beta=0.1))
    if close(explicit, expected):
        require(close(default, expected), (
            f"{call} gave loss {default!r}, but {explicit!r} (right) with beta=0.1: beta "
            "defaults to 0.1, as the book's does."))
    require(close(default, expected), f"{call} gave loss {default!r}; expected {expected!r}.")


@pytest.mark.task(DPO, category="values")
@given(case=dpo_cases)
@example(case=DPOCase(4, 0, 0.5))
@example(case=DPOCase(4, 3, 0.5, 5.0, dtype=torch.float32))
def test_dpo_rewards_are_the_books(candidate, device, case):
    """chosen_rewards = mean(model_chosen - reference_chosen), rejected_rewards =
    mean(model_rejected - reference_rejected): the book's, not scaled by beta."""
    tensors = case.tensors(device)
    (_, chosen, rejected), call = call_dpo(candidate, case, tensors)
    assert_matches(chosen, chosen_reward, *tensors, beta=case.beta,
                   what=f"{call}: chosen_rewards", mistakes=reward_mistakes(True))
    assert_matches(rejected, rejected_reward, *tensors, beta=case.beta,
                   what=f"{call}: rejected_rewards", mistakes=reward_mistakes(False))


@pytest.mark.task(DPO, category="properties")
@given(case=dpo_cases, beta=st.floats(0.01, 5.0))
@example(case=DPOCase(1, 0, 0.1), beta=0.1)
def test_dpo_loss_is_log_2_when_the_policy_is_the_reference(candidate, device, case, beta):
    """With the policy's log-probabilities equal to the reference's, z = 0: loss log 2 and both
    rewards 0, whatever the log-probabilities and beta."""
    chosen, rejected, _, _ = case.tensors(device)
    call = f"compute_dpo_loss(policy = reference: four ({case.B},) log-probabilities)"
    loss, chosen_r, rejected_r = three(candidate.compute_dpo_loss(
        chosen, rejected, chosen.clone(), rejected.clone(), beta=beta), call)
    value = scalar(loss, call)
    require(close(value, LOG2), f"{call} (beta={beta:g}) gave loss {value!r}; expected log 2 = "
            f"{LOG2!r}: z = 0 when the policy is the reference, and -logsigmoid(0) = log 2.")
    for name, reward in (("chosen_rewards", chosen_r), ("rejected_rewards", rejected_r)):
        got = scalar(reward, f"{call}: {name}")
        require(abs(got) <= 1e-12, f"{call} gave {name} {got!r}; expected 0: the reward is "
                "the policy's log-probability minus the reference's.")


@pytest.mark.task(DPO, category="properties")
@given(case=dpo_cases, steps=st.lists(st.floats(0.01, 3.0), min_size=2, max_size=5))
@example(case=DPOCase(2, 3, 0.1), steps=[0.5, 1.0, 2.0])
def test_dpo_loss_falls_as_the_policy_prefers_the_chosen_answer(candidate, device, case, steps):
    """Raising the policy's log-probability of the chosen answer (or lowering the rejected one's)
    lowers the loss, strictly."""
    mc, mr, rc, rr = case.tensors(device)
    call = f"compute_dpo_loss({case.describe()})"
    losses = []
    shift = 0.0
    for step in steps:
        shift += step
        for tensors, what in (((mc + shift, mr, rc, rr), "model_chosen_logprobs"),
                              ((mc, mr - shift, rc, rr), "model_rejected_logprobs")):
            loss = scalar(candidate.compute_dpo_loss(*tensors, beta=case.beta)[0], call)
            losses.append((shift, what, loss))
    for what in ("model_chosen_logprobs", "model_rejected_logprobs"):
        row = [(s, loss) for s, w, loss in losses if w == what]
        for (s0, l0), (s1, l1) in zip(row, row[1:], strict=False):
            moved = "raised" if what == "model_chosen_logprobs" else "lowered"
            require(l1 < l0 or (l0 == l1 == 0.0), (
                f"{call}: with {what} {moved} by {s1:g}, the loss is {l1!r}, not below {l0!r} "
                f"(moved by {s0:g}). A policy that prefers the chosen answer more must have a "
                "lower DPO loss: -logsigmoid(beta * z) falls as z grows."))


@pytest.mark.task(DPO, category="properties")
@given(case=dpo_cases, factor=st.sampled_from([0.25, 2.0, 10.0]))
@example(case=DPOCase(3, 4, 0.5), factor=2.0)
def test_dpo_beta_scales_the_log_ratios(candidate, device, case, factor):
    """beta sits inside with z: scaling every log-probability by c and beta by 1/c leaves the
    loss unchanged."""
    tensors = case.tensors(device)
    call = f"compute_dpo_loss({case.describe()})"
    base = scalar(candidate.compute_dpo_loss(*tensors, beta=case.beta)[0], call)
    scaled = scalar(candidate.compute_dpo_loss(*(t * factor for t in tensors),
                                               beta=case.beta / factor)[0], call)
    require(math.isclose(base, scaled, rel_tol=1e-9, abs_tol=1e-12), (
        f"{call} gave loss {base!r}, but with every log-probability times {factor:g} and beta "
        f"divided by {factor:g} it gave {scaled!r}; the loss depends on beta * z only, so the two "
        "must agree: beta multiplies z inside the logsigmoid."))


MARGINS = (-2000.0, -800.0, -50.0, 50.0, 800.0, 2000.0)


@pytest.mark.task(DPO, category="properties")
@pytest.mark.parametrize("margin", MARGINS)
def test_dpo_loss_is_stable_at_large_margins(candidate, device, margin):
    """At a margin beta * z of ±2000 the loss is finite and right: about -margin when the policy
    prefers the rejected answer by far, about 0 the other way. log(sigmoid(x)) is log 0 there."""
    mc = torch.tensor([margin, margin / 2], dtype=torch.float64, device=device)
    zeros = torch.zeros(2, dtype=torch.float64, device=device)
    call = f"compute_dpo_loss(margins beta * z of {margin:g} and {margin / 2:g}, beta=1)"
    loss = scalar(three(candidate.compute_dpo_loss(mc, zeros, zeros, zeros, beta=1.0), call)[0],
                  call)
    require(math.isfinite(loss), (
        f"{call} gave {loss!r}. sigmoid(x) rounds to 0 for a large negative x, and log(0) is "
        "-inf: use F.logsigmoid(x), which computes log(sigmoid(x)) without the round trip."))
    expected = float(dpo_loss(mc, zeros, zeros, zeros, beta=1.0))
    require(math.isclose(loss, expected, rel_tol=1e-9, abs_tol=1e-12),
            f"{call} gave {loss!r}; expected {expected!r}.")


@pytest.mark.task(DPO, category="grad")
@given(case=dpo_cases)
@example(case=DPOCase(3, 2, 0.5, 5.0))
def test_dpo_loss_gradient_is_the_closed_forms(candidate, device, case):
    """d loss / d model_chosen_i = -beta * sigmoid(-beta * z_i) / B, and the opposite for
    model_rejected_i."""
    mc, mr, rc, rr = (t.requires_grad_() for t in case.tensors(device))
    call = f"compute_dpo_loss({case.describe()})"
    loss = three(candidate.compute_dpo_loss(mc, mr, rc, rr, beta=case.beta), call)[0]
    require(isinstance(loss, Tensor) and loss.requires_grad, (
        f"{call} returned a loss without a graph ({kind(loss)}, requires_grad False): the loss "
        "must stay differentiable in the policy's log-probabilities."))
    grads = torch.autograd.grad(loss, [mc, mr], allow_unused=True)
    with torch.no_grad():
        pull = -case.beta * torch.sigmoid(-case.beta * dpo_z(mc, mr, rc, rr)) / case.B
    for name, grad, sign in (("model_chosen_logprobs", grads[0], 1.0),
                             ("model_rejected_logprobs", grads[1], -1.0)):
        require(grad is not None, f"{call}: no gradient reaches `{name}`.")
        assert_matches(grad, lambda s=sign: s * pull, what=f"{call}: the gradient of the loss with "
                       f"respect to {name}")


@pytest.mark.task(DPO, category="grad")
@given(case=dpo_cases)
@example(case=DPOCase(3, 1, 0.1))
def test_dpo_rewards_are_detached(candidate, device, case):
    """The rewards are for watching progress: detached, as the book's, so no backward runs
    through them."""
    tensors = tuple(t.requires_grad_() for t in case.tensors(device))
    call = f"compute_dpo_loss({case.describe()}, the log-probabilities requiring grad)"
    _, chosen, rejected = three(candidate.compute_dpo_loss(*tensors, beta=case.beta), call)
    for name, reward in (("chosen_rewards", chosen), ("rejected_rewards", rejected)):
        require(isinstance(reward, Tensor) and not reward.requires_grad, (
            f"{call}: {name} requires grad; the book detaches the rewards "
            "((model - reference).detach()): they are reported, never trained on."))


# --- the DPO loss of a batch, on tiny GPTs -----------------------------------------------------


VOCAB, CONTEXT = 13, 8


def tiny_gpt(reference: Any, seed: int, device: torch.device) -> nn.Module:
    """The reference GPTModel of a tiny config in float64, its weights drawn from `seed`."""
    cfg = {"vocab_size": VOCAB, "context_length": CONTEXT, "emb_dim": 8, "n_heads": 2,
           "n_layers": 1, "drop_rate": 0.0, "qkv_bias": False}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = reference.GPTModel(cfg)
    return model.to(dtype=torch.float64, device=device)


@dataclass(frozen=True)
class BatchCase:
    B: int
    T: int
    seed: int
    beta: float = 0.1

    def batch(self, device: torch.device) -> dict[str, Tensor]:
        gen = torch.Generator().manual_seed(self.seed)
        out = {}
        for i, name in enumerate(("chosen", "rejected")):
            out[name] = torch.randint(0, VOCAB, (self.B, self.T), generator=gen).to(device)
            out[f"{name}_mask"] = TokenCase(self.B, self.T, VOCAB, self.seed + 10 * i).mask(device)
        return out

    def describe(self) -> str:
        return (f"a batch of {self.B} chosen and {self.B} rejected answers of {self.T} tokens "
                f"with prompt/answer/padding masks, tiny float64 GPTModels, beta={self.beta:g}")


batch_cases = st.builds(BatchCase, B=st.integers(1, 3), T=st.integers(2, CONTEXT), seed=seeds(),
                        beta=st.sampled_from([0.1, 0.5, 2.0]))


def batch_loss(reference: Any, policy: nn.Module, ref_model: nn.Module, beta: float,
               chosen: str = "chosen", rejected: str = "rejected", masks: bool = True,
               mask_of: dict[str, str] | None = None, same_model: bool = False) -> Any:
    """The reference's compute_dpo_loss_batch, or what one mistake computes instead."""
    mask_of = mask_of or {"chosen": "chosen_mask", "rejected": "rejected_mask"}

    def compute(batch, *args):
        def logprobs(model, name):
            mask = batch[mask_of[name]] if masks else None
            return reference.compute_logprobs(model(batch[name]), batch[name], mask)
        anchor = policy if same_model else ref_model
        with torch.no_grad():
            rc, rr = logprobs(anchor, chosen), logprobs(anchor, rejected)
        return reference.compute_dpo_loss(logprobs(policy, chosen), logprobs(policy, rejected),
                                          rc, rr, beta=beta)
    return compute


BATCH_MISTAKES = {
    "swapped": "the chosen and rejected answers were swapped",
    "masks_swapped": "the masks were swapped: batch['chosen_mask'] goes with batch['chosen'] "
                     "and batch['rejected_mask'] with batch['rejected']",
    "no_masks": "compute_logprobs ran without the masks, so prompt and padding tokens counted",
    "policy_as_reference": "the policy model was used as its own reference: the reference "
                           "log-probabilities come from reference_model",
}


def batch_mistakes(reference: Any, policy: nn.Module, ref_model: nn.Module, beta: float,
                   part: int) -> list[Mistake]:
    def wrong(**changes: Any):
        compute = batch_loss(reference, policy, ref_model, beta, **changes)
        return lambda batch, *args: compute(batch)[part]
    return [Mistake(BATCH_MISTAKES["swapped"], wrong(chosen="rejected", rejected="chosen")),
            Mistake(BATCH_MISTAKES["masks_swapped"],
                    wrong(mask_of={"chosen": "rejected_mask", "rejected": "chosen_mask"})),
            Mistake(BATCH_MISTAKES["no_masks"], wrong(masks=False)),
            Mistake(BATCH_MISTAKES["policy_as_reference"], wrong(same_model=True))]


def models_for(reference: Any, case: BatchCase, device: torch.device
               ) -> tuple[nn.Module, nn.Module]:
    policy = tiny_gpt(reference, case.seed, device).train()  # dropout 0: train mode is exact
    ref_model = tiny_gpt(reference, case.seed + 1, device).eval()  # frozen, as the book's
    for param in ref_model.parameters():
        param.requires_grad_(True)  # as the book leaves it: only no_grad keeps it out
    return policy, ref_model


@pytest.mark.task(DPO_BATCH, category="values")
@given(case=batch_cases)
@example(case=BatchCase(2, 6, 0))
@example(case=BatchCase(3, 8, 5, 0.5))
def test_dpo_loss_of_a_batch_is_the_books(candidate, reference, device, case):
    """compute_dpo_loss_batch: compute_logprobs of each answer with its mask under the policy and
    the reference model, into compute_dpo_loss: the loss and both rewards."""
    batch = case.batch(device)
    policy, ref_model = models_for(reference, case, device)
    call = f"compute_dpo_loss_batch({case.describe()})"
    got = three(candidate.compute_dpo_loss_batch(batch, policy, ref_model, case.beta), call)
    with torch.no_grad():
        expected = batch_loss(reference, policy, ref_model, case.beta)(batch)
    for part, name in enumerate(("loss", "chosen_rewards", "rejected_rewards")):
        assert_matches(got[part], lambda b, *a, p=part: expected[p], batch,
                       what=f"{call}: {name}",
                       mistakes=batch_mistakes(reference, policy, ref_model, case.beta, part))


@pytest.mark.task(DPO_BATCH, category="grad")
@given(case=batch_cases)
@example(case=BatchCase(2, 6, 0))
def test_dpo_batch_trains_the_policy_and_freezes_the_reference(candidate, reference, device,
                                                                case):
    """loss.backward() gives every policy parameter the reference's gradient, and the reference
    model none at all: its forwards run under torch.no_grad()."""
    batch = case.batch(device)
    policy, ref_model = models_for(reference, case, device)
    twin = copy.deepcopy(policy)
    call = f"compute_dpo_loss_batch({case.describe()})"
    loss = three(candidate.compute_dpo_loss_batch(batch, policy, ref_model, case.beta), call)[0]
    require(isinstance(loss, Tensor) and loss.requires_grad, (
        f"{call} returned a loss without a graph ({kind(loss)}): only the reference model runs "
        "under torch.no_grad(); the policy's forwards keep their graph for backward."))
    loss.backward()
    touched = [name for name, p in ref_model.named_parameters() if p.grad is not None]
    require(not touched, (
        f"{call}, then loss.backward(): gradients reached the reference model ({len(touched)} "
        f"parameters, first `{touched[0] if touched else ''}`). It is the frozen anchor: run "
        "its forwards under `with torch.no_grad():`."))
    batch_loss(reference, twin, ref_model, case.beta)(batch)[0].backward()
    for (name, mine), (_, ref) in zip(policy.named_parameters(), twin.named_parameters(),
                                      strict=True):
        require(mine.grad is not None, f"{call}: no gradient reaches the policy's `{name}`.")
        assert_matches(mine.grad, lambda r=ref: r.grad, what=f"{call}: the gradient of the "
                       f"policy's `{name}`")


@pytest.mark.task(DPO_BATCH, category="properties")
@given(case=batch_cases)
def test_dpo_batch_against_itself_is_log_2(candidate, reference, device, case):
    """With the reference model a copy of the policy, the loss is log 2 and the rewards 0."""
    batch = case.batch(device)
    policy, _ = models_for(reference, case, device)
    frozen = copy.deepcopy(policy).eval()
    call = f"compute_dpo_loss_batch({case.describe()}, the reference a copy of the policy)"
    loss, chosen, rejected = three(candidate.compute_dpo_loss_batch(batch, policy, frozen,
                                                                    case.beta), call)
    value = scalar(loss, call)
    require(close(value, LOG2), f"{call} gave loss {value!r}; expected log 2 = {LOG2!r}.")
    for name, reward in (("chosen_rewards", chosen), ("rejected_rewards", rejected)):
        got = scalar(reward, f"{call}: {name}")
        require(abs(got) <= 1e-12, f"{call} gave {name} {got!r}; expected 0.")


class ModeRecorder(nn.Module):
    """A model that notes the mode (training or not) of every forward it runs."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.modes: list[bool] = []

    def forward(self, ids: Tensor) -> Tensor:
        self.modes.append(self.training)
        return self.inner(ids)


@pytest.mark.task(DPO_BATCH, category="properties")
def test_dpo_batch_runs_each_model_in_the_mode_it_came_in(candidate, reference, device):
    """The policy comes in train mode (its dropout is part of training) and the reference in
    eval mode: every forward runs in that mode, not switched for the call and back."""
    case = BatchCase(2, 6, 0)
    batch = case.batch(device)
    policy, ref_model = models_for(reference, case, device)
    policy, ref_model = ModeRecorder(policy).train(), ModeRecorder(ref_model).eval()
    call = f"compute_dpo_loss_batch({case.describe()})"
    three(candidate.compute_dpo_loss_batch(batch, policy, ref_model, case.beta), call)
    for name, model, came_in in (("policy_model", policy, True),
                                 ("reference_model", ref_model, False)):
        mode = "train" if came_in else "eval"
        require(len(model.modes) > 0, f"{call}: {name} was never called.")
        other = sum(1 for training in model.modes if training != came_in)
        require(other == 0, (
            f"{call}: {other} of the {len(model.modes)} forwards of {name} ran in "
            f"{'eval' if came_in else 'train'} mode; it came in {mode} mode. Likely mistake: "
            f"{name}.{'eval' if came_in else 'train'}() was called inside (restored after or "
            "not): run each model in the mode it comes in."))


# --- the reward model's pairwise loss ----------------------------------------------------------


@dataclass(frozen=True)
class PairCase:
    shape: tuple[int, ...]
    seed: int
    scale: float = 1.0
    dtype: torch.dtype = torch.float64  # float32 in one example: no dtype is the probe

    def tensors(self, device: torch.device) -> tuple[Tensor, Tensor]:
        return (randn(self.shape, self.seed, self.dtype, device, self.scale),
                randn(self.shape, self.seed + 1, self.dtype, device, self.scale))

    def describe(self) -> str:
        return (f"two {str(self.dtype)[6:]} tensors of shape {self.shape}, values of size about "
                f"{self.scale:g}")


pair_cases = st.builds(PairCase, shape=small_shapes(1, 2), seed=seeds(),
                       scale=st.sampled_from([0.5, 3.0, 40.0]))


def reward_loss(chosen: Tensor, rejected: Tensor) -> Tensor:
    """The closed form: mean(softplus(rejected - chosen)) = mean(-logsigmoid(chosen - rejected))."""
    return F.softplus(rejected - chosen).mean()


REWARD_MISTAKES = {
    "reversed": "the difference is reversed: the loss is -logsigmoid(chosen - rejected), low when "
                "the chosen answer scores higher",
    "no_minus": "the minus sign is missing: -logsigmoid(chosen - rejected) is a loss to minimise, "
                "logsigmoid itself is its negative",
    "summed": "the per-pair losses were summed, not averaged",
    "sigmoid": "the sigmoid itself, not its log: the loss is -logsigmoid(chosen - rejected)",
}


def reward_loss_mistakes() -> list[Mistake]:
    return [Mistake(REWARD_MISTAKES["reversed"], lambda c, r: F.softplus(c - r).mean()),
            Mistake(REWARD_MISTAKES["no_minus"], lambda c, r: -F.softplus(r - c).mean()),
            Mistake(REWARD_MISTAKES["summed"], lambda c, r: F.softplus(r - c).sum()),
            Mistake(REWARD_MISTAKES["sigmoid"], lambda c, r: -torch.sigmoid(c - r).mean())]


@pytest.mark.task(REWARD, category="values")
@given(case=pair_cases)
@example(case=PairCase((4,), 0))
@example(case=PairCase((2, 3), 5, 3.0))
@example(case=PairCase((2, 3), 6, 3.0, dtype=torch.float32))
def test_reward_loss_is_bradley_terry(candidate, device, case):
    """pairwise_reward_loss = mean(-logsigmoid(chosen_rewards - rejected_rewards))."""
    chosen, rejected = case.tensors(device)
    got = candidate.pairwise_reward_loss(chosen, rejected)
    assert_matches(got, reward_loss, chosen, rejected,
                   what=f"pairwise_reward_loss({case.describe()})",
                   mistakes=reward_loss_mistakes())


@pytest.mark.task(REWARD, category="properties")
@given(case=pair_cases)
def test_reward_loss_is_log_2_at_equal_rewards(candidate, device, case):
    """Equal rewards say nothing about the pair: the loss is log 2."""
    chosen, _ = case.tensors(device)
    call = f"pairwise_reward_loss(the same {case.shape} rewards twice)"
    value = scalar(candidate.pairwise_reward_loss(chosen, chosen.clone()), call)
    require(close(value, LOG2), f"{call} gave {value!r}; expected log 2 = {LOG2!r}: "
            "-logsigmoid(0) = log 2.")


@pytest.mark.task(REWARD, category="properties")
@given(case=pair_cases)
@example(case=PairCase((3,), 1, 40.0))
def test_swapping_the_pair_raises_the_loss_by_the_margin(candidate, device, case):
    """-logsigmoid(-m) = -logsigmoid(m) + m, so swapping chosen and rejected raises the loss by
    mean(chosen - rejected), exactly."""
    chosen, rejected = case.tensors(device)
    call = f"pairwise_reward_loss({case.describe()})"
    straight = scalar(candidate.pairwise_reward_loss(chosen, rejected), call)
    swapped = scalar(candidate.pairwise_reward_loss(rejected, chosen), call)
    margin = float((chosen - rejected).mean())
    require(math.isclose(swapped - straight, margin, rel_tol=1e-9,
                         abs_tol=1e-12 * max(1.0, abs(straight) + abs(swapped))), (
        f"{call} gave {straight!r}, and {swapped!r} with the arguments swapped: a difference of "
        f"{swapped - straight!r}, where -logsigmoid(-m) - (-logsigmoid(m)) = m makes it the mean "
        f"margin {margin!r}."))


@pytest.mark.task(REWARD, category="properties")
@pytest.mark.parametrize("margin", MARGINS)
def test_reward_loss_is_stable_at_large_margins(candidate, device, margin):
    """A margin of ±2000 gives a finite loss of about max(0, -margin)."""
    chosen = torch.tensor([margin, margin / 2], dtype=torch.float64, device=device)
    rejected = torch.zeros(2, dtype=torch.float64, device=device)
    call = f"pairwise_reward_loss(margins {margin:g} and {margin / 2:g})"
    value = scalar(candidate.pairwise_reward_loss(chosen, rejected), call)
    require(math.isfinite(value), (
        f"{call} gave {value!r}. sigmoid(x) rounds to 0 for a large negative x, and log(0) is "
        "-inf: use F.logsigmoid(x), which computes log(sigmoid(x)) without the round trip."))
    expected = float(reward_loss(chosen, rejected))
    require(math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-12),
            f"{call} gave {value!r}; expected {expected!r}.")


@pytest.mark.task(REWARD, category="grad")
@given(case=pair_cases)
@example(case=PairCase((4,), 0))
def test_reward_loss_gradient_is_the_closed_forms(candidate, device, case):
    """d loss / d chosen_i = -sigmoid(rejected_i - chosen_i) / N, the opposite for rejected_i."""
    chosen, rejected = (t.requires_grad_() for t in case.tensors(device))
    call = f"pairwise_reward_loss({case.describe()})"
    loss = candidate.pairwise_reward_loss(chosen, rejected)
    require(isinstance(loss, Tensor) and loss.requires_grad,
            f"{call} returned {kind(loss)} without a graph; the loss must stay differentiable.")
    grads = torch.autograd.grad(loss, [chosen, rejected], allow_unused=True)
    with torch.no_grad():
        pull = -torch.sigmoid(rejected - chosen) / chosen.numel()
    for name, grad, sign in (("chosen_rewards", grads[0], 1.0),
                             ("rejected_rewards", grads[1], -1.0)):
        require(grad is not None, f"{call}: no gradient reaches `{name}`.")
        assert_matches(grad, lambda s=sign: s * pull,
                       what=f"{call}: the gradient with respect to {name}")


# --- PPO's clipped objective -------------------------------------------------------------------


@dataclass(frozen=True)
class PPOCase:
    """Log-probabilities, the rollout's, and advantages; ratios spread across both clip edges
    (from 4 elements on, the first four lie past each edge with each sign of the advantage)."""

    shape: tuple[int, ...]
    seed: int
    clip_eps: float = 0.2
    dtype: torch.dtype = torch.float64  # float32 in one example: no dtype is the probe

    def tensors(self, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
        return tuple(t.to(self.dtype) for t in self.tensors64(device))  # type: ignore[return-value]

    def tensors64(self, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
        old = -randn(self.shape, self.seed, device=device).abs() - 0.5
        logprobs = old + randn(self.shape, self.seed + 1, device=device, scale=0.4)
        advantages = randn(self.shape, self.seed + 2, device=device)
        if old.numel() >= 4:  # one element past each clip edge, for each sign of the advantage
            ratios = torch.tensor([1.5, 0.5, 0.5, 1.5], dtype=torch.float64, device=device)
            signs = torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=torch.float64, device=device)
            logprobs.view(-1)[:4] = old.view(-1)[:4] + ratios.log()
            # magnitudes past 1 + eps too, so clipping the advantages shows
            advantages.view(-1)[:4] = signs * (1.5 + advantages.view(-1)[:4].abs())
        return logprobs, old, advantages

    def describe(self) -> str:
        dtype = "" if self.dtype == torch.float64 else f" ({self.dtype})"
        return (f"logprobs, old_logprobs and advantages of shape {self.shape}{dtype}, "
                f"clip_eps={self.clip_eps:g}")


ppo_cases = st.builds(PPOCase, shape=small_shapes(1, 2, max_side=6), seed=seeds(),
                      clip_eps=st.sampled_from([0.1, 0.2, 0.3]))


def ppo_objective(logprobs: Tensor, old_logprobs: Tensor, advantages: Tensor,
                  clip_eps: float = 0.2) -> Tensor:
    """The closed form, written per sign: a positive advantage caps the ratio at 1 + eps, a
    negative one floors it at 1 - eps."""
    ratio = torch.exp(logprobs - old_logprobs)
    capped = torch.where(advantages >= 0, ratio.clamp(max=1 + clip_eps),
                         ratio.clamp(min=1 - clip_eps))
    return (capped * advantages).mean()


PPO_MISTAKES = {
    "log_ratio": "the ratio was taken of the log-probabilities (logprobs / old_logprobs); the "
                 "probability ratio is exp(logprobs - old_logprobs)",
    "clip_advantages": "the advantages were clipped, not the ratio: clip(r, 1 - eps, 1 + eps) "
                       "* advantages",
    "max": "max instead of min: the objective takes the smaller (pessimistic) of the unclipped "
           "and the clipped term",
    "clipped_only": "the clipped term alone: without the min, the clip also acts on the side "
                    "where it must not (a ratio below 1 - eps with a positive advantage)",
    "unclipped_only": "the ratio was never clipped: mean(r * advantages) is the unclipped "
                      "surrogate",
    "negated": "the sign is flipped: ppo_clipped_objective is the objective to maximise, "
               "mean(min(...)); its negative is the loss a trainer minimises",
    "summed": "the terms were summed, not averaged",
}


def ppo_mistakes() -> list[Mistake]:
    def terms(lp, old, adv, eps):
        ratio = torch.exp(lp - old)
        return ratio * adv, ratio.clamp(1 - eps, 1 + eps) * adv

    return [
        Mistake(PPO_MISTAKES["log_ratio"], lambda lp, old, adv, clip_eps=0.2: torch.min(
            lp / old * adv, (lp / old).clamp(1 - clip_eps, 1 + clip_eps) * adv).mean()),
        Mistake(PPO_MISTAKES["clip_advantages"], lambda lp, old, adv, clip_eps=0.2: torch.min(
            torch.exp(lp - old) * adv,
            torch.exp(lp - old) * adv.clamp(1 - clip_eps, 1 + clip_eps)).mean()),
        Mistake(PPO_MISTAKES["max"], lambda lp, old, adv, clip_eps=0.2:
                torch.max(*terms(lp, old, adv, clip_eps)).mean()),
        Mistake(PPO_MISTAKES["clipped_only"], lambda lp, old, adv, clip_eps=0.2:
                terms(lp, old, adv, clip_eps)[1].mean()),
        Mistake(PPO_MISTAKES["unclipped_only"], lambda lp, old, adv, clip_eps=0.2:
                terms(lp, old, adv, clip_eps)[0].mean()),
        Mistake(PPO_MISTAKES["negated"], lambda lp, old, adv, clip_eps=0.2:
                -ppo_objective(lp, old, adv, clip_eps)),
        Mistake(PPO_MISTAKES["summed"], lambda lp, old, adv, clip_eps=0.2:
                ppo_objective(lp, old, adv, clip_eps) * adv.numel()),
    ]


@pytest.mark.task(PPO, category="values")
@given(case=ppo_cases)
@example(case=PPOCase((8,), 0))
@example(case=PPOCase((3, 4), 7, 0.1))
@example(case=PPOCase((8,), 3, 0.2, dtype=torch.float32))
def test_ppo_objective_is_the_clipped_surrogate(candidate, device, case):
    """mean(min(r * A, clip(r, 1 - eps, 1 + eps) * A)), r = exp(logprobs - old_logprobs)."""
    lp, old, adv = case.tensors(device)
    got = candidate.ppo_clipped_objective(lp, old, adv, clip_eps=case.clip_eps)
    assert_matches(got, ppo_objective, lp, old, adv, clip_eps=case.clip_eps,
                   what=f"ppo_clipped_objective({case.describe()})", mistakes=ppo_mistakes())


@pytest.mark.task(PPO, category="values")
def test_ppo_clip_eps_defaults_to_0_2(candidate, device):
    """Without clip_eps the objective clips at 0.2, the paper's (and everyone's) default."""
    lp, old, adv = PPOCase((8,), 0).tensors(device)
    call = "ppo_clipped_objective(logprobs, old_logprobs, advantages of shape (8,))"
    default = scalar(candidate.ppo_clipped_objective(lp, old, adv), call)
    explicit = scalar(candidate.ppo_clipped_objective(lp, old, adv, clip_eps=0.2), call)
    expected = float(ppo_objective(lp, old, adv, 0.2))
    if close(explicit, expected):
        require(close(default, expected), (
            f"{call} without clip_eps gave {default!r}, but {explicit!r} (right) with "
            "clip_eps=0.2: the default clip_eps is 0.2."))
    require(close(default, expected), f"{call} without clip_eps gave {default!r}; expected "
            f"{expected!r}.")


@pytest.mark.task(PPO, category="properties")
@given(case=ppo_cases)
def test_ppo_at_ratio_one_is_the_mean_advantage(candidate, device, case):
    """Before the policy moves (logprobs = old_logprobs, r = 1) the objective is mean(A)."""
    _, old, adv = case.tensors(device)
    call = f"ppo_clipped_objective(logprobs = old_logprobs, {case.describe()})"
    value = scalar(candidate.ppo_clipped_objective(old.clone(), old, adv,
                                                   clip_eps=case.clip_eps), call)
    expected = float(adv.mean())
    require(close(value, expected), (
        f"{call} gave {value!r}; expected mean(advantages) = {expected!r}: at r = exp(0) = 1 "
        "both terms are the advantages themselves."))


# One element per region: (ratio, advantage, the objective's term, what decides it).
REGIONS = (
    (1.5, 1.0, "capped at (1 + eps) * A: a positive advantage earns nothing past 1 + eps"),
    (0.5, 1.0, "r * A, unclipped: a positive advantage with a ratio below 1 - eps is not "
               "clipped (the min keeps the smaller, unclipped term)"),
    (0.5, -1.0, "floored at (1 - eps) * A: a negative advantage saves nothing below 1 - eps"),
    (1.5, -1.0, "r * A, unclipped: a negative advantage with a ratio above 1 + eps is not "
                "clipped (the min keeps the smaller, unclipped term)"),
    (1.05, 2.0, "r * A: inside the clip range nothing is clipped"),
    (0.97, -2.0, "r * A: inside the clip range nothing is clipped"),
)


@pytest.mark.task(PPO, category="properties")
@pytest.mark.parametrize("ratio, advantage, rule", REGIONS,
                         ids=["capped", "positive-below", "floored", "negative-above",
                              "inside-positive", "inside-negative"])
def test_ppo_clips_only_on_the_side_of_the_advantage(candidate, device, ratio, advantage, rule):
    """Element by element, the clip acts only where a step would pay off past the edge: above
    1 + eps for a positive advantage, below 1 - eps for a negative one."""
    eps = 0.2
    lp = torch.tensor([math.log(ratio)], dtype=torch.float64, device=device)
    old = torch.zeros(1, dtype=torch.float64, device=device)
    adv = torch.tensor([advantage], dtype=torch.float64, device=device)
    call = f"ppo_clipped_objective(one element, ratio {ratio:g}, advantage {advantage:g}, eps 0.2)"
    value = scalar(candidate.ppo_clipped_objective(lp, old, adv, clip_eps=eps), call)
    expected = float(ppo_objective(lp, old, adv, eps))
    require(close(value, expected), f"{call} gave {value!r}; expected {expected!r}, {rule}.")


@pytest.mark.task(PPO, category="properties")
def test_ppo_ratio_holds_at_very_negative_log_probabilities(candidate, device):
    """Summed sequence log-probabilities are large and negative: at -750 to -1000 (float64)
    exp(logprobs) is 0, yet the ratio exp(logprobs - old_logprobs) is still 1.1, 0.9, 1.5, 0.5."""
    old = torch.tensor([-800.0, -1000.0, -750.0, -900.0], dtype=torch.float64, device=device)
    ratios = torch.tensor([1.1, 0.9, 1.5, 0.5], dtype=torch.float64, device=device)
    lp = old + ratios.log()
    adv = torch.tensor([1.0, -1.0, 1.0, -1.0], dtype=torch.float64, device=device)
    call = ("ppo_clipped_objective(4 log-probabilities from -750 to -1000 (summed over a "
            "sequence), ratios 1.1, 0.9, 1.5, 0.5, advantages +1 and -1, clip_eps=0.2)")
    value = scalar(candidate.ppo_clipped_objective(lp, old, adv, clip_eps=0.2), call)
    expected = float(ppo_objective(lp, old, adv, 0.2))
    if close(value, expected):
        return
    message = f"{call} gave {value!r}; expected {expected!r}."
    if not math.isfinite(value):
        message += (" Likely mistake: the ratio was computed as exp(logprobs) / exp(old_logprobs):"
                    " both underflow to 0 and 0 / 0 is nan; compute exp(logprobs - old_logprobs).")
    raise AssertionError(message)


@pytest.mark.task(PPO, category="grad")
@given(case=ppo_cases)
@example(case=PPOCase((8,), 0))
def test_ppo_gradient_is_the_closed_forms(candidate, device, case):
    """d objective / d logprobs_i = r_i * A_i / N where the unclipped term is the minimum, 0
    where the clip holds the term."""
    lp, old, adv = case.tensors(device)
    ratio = torch.exp(lp - old)
    at_edge = ((ratio - (1 + case.clip_eps)).abs() < 1e-9) | \
        ((ratio - (1 - case.clip_eps)).abs() < 1e-9)
    lp = torch.where(at_edge, lp + 1e-3, lp).requires_grad_()  # no ratio on a kink
    call = f"ppo_clipped_objective({case.describe()})"
    objective = candidate.ppo_clipped_objective(lp, old, adv, clip_eps=case.clip_eps)
    require(isinstance(objective, Tensor) and objective.requires_grad,
            f"{call} returned {kind(objective)} without a graph; gradients must reach logprobs.")
    (grad,) = torch.autograd.grad(objective, [lp], allow_unused=True)
    require(grad is not None, f"{call}: no gradient reaches `logprobs`.")
    with torch.no_grad():
        r = torch.exp(lp - old)
        clipped = torch.where(adv >= 0, r > 1 + case.clip_eps, r < 1 - case.clip_eps)
        expected = torch.where(clipped, torch.zeros_like(r), r * adv) / r.numel()
    assert_matches(grad, lambda: expected,
                   what=f"{call}: the gradient with respect to logprobs (0 where clipped)")


@pytest.mark.task(PPO, category="grad")
@given(case=ppo_cases)
def test_ppo_gradient_matches_the_reference(candidate, reference, device, case):
    """The gradient a random upstream pulls back to logprobs is the reference's."""
    lp, old, adv = case.tensors(device)
    assert_grads_match(
        lambda x: candidate.ppo_clipped_objective(x, old, adv, clip_eps=case.clip_eps),
        lambda x: reference.ppo_clipped_objective(x, old, adv, clip_eps=case.clip_eps), lp,
        what=f"ppo_clipped_objective({case.describe()})")
